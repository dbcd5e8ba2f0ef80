"""How a release is built: exact contributions from silver, OpenDP noise, checks, charge, store.

Kept apart from assets/releases.py (the Dagster assets) and lakehouse/released_datasets.py (each
dataset's own definition); the mechanism is deidentify/dp.py, the accounting
deidentify/budget.py, the files lakehouse/releases.py.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from deidentify.budget import Charge, DrawCost, PrivacyAccountant, months_of
from deidentify.dp import NoiseSource, zcdp_to_epsilon
from deidentify.release_build import (
    DatasetRelease,
    dataset_dimensions,
    exact_dataset,
    period_days,
    release_dataset,
    release_schema,
    to_arrow,
)
from deidentify.sharing_policy import SharingPolicy
from deidentify.vocabularies import missing_label, outside_vocabulary
from lakehouse.gold_build import (
    PeriodInputs,
    identifier_scan,
    month_inputs,
    open_period,
    run_period_sql,
    silver_schemas,
)
from lakehouse.locks import release_lock
from lakehouse.packaging import discard
from lakehouse.periods import is_week, iso_weeks, partition_key, period_end, period_label
from lakehouse.reconciliation import exact_values, write_exact
from lakehouse.released_datasets import RELEASED_DATASETS
from lakehouse.releases import (
    StoredDraw,
    StoredRelease,
    budget_ledger,
    commit,
    latest_draw,
    latest_release,
    stage_draw,
    stage_release,
)


def period_column(period: str) -> str:
    """The period column of a released table: `month` or `week`."""
    return "week" if period == "week" else "month"


def dataset_schema(name: str, policy: SharingPolicy, period: str) -> pa.Schema:
    """The documented schema of a released dataset."""
    dims = dataset_dimensions(policy.release.datasets[name])
    return release_schema(period_column(period), dims, RELEASED_DATASETS[name].measures)


def contributions(
    names: list[str], inputs: PeriodInputs, exclude_opted_out: bool
) -> dict[str, pd.DataFrame]:
    """One row per person and finest cell of each dataset, exact, from the period's silver."""
    con = open_period(inputs, silver_schemas(), exclude_opted_out)
    try:
        return {name: run_period_sql(con, RELEASED_DATASETS[name].sql, inputs) for name in names}
    finally:
        con.close()


@dataclass
class ReleaseOutcome:
    """What building a recipient's release of a period did."""

    release: StoredRelease
    drawn: dict[str, DatasetRelease]


def draw_release(
    names: list[str],
    exact: dict[str, pd.DataFrame],
    policy: SharingPolicy,
    period: str,
    label: str,
    start: date,
    end: date,
    noise: NoiseSource | None = None,
) -> tuple[dict[str, pa.Table], dict[str, DatasetRelease]]:
    """Every named dataset noised by OpenDP, as documented Arrow tables."""
    days = period_days(start, end)
    salt = secrets.token_bytes(16)
    tables, released = {}, {}
    for name in names:
        dataset = RELEASED_DATASETS[name]
        result = release_dataset(
            exact[name],
            policy.release.datasets[name],
            dataset.measures,
            policy.release,
            days,
            noise,
            salt,
            policy.release.period_scale[period],
        )
        released[name] = result
        tables[name] = to_arrow(
            result.rows, period_column(period), label, dataset_schema(name, policy, period)
        )
    return tables, released


def needs_draw(
    draw: StoredDraw | None, correction_after_days: int, now: datetime, corrections: bool
) -> bool:
    """Whether a dataset's period must be drawn now: never drawn, or its one correction is due.

    The correction is due `correction_after_days` after the first draw, whatever the data, and
    is drawn only in a run the calendar started (`corrections`): when it happens depends on
    the calendar, never on anybody's data.
    """
    if draw is None:
        return True
    if draw.version > 1 or not corrections:
        return False
    drawn_at = datetime.fromisoformat(draw.record["drawn_at"])
    return now - drawn_at >= timedelta(days=correction_after_days)


def _one_release_at_a_time(build):
    """Hold the release lock around `build(out_dir, ...)`: two steps never draw the same dataset."""

    @functools.wraps(build)
    def locked(out_dir, *args, **kwargs):
        with release_lock(out_dir):
            return build(out_dir, *args, **kwargs)

    return locked


