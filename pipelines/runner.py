"""Run every asset for every date found in the raw folder, in-process, and report what happened."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from pipelines.coverage import record_no_input
from pipelines.erasure import stale_periods
from pipelines.ingest.raw_lines import DEFAULT_MAX_LINE_BYTES
from pipelines.ingest.routing import dates_found, index_source
from pipelines.ingest.sources import SOURCES
from pipelines.partitions import FIRST_DATE
from pipelines.periods import is_week, iso_weeks, partition_key, period_end, period_label
from pipelines.releases import CORRECTION_TAG, corrections_due


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
        raise NothingToRun(f"no raw lines between {start} and {end} (dates found: {found})")
    return selected


def found_dates(raw_dir: Path, out_dir: Path) -> list[str]:
    """Every UTC date that a line of the raw folder falls on."""
    if not raw_dir.is_dir():
        raise NothingToRun(
            f"raw folder {raw_dir} does not exist: generate a sample with "
            f"`python -m pipelines generate --out {raw_dir}` or pass --raw"
        )
    found: set[str] = set()
    for source in SOURCES.values():
        found.update(dates_found(index_source(source, raw_dir, out_dir, DEFAULT_MAX_LINE_BYTES)))
    if not found:
        raise NothingToRun(
            f"no events/*.jsonl[.gz] or access/*.log[.gz] under {raw_dir} "
            "(see docs/input-formats.md)"
        )
    early = sorted(d for d in found if d < FIRST_DATE)
    if early:
        raise NothingToRun(
            f"{len(early)} date(s) before the first partition {FIRST_DATE} (earliest {early[0]}): "
            "set PIPELINES_FIRST_DATE to an earlier date"
        )
    return sorted(found)


def record_days_without_input(
    out_dir: Path, found: set[str], periods: list[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """Record the days of the given periods that lie outside the raw folder's span as having
    no input; return (days recorded, gaps).

    `periods` are (`month` or `week`, partition key). A day before the first or after the last
    dated raw line (a month the logs begin or end in) has no input. A day with no line *inside*
    the span is a gap: a lost file looks the same, so it is not recorded, and its periods stay
    unreleased until it is materialized (which records it, empty or not).
    """
    recorded, gaps = set(), set()
    first, last = (min(found), max(found)) if found else ("", "")
    for period, key in periods:
        start = date.fromisoformat(key)
        end = period_end(period, start)
        day = start
        while day < end:
            label = day.isoformat()
            if label not in found:
                if first < label < last:
                    gaps.add(label)
                elif record_no_input(
                    out_dir, label, "pipelines run: before or after every raw line"
                ):
                    recorded.add(label)
            day += timedelta(days=1)
    return sorted(recorded), sorted(gaps)


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


class _Tally:
    """Rows and failures collected over the runs of one `python -m pipelines run`."""

    def __init__(self) -> None:
        self.totals: dict[str, list] = {}
        self.failures: list[str] = []

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


def run_pipeline(raw_dir: Path, out_dir: Path, start: date | None, end: date | None) -> int:
    """Materialize bronze and silver per day, gold per closed month, then the warehouse.

    Prints a summary and returns a process exit code (non-zero when anything failed).
    """
    from assets.erasure import ERASURE_KEY
    from assets.gold import GOLD_TABLE_ASSETS, WEEKLY_GOLD_TABLE_ASSETS, warehouse
    from pipelines.definitions import ALL_ASSETS, RECIPIENTS
    from pipelines.partitions import monthly_partitions, weekly_partitions
    from pipelines.resources import default_resources

    try:
        found = found_dates(raw_dir, out_dir)
        dates = select_dates(found, start, end)
    except NothingToRun as exc:
        print(f"error: {exc}")
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

    resources = default_resources(raw_dir, out_dir)
    instance = _instance()
    tally = _Tally()

    def run(label: str, partition: str | None, selection: list, tags: dict | None = None) -> None:
        if label in ("warehouse", "exports", "weekly exports") and tally.failures:
            print(f"  {partition or label}: {label} not run, because of the failures below")
            return
        result = dg.materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=partition,
            resources=resources,
            instance=instance,
            raise_on_error=False,
            tags={"launched_by": "python -m pipelines run", **(tags or {})},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        shown = label
        if label in ("gold", "exports"):
            shown = f"{partition[:7]} {label}"
        elif label in ("weekly gold", "weekly exports"):
            shown = f"week of {partition} {label.removeprefix('weekly ')}"
        print(f"  {shown}: {'ok' if result.success else 'FAILED'}", flush=True)
        tally.add(shown, result)

    print(f"running {len(ALL_ASSETS)} assets for {len(dates)} day(s): {dates[0]} .. {dates[-1]}")
    for day in dates:
        run(day, day, daily)
    run("erasure", None, [ERASURE_KEY])
    stale = stale_periods(out_dir)
    stale_months = {partition_key(label) for label in stale if not is_week(label)}
    stale_weeks = {partition_key(label) for label in stale if is_week(label)}
    gold_months = [m for m in sorted(set(months) | stale_months) if m in closed_months]
    gold_weeks = [w for w in sorted(set(weeks) | stale_weeks) if w in closed_weeks]
    touching = sorted({w for m in gold_months for w in weeks_touching(m)})
    empty, gaps = record_days_without_input(
        out_dir,
        set(found),
        [("month", m) for m in gold_months]
        + [("week", w) for w in sorted(set(gold_weeks) | set(touching))],
    )
    if empty:
        print(
            f"  recorded as having no input (before or after every raw line): {len(empty)} "
            f"day(s), {empty[0]} .. {empty[-1]}"
        )
    for gap in gaps:
        print(
            f"  {gap}: no raw line, although the logs run on before and after it: a lost file? "
            "Its month and week stay unreleased until the day is materialized "
            f"(`dagster asset materialize ... --partition {gap}` records it, empty or not)."
        )
    for month in gold_months:
        run("gold", month, gold)
    for week in gold_weeks:
        run("weekly gold", week, weekly_gold)
    for month in (m for m in gold_months if exports):
        run("exports", month, exports)
    for week in (w for w in gold_weeks if weekly_exports):
        run("weekly exports", week, weekly_exports)
    # The scheduled corrections that are due (what release_corrections_sensor does in Dagster):
    # chosen by the calendar only, whatever this run was started for.
    after = resources["sharing"].policy().release.correction_after_days
    for label in corrections_due(out_dir, after, datetime.now(UTC)):
        key, selection = partition_key(label), weekly_exports if is_week(label) else exports
        if selection and (key in closed_weeks or key in closed_months):
            run("exports" if not is_week(label) else "weekly exports", key, selection,
                {CORRECTION_TAG: "due"})  # fmt: skip
    if gold_months or gold_weeks:
        run("warehouse", None, [warehouse.key])
    _print_summary(tally.totals, out_dir)
    if tally.failures:
        print("\nFAILED:")
        for failure in tally.failures:
            print(f"  {failure}")
        return 1
    return 0


def _int(value: object) -> int:
    return int(getattr(value, "value", value) or 0)


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            messages.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
    return messages or ["run failed"]


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
        print(f"  {'warehouse':<12} {out_dir / 'warehouse.duckdb'}  (duckdb it, then: SHOW TABLES)")
