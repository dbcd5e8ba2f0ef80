"""Run every asset for every date found in the raw folder, in-process, and report what happened."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from assets.partitions import FIRST_DATE
from lakehouse.coverage import (
    Coverage,
    expected_sources,
    is_quiet,
    lateness,
    period_coverage,
    quiet_days_that_grew,
    record_no_input,
)
from lakehouse.erasure import stale_periods
from lakehouse.intake import (
    DayPlan,
    Inventory,
    accept_rotated,
    lines_on,
    plan_days,
    quarantine_outside,
    raw_file_count,
    take_inventory,
)
from lakehouse.locks import run_lock
from lakehouse.periods import is_week, iso_weeks, partition_key, period_end, period_label
from lakehouse.releases import CORRECTION_TAG, corrections_due
from lakehouse.storage import make_dirs
from pipelines.errors import EXIT_WAITING
from pipelines.signals import Interrupted, StopSignals

if TYPE_CHECKING:
    from pipelines.progress import RunProgress


class NothingToRun(ValueError):
    """The raw folder holds no file of the input contract, or none in the requested range."""


def partition_dates(
    raw_dir: Path, out_dir: Path, start: date | None = None, end: date | None = None
) -> list[str]:
    """Every UTC date that a raw line falls on, limited to [start, end] when given."""
    return select_dates(found_dates(raw_dir, out_dir), start, end)


def select_dates(found: list[str], start: date | None, end: date | None) -> list[str]:
    """The dates of `found` in [start, end]; NothingToRun when none is."""
    selected = [
        d
        for d in found
        if (start is None or d >= start.isoformat()) and (end is None or d <= end.isoformat())
    ]
    if not selected:
        raise NothingToRun(f"no closed day with raw lines between {start} and {end}")
    return selected


def _check_raw_folder(raw_dir: Path) -> None:
    if not raw_dir.is_dir():
        raise NothingToRun(
            f"raw folder {raw_dir} does not exist: generate a sample with "
            f"`python -m pipelines generate --out {raw_dir}` or pass --raw"
        )


def _inventory(
    raw_dir: Path, out_dir: Path, refused_count: bool, progress: RunProgress | None = None
) -> Inventory:
    """The raw folder's inventory; NothingToRun when it holds no file of the input contract
    (a refused file counts as one when `refused_count`: the run then records why)."""
    _check_raw_folder(raw_dir)
    on_indexed = None
    if progress is not None:
        progress.add(_INDEXING, raw_file_count(raw_dir))
        on_indexed = progress.advancer(_INDEXING)
    inventory = take_inventory(raw_dir, out_dir, on_indexed)
    if not inventory.found and not (refused_count and inventory.refused):
        raise NothingToRun(
            f"no events/*.jsonl[.gz] or access/*.log[.gz] under {raw_dir} "
            "(see docs/input-formats.md)"
        )
    return inventory


def found_dates(raw_dir: Path, out_dir: Path) -> list[str]:
    """Every UTC date that a line of the raw folder falls on."""
    return _inventory(raw_dir, out_dir, refused_count=False).found


def days_in(spans: list[tuple[date, date]]) -> list[str]:
    """Every day of the [first, end) spans, once each, in order."""
    return sorted(
        {
            (first + timedelta(days=n)).isoformat()
            for first, end in spans
            for n in range((end - first).days)
        }
    )


def settle_empty_days(out_dir: Path, found: set[str], spans: list[tuple[date, date]]) -> list[str]:
    """Record the silver of every day in `spans` that no raw line falls on and that the
    operator recorded as quiet as built empty; returns those days, so the caller can show them
    in Dagster as materialized, with why.

    A day no source has closed is left alone: silence is not completeness, and its period stays
    unpublished until the logs arrive or the operator records it (lakehouse/coverage.py).
    """
    settled = set()
    for label in days_in(spans):
        if (
            label not in found
            and is_quiet(out_dir, label)
            and record_no_input(out_dir, label, "pipelines run: recorded quiet by the operator")
        ):
            settled.add(label)
    return sorted(settled)


def _report_empty_days(instance: dg.DagsterInstance, days: list[str], daily: list) -> None:
    """Show each settled empty day as materialized, with why, instead of "Missing"."""
    for day in days:
        for key in daily:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=key,
                    partition=day,
                    description="No raw line on this day; it was recorded quiet, so it counts "
                    "as complete with no input.",
                    metadata={"input_lines": 0, "dagster/row_count": 0, "complete": True},
                )
            )


def _state_storage_of(instance: dg.DagsterInstance):
    """Load definitions against this run's instance.

    Dagster 1.13 keeps "the current definitions state storage" in a process-wide context
    variable that an instance sets when entered and never resets on exit; a run in a process
    where an earlier instance is gone would fail with "undefined DagsterInstance weakref".
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    return set_defs_state_storage(instance.defs_state_storage)


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