@_one_release_at_a_time
def build_release(
    out_dir,
    recipient: str,
    recipient_class: str,
    names: list[str],
    policy: SharingPolicy,
    period: str,
    label: str,
    start: date,
    end: date,
    checks,
    noise: NoiseSource | None = None,
    now: datetime | None = None,
    corrections: bool = False,
) -> ReleaseOutcome:
    """The recipient's release of the period, made of each dataset's shared draw.

    A dataset of the period is drawn when it never was, or when its one scheduled correction
    is due and the run may draw corrections (`corrections`); otherwise the stored draw is
    re-used and no fresh noise is drawn. `checks(tables)` returns the names of failed checks
    on the new draws; any failure discards them before anything is charged. The release is
    charged for every draw it delivers that its recipient (or class, or all recipients
    together) has not paid for yet. One release is built at a time (the release lock), so two
    recipients never draw the same dataset twice.
    """
    now = now or datetime.now(UTC)
    rules = policy.release
    units = {
        name: draw_units(policy.release.datasets[name], period, label, start, end) for name in names
    }
    keys = [(name, unit) for name in names for unit in units[name]]
    current = {(name, unit): latest_draw(out_dir, name, unit.label) for name, unit in keys}
    due = [
        key
        for key in keys
        if needs_draw(current[key], rules.correction_after_days, now, corrections)
    ]
    tables: dict[tuple, pa.Table] = {}
    drawn: dict[tuple, DatasetRelease] = {}
    exact_of: dict[tuple, tuple[pd.DataFrame, pd.DataFrame]] = {}
    for unit in dict.fromkeys(unit for _, unit in due):
        due_names = [name for name, u in due if u == unit]
        inputs = month_inputs(out_dir, unit.start, unit.end, unit.period)
        exact = contributions(due_names, inputs, policy.exclude_opted_out)
        everyone = (
            contributions(due_names, inputs, exclude_opted_out=False)
            if policy.exclude_opted_out
            else exact
        )
        unit_tables, unit_drawn = draw_release(
            due_names, exact, policy, unit.period, unit.label, unit.start, unit.end, noise
        )
        for name in due_names:
            tables[(name, unit)], drawn[(name, unit)] = unit_tables[name], unit_drawn[name]
            exact_of[(name, unit)] = (exact[name], everyone[name])
    staged: dict[tuple, Path] = {}
    try:
        new_by_name: dict[str, list[pa.Table]] = {}
        for (name, _), table in tables.items():
            new_by_name.setdefault(name, []).append(table)
        staged_tables = {name: pa.concat_tables(parts) for name, parts in new_by_name.items()}
        failed = checks(staged_tables) if staged_tables else []
        if failed:
            raise ReleaseRejected(f"check(s) {', '.join(failed)} failed on the new draws")
        records = {}
        for key in keys:
            name, unit = key
            if key in drawn:
                previous = current[key]
                version = previous.version + 1 if previous else 1
                records[key] = _draw_record(name, unit, version, previous, drawn[key], now)
                records[key]["rows"] = tables[key].num_rows
                staged[key] = stage_draw(out_dir, name, unit.label, tables[key], records[key])
                _store_exact(
                    out_dir, records[key]["draw_id"], key[0], drawn[key], exact_of[key], policy
                )
            else:
                records[key] = current[key].record
        previous_release = latest_release(out_dir, recipient, label)
        draw_ids = {name: [records[(name, u)]["draw_id"] for u in units[name]] for name in names}
        drawn_by_name = {name: result for (name, _), result in drawn.items()}
        if previous_release is not None and previous_release.record.get("draws") == draw_ids:
            return ReleaseOutcome(previous_release, drawn_by_name)
        version = previous_release.version + 1 if previous_release else 1
        release_id = f"{recipient}/{label}/v{version}"
        corrected = [r["corrects"] for r in records.values() if r.get("corrects")]
        note = (
            f"scheduled correction of {', '.join(corrected)}: drawn again with every erasure, "
            "opt-out and late day known by then"
            if corrected
            else "first release of the period"
        )
        costs = {
            r["draw_id"]: DrawCost(r["rho"], r["delta"], tuple(_draw_months(r)))
            for r in records.values()
        }
        months = sorted({m for cost in costs.values() for m in cost.months})
        charge = Charge(recipient, recipient_class, label, tuple(months), costs, release_id, note)
        PrivacyAccountant(budget_ledger(out_dir), rules).charge(charge)
        for key, folder in staged.items():
            commit(folder, records[key]["version"])
        staged = {}
        by_name = {name: [records[(name, u)] for u in units[name]] for name in names}
        record = {
            "release_id": release_id,
            "recipient": recipient,
            "recipient_class": recipient_class,
            "period": label,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "version": version,
            "corrects": previous_release.release_id if previous_release else None,
            "note": note,
            "draws": draw_ids,
            "datasets": {
                name: {
                    "rho": sum(r["rho"] for r in parts),
                    "delta": sum(r["delta"] for r in parts),
                    "noise": parts[0]["noise"],
                }
                for name, parts in by_name.items()
            },
            "rho": sum(cost.rho for cost in costs.values()),
            "delta": sum(cost.delta for cost in costs.values()),
            "epsilon_at_delta": {
                "epsilon": zcdp_to_epsilon(
                    sum(cost.rho for cost in costs.values()), rules.recipient_budget.delta
                ),
                "delta": rules.recipient_budget.delta,
            },
            "months_charged": months,
            "built_at": now.date().isoformat(),
            "policy_version": policy.version,
        }
        released = {
            name: assemble(
                name,
                [
                    tables[(name, u)] if (name, u) in tables else current[(name, u)].table(name)
                    for u in units[name]
                ],
                policy,
                period,
                label,
                start,
                end,
            )
            for name in names
        }
        for name, table in released.items():
            record["datasets"][name]["rows"] = table.num_rows
        folder = stage_release(out_dir, recipient, label, released, record)
        return ReleaseOutcome(StoredRelease(commit(folder, version), record), drawn_by_name)
    finally:
        for folder in staged.values():
            discard(folder)


def _store_exact(
    out_dir: Path,
    draw_id: str,
    name: str,
    drawn: DatasetRelease,
    exact: tuple[pd.DataFrame, pd.DataFrame],
    policy: SharingPolicy,
) -> None:
    """The draw's released cells with their exact values (lakehouse/reconciliation.py)."""
    spec, measures = policy.release.datasets[name], RELEASED_DATASETS[name].measures
    vocabularies = policy.release.vocabularies
    unbounded, everyone = (exact_dataset(rows, spec, measures, vocabularies) for rows in exact)
    values = exact_values(
        drawn.bounded,
        unbounded,
        everyone,
        dataset_dimensions(spec),
        [measure for measure, _ in measures],
    )
    write_exact(out_dir, draw_id, values)


def _draw_months(record: dict) -> list[str]:
    """The calendar months of a draw's data, from the period it was drawn for."""
    start = date.fromisoformat(partition_key(record["period"]))
    period = "week" if is_week(record["period"]) else "month"
    return months_of(start, period_end(period, start))


@dataclass(frozen=True)
class DrawUnit:
    """The period one draw covers: the release's own period, or an ISO week of it."""

    period: str
    label: str
    start: date
    end: date


def draw_units(spec, period: str, label: str, start: date, end: date) -> list[DrawUnit]:
    """The draws a dataset's release of [start, end) is made of: itself, or its ISO weeks."""
    if spec.drawn_by != "week" or period == "week":
        return [DrawUnit(period, label, start, end)]
    return [
        DrawUnit("week", period_label("week", monday), monday, period_end("week", monday))
        for monday in iso_weeks(start, end)
    ]


def assemble(
    name: str,
    parts: list[pa.Table],
    policy: SharingPolicy,
    period: str,
    label: str,
    start: date,
    end: date,
) -> pa.Table:
    """A dataset's release of the period from its draws: the draws' rows of the period's days."""
    schema = dataset_schema(name, policy, period)
    if len(parts) == 1 and parts[0].schema.equals(schema):
        return parts[0]
    frame = pd.concat([part.to_pandas() for part in parts], ignore_index=True)
    days = set(period_days(start, end))
    frame = frame[frame["day"].isin(days)].drop(columns=["week", "month"], errors="ignore")
    frame.insert(0, period_column(period), label)
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def _draw_record(
    name: str,
    unit: DrawUnit,
    version: int,
    previous: StoredDraw | None,
    released: DatasetRelease,
    now: datetime,
) -> dict:
    return {
        "draw_id": f"{name}/{unit.label}/v{version}",
        "dataset": name,
        "period": unit.label,
        "version": version,
        "corrects": previous.draw_id if previous else None,
        "rho": released.rho,
        "delta": released.delta,
        "noise": released.noise(),
        "drawn_at": now.isoformat(),
        "drawn_on": now.date().isoformat(),
    }


def ledger_standing(
    out_dir: Path, release: StoredRelease, recipient: str, recipient_class: str, policy
) -> tuple[bool, list[str]]:
    """(whether the release has its line in the budget ledger, why a budget it touches is
    overspent): what must hold before a stored release may leave."""
    accountant = PrivacyAccountant(budget_ledger(out_dir), policy.release)
    overspent = accountant.within_budget(
        recipient, recipient_class, release.record["months_charged"]
    )
    return accountant.has_release(release.release_id), overspent


class ReleaseRejected(RuntimeError):
    """A check on the staged release failed; it was discarded before being charged."""


def vocabulary_findings(name: str, table: pa.Table, policy: SharingPolicy) -> dict[str, list[str]]:
    """Per column, the values outside its vocabulary (empty when every value is allowed)."""
    findings = {}
    for column in dataset_dimensions(policy.release.datasets[name]):
        if column in policy.release.vocabularies:
            values = pd.Series(table.column(column).to_pylist(), dtype="object")
            vocabulary = policy.release.vocabularies[column]
            outside = outside_vocabulary(values, vocabulary, missing_label(column))
            if outside:
                findings[column] = outside[:20]
    return findings


def identifier_findings(table: pa.Table) -> dict[str, int]:
    """Presidio re-scan of every string column (NER on the search terms): findings by column."""
    columns = [f.name for f in table.schema if pa.types.is_string(f.type)]
    free_text = [c for c in ("search_term",) if c in table.schema.names]
    return identifier_scan(table, columns, free_text)