class _Tally:
    """Rows and failures collected over the runs of one `python -m pipelines run`."""

    def __init__(self) -> None:
        self.totals: dict[str, list] = {}
        self.failures: list[str] = []
        self.held: list[str] = []

    def add(self, label: str, result: dg.ExecuteInProcessResult) -> None:
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            meta = materialization.metadata
            row = self.totals.setdefault(
                materialization.asset_key.to_user_string(), [None, 0, None]
            )
            if "lines_read" in meta:
                row[0] = (row[0] or 0) + _int(meta["lines_read"])
                row[2] = (row[2] or 0) + _int(meta.get("rows_quarantined"))
            row[1] += _int(meta.get("dagster/row_count"))
        if not result.success:
            self.failures.extend(f"{label}: {message}" for message in _failure_messages(result))
        for check in result.get_asset_check_evaluations():
            if not check.passed:
                asset = check.asset_key.to_user_string()
                why = check.description or ""
                self.failures.append(
                    f"{label}: check {check.check_name} on {asset} failed"
                    + (f": {why}" if why else "")
                )


def weeks_touching(month: str) -> list[str]:
    """Partition keys of the ISO weeks that hold a day of the month (`2026-10-01`): a release
    drawn by week reads every day of them."""
    start = date.fromisoformat(month)
    return [monday.isoformat() for monday in iso_weeks(start, period_end("month", start))]


@dataclass(frozen=True)
class RunOptions:
    """How `python -m pipelines run` behaves beyond its date range."""

    wait_seconds: float = 0.0
    accept_rotated: tuple[str, ...] = ()
    today: date | None = None
    # Where the progress bars go (default: stderr, when it is a terminal); a test passes its own.
    console: object | None = None


def check_configuration() -> None:
    """Keys, policies and recipients, checked before anything is read or written: a
    ConfigurationError (exit 78) names the first problem and the fix, and no folder, lock or
    bronze file (personal data) exists because of a run that could not have finished."""
    from pipelines.definitions import RECIPIENTS
    from pipelines.resources import default_resources, pseudonym_key_from_env, signing_key_from_env

    default_resources()
    pseudonym_key_from_env()
    if RECIPIENTS:
        signing_key_from_env()
    for source in expected_sources():
        lateness(source)


def run_pipeline(
    raw_dir: Path,
    out_dir: Path,
    start: date | None,
    end: date | None,
    options: RunOptions | None = None,
) -> int:
    """Materialize bronze and silver per closed day, gold per closed month, then the warehouse.

    One run per output folder at a time (a run lock). SIGINT or SIGTERM stops it after the
    step under way fails, before anything later is published, and gives exit code 130 or 143.
    Prints a summary and returns a process exit code (non-zero when anything failed).
    """
    from pipelines.progress import RunProgress

    options = options or RunOptions()
    check_configuration()
    make_dirs(out_dir, private=False)
    with run_lock(out_dir, options.wait_seconds), StopSignals() as signals:
        try:
            with RunProgress(options.console) as progress:
                return _run_locked(raw_dir, out_dir, start, end, options, signals, progress)
        except Interrupted as stop:
            where = stop.where or "the run"
            print(f"\ninterrupted by {stop.name}: {where} stopped, nothing after it ran")
            return stop.exit_code


def _run_locked(
    raw_dir: Path,
    out_dir: Path,
    start: date | None,
    end: date | None,
    options: RunOptions,
    signals: StopSignals,
    progress: RunProgress,
) -> int:
    from assets.erasure import ERASURE_KEY
    from assets.gold import GOLD_TABLE_ASSETS, WEEKLY_GOLD_TABLE_ASSETS, warehouse
    from assets.partitions import monthly_partitions, weekly_partitions
    from pipelines.definitions import ALL_ASSETS, RECIPIENTS
    from pipelines.jobs import JOBS, without_retries
    from pipelines.resources import default_resources, pseudonym_key_from_env

    resources = default_resources(raw_dir, out_dir)
    unknown = accept_rotated(out_dir, list(options.accept_rotated))
    if unknown:
        print(
            f"error: --accept-rotated names no indexed raw file: {', '.join(unknown)}",
            file=sys.stderr,
        )
        return 2
    try:
        inventory = _inventory(raw_dir, out_dir, refused_count=True, progress=progress)
        plan = plan_days(inventory, options.today or datetime.now(UTC).date(), FIRST_DATE)
        _report_intake(inventory, plan)
        quarantined = quarantine_outside(raw_dir, out_dir, inventory, plan, pseudonym_key_from_env)
        _report_quarantined(quarantined)
        found = [d for d in inventory.found if d in set(plan.closed) | set(plan.held)]
        if plan.closed or start or end:
            dates = select_dates(plan.closed, start, end)
        else:
            print("  no closed day to ingest: erasure, gold of stale periods and corrections only")
            dates = []
    except NothingToRun as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    daily = [a.key for a in ALL_ASSETS if a.key.path[0] in ("bronze", "silver")]
    gold = [a.key for a in GOLD_TABLE_ASSETS]
    weekly_gold = [a.key for a in WEEKLY_GOLD_TABLE_ASSETS]
    exports = [
        dg.AssetKey([layer, r.name])
        for r in RECIPIENTS
        if r.cadence == "monthly"
        for layer in ("releases", "exports")
    ]
    weekly_exports = [
        dg.AssetKey([layer, r.name])
        for r in RECIPIENTS
        if r.cadence == "weekly"
        for layer in ("releases", "exports")
    ]
    closed_months = set(monthly_partitions.get_partition_keys())
    closed_weeks = set(weekly_partitions.get_partition_keys())
    months = sorted({d[:8] + "01" for d in dates})
    weeks = sorted({partition_key(period_label("week", date.fromisoformat(d))) for d in dates})
    for month in sorted(set(months) - closed_months):
        print(f"  {month[:7]}: month not closed yet, gold skipped")

    instance = _instance()
    tally = _Tally()
    tally.held = sorted({why for reasons in plan.held.values() for why in reasons})
    definitions = dg.Definitions(assets=ALL_ASSETS, jobs=without_retries(JOBS), resources=resources)
    job_of = {
        "erasure": "erasure_job",
        "gold": "gold_job",
        "weekly gold": "weekly_gold_job",
        "exports": "release_job",
        "weekly exports": "weekly_release_job",
        "warehouse": "warehouse_job",
    }

    def run(label: str, partition: str | None, selection: list, tags: dict | None = None) -> None:
        if label in ("warehouse", "exports", "weekly exports") and tally.failures:
            shown = f"week of {partition}" if label == "weekly exports" else partition or label
            print(f"  {shown}: {label} not run, because of the failures below")
            return
        signals.where = label if partition in (None, label) else f"{label} {partition}"
        try:
            with _state_storage_of(instance):
                job = definitions.resolve_job_def(job_of.get(label, "ingest_job"))
                result = job.execute_in_process(
                    asset_selection=selection,
                    partition_key=partition,
                    instance=instance,
                    raise_on_error=False,
                    tags={"launched_by": "python -m pipelines run", **(tags or {})},
                    run_config={"loggers": {"console": {"config": {"log_level": _CONSOLE_LEVEL}}}},
                )
        except dg.DagsterExecutionInterruptedError:
            signals.check()
            raise
        signals.check()
        progress.advance(_STAGES.get(label, _DAYS))
        shown = label
        if label in ("gold", "exports"):
            shown = f"{partition[:7]} {label}"
        elif label in ("weekly gold", "weekly exports"):
            shown = f"week of {partition} {label.removeprefix('weekly ')}"
        print(f"  {shown}: {'ok' if result.success else 'FAILED'}", flush=True)
        tally.add(shown, result)

    if dates:
        print(
            f"running {len(ALL_ASSETS)} assets for {len(dates)} day(s): {dates[0]} .. {dates[-1]}"
        )
        progress.add(_DAYS, len(dates))
    for day in dates:
        run(day, day, daily)
    run("erasure", None, [ERASURE_KEY])
    stale = stale_periods(out_dir)
    stale_months = {partition_key(label) for label in stale if not is_week(label)}
    stale_weeks = {partition_key(label) for label in stale if is_week(label)}
    gold_months = [m for m in sorted(set(months) | stale_months) if m in closed_months]
    gold_weeks = [w for w in sorted(set(weeks) | stale_weeks) if w in closed_weeks]
    touching = sorted({w for m in gold_months for w in weeks_touching(m)})
    spans = [_span("month", m) for m in gold_months]
    spans += [_span("week", w) for w in sorted(set(gold_weeks) | set(touching))]
    empty = settle_empty_days(out_dir, set(found), spans)
    if empty:
        _report_empty_days(instance, empty, daily)
        print(
            f"  recorded quiet by the operator, so complete with no input: {len(empty)} "
            f"day(s), {empty[0]} .. {empty[-1]}"
        )
    attempted = set(dates)
    _report_quiet_days_that_grew(out_dir, spans)
    held_months = _unsettled("month", gold_months, out_dir, attempted)
    held_weeks = _unsettled("week", gold_weeks, out_dir, attempted)
    quietly = sorted(set(touching) - set(gold_weeks))
    unsettled_weeks = {
        **held_weeks,
        **_unsettled("week", quietly, out_dir, attempted, report=False),
    }
    held_exports = {
        m
        for m in gold_months
        if m in held_months or any(w in unsettled_weeks for w in weeks_touching(m))
    }
    gold_months = [m for m in gold_months if m not in held_months]
    gold_weeks = [w for w in gold_weeks if w not in held_weeks]
    export_months = [m for m in gold_months if m not in held_exports]
    for month in sorted(held_exports - set(held_months)):
        weeks_held = [w for w in weeks_touching(month) if w in unsettled_weeks]
        print(
            f"  {month[:7]}: gold built, releases held: the weekly draws they are cut from need "
            f"every day of the weeks of {', '.join(weeks_held)}: "
            + "; ".join(unsettled_weeks[w].explain() for w in weeks_held)
        )
    if gold_months or gold_weeks:
        progress.add(_GOLD, len(gold_months) + len(gold_weeks))
    if (export_months and exports) or (gold_weeks and weekly_exports):
        progress.add(
            _EXPORTS, len(export_months) * bool(exports) + len(gold_weeks) * bool(weekly_exports)
        )
    for month in gold_months:
        run("gold", month, gold)
    for week in gold_weeks:
        run("weekly gold", week, weekly_gold)
    for month in (m for m in export_months if exports):
        run("exports", month, exports)
    for week in (w for w in gold_weeks if weekly_exports):
        run("weekly exports", week, weekly_exports)
    # The scheduled corrections that are due (what release_corrections_sensor does in Dagster):
    # chosen by the calendar only, whatever this run was started for.
    after = resources["sharing"].policy().release.correction_after_days
    corrections = []
    for label in corrections_due(out_dir, after, datetime.now(UTC)):
        key, selection = partition_key(label), weekly_exports if is_week(label) else exports
        if selection and (key in closed_weeks or key in closed_months):
            corrections.append((label, key, selection))
    if corrections:
        progress.add(_EXPORTS, len(corrections))
    for label, key, selection in corrections:
        run("exports" if not is_week(label) else "weekly exports", key, selection,
            {CORRECTION_TAG: "due"})  # fmt: skip
    if gold_months or gold_weeks:
        progress.add(_WAREHOUSE, 1)
        run("warehouse", None, [warehouse.key])
    _print_summary(tally.totals, out_dir)
    if tally.failures:
        print("\nFAILED:")
        for failure in tally.failures:
            print(f"  {failure}")
        return 1
    if tally.held:
        print("\nHELD (bronze kept as it was; nothing else failed):")
        for why in tally.held:
            print(f"  {why}")
        return 1
    if held_months or held_weeks or held_exports:
        print(
            f"\nWAITING: {len(held_months) + len(held_weeks)} period(s) not published, because "
            "days in them are waiting for input or suspect (named above); everything else ran"
        )
        return EXIT_WAITING
    return 0


def _report_quiet_days_that_grew(out_dir: Path, spans: list[tuple[date, date]]) -> None:
    """Name each day recorded quiet that has received lines since: its periods are rebuilt
    from them, and what was delivered is corrected only on the release schedule."""
    for day, record, lines in quiet_days_that_grew(out_dir, days_in(spans)):
        print(
            f"  {day}: recorded quiet by {record.get('recorded_by')} ({record.get('reason')!r}) "
            f"with {record['lines_when_recorded']:,} line(s), but it has {lines:,} now: gold is "
            "rebuilt from them; packages delivered before get them in their scheduled correction"
        )


def _span(period: str, key: str) -> tuple[date, date]:
    start = date.fromisoformat(key)
    return start, period_end(period, start)


def _unsettled(
    period: str, keys: list[str], out_dir: Path, attempted: set[str], report: bool = True
) -> dict[str, Coverage]:
    """The periods with a day waiting for input, suspect, or not built and not part of this
    run, each named in one line with the fix (when `report`). A period whose only missing days
    failed in this run is left to its gold check, which fails and says why."""
    held = {}
    for key in keys:
        coverage = period_coverage(out_dir, *_span(period, key))
        unbuilt = [day for day in coverage.missing if day not in attempted]
        if coverage.waiting or coverage.suspect or unbuilt:
            held[key] = coverage
            name = key[:7] if period == "month" else f"week of {key}"
            if report:
                print(f"  {name}: held, not published or rebuilt: {coverage.explain()}")
    return held


def _report_intake(inventory: Inventory, plan: DayPlan) -> None:
    for day in plan.waiting:
        print(
            f"  {day}: {lines_on(inventory, day):,} line(s) wait for the day to close (UTC); "
            "a later run takes them"
        )
    for day, why in sorted(plan.held.items()):
        for reason in why:
            print(f"  {day}: held, {reason.split(': ', 1)[1]}")
    for relative, why in inventory.refused:
        print(f"  {relative}: refused, {why}")


def _report_quarantined(counts: dict[str, int]) -> None:
    if counts:
        listed = ", ".join(f"{code} x{n:,}" for code, n in sorted(counts.items()))
        print(f"  quarantined outside the daily partitions: {listed}")


_CONSOLE_LEVEL = "CRITICAL"

# The progress bars: one per stage, each run() label counted in its stage's bar.
_INDEXING, _DAYS, _GOLD = "indexing raw files", "days (bronze+silver)", "gold periods"
_EXPORTS, _WAREHOUSE = "releases and exports", "warehouse"
_STAGES = {
    "gold": _GOLD,
    "weekly gold": _GOLD,
    "exports": _EXPORTS,
    "weekly exports": _EXPORTS,
    "warehouse": _WAREHOUSE,
    "erasure": "erasure",
}


def _int(value: object) -> int:
    return int(getattr(value, "value", value) or 0)


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            messages.append(f"{event.step_key}: {_root_cause(event.step_failure_data.error)}")
    return messages or ["run failed"]


def _root_cause(error: object) -> str:
    """The first line of the innermost error: what went wrong, not Dagster's wrapper."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    text = (getattr(error, "message", "") or "").strip()
    return text.splitlines()[0] if text else "failed"


def _print_summary(totals: dict[str, list], out_dir: Path) -> None:
    def cell(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    print(f"\n{'asset':<36}{'lines in':>12}{'rows':>12}{'quarantined':>13}")
    for name, (lines, rows, rejected) in sorted(totals.items()):
        print(f"{name:<36}{cell(lines):>12}{cell(rows):>12}{cell(rejected):>13}")
    print("\noutputs:")
    for layer in ("bronze", "quarantine", "silver", "gold"):
        if (out_dir / layer).exists():
            print(f"  {layer + '/':<12} {out_dir / layer}")
    if (out_dir / "releases").exists():
        ledger = out_dir / "audit" / "privacy_budget.jsonl"
        print(f"  {'releases/':<12} {out_dir / 'releases'}  (privacy budget ledger: {ledger})")
    if (out_dir / "exports").exists():
        audit = out_dir / "audit" / "exports.jsonl"
        print(f"  {'exports/':<12} {out_dir / 'exports'}  (audit trail: {audit})")
    if (out_dir / "warehouse.duckdb").exists():
        print(
            f"  {'warehouse':<12} {out_dir / 'warehouse.duckdb'}  (.venv/bin/python, then "
            "duckdb.connect(path, read_only=True).sql('SHOW TABLES'))"
        )
