"""How a release is built: exact contributions from silver, OpenDP noise, checks, charge, store.

Kept apart from assets/releases.py (the Dagster assets) and assets/released_datasets.py (each
dataset's own definition); the mechanism is deidentify/dp.py, the accounting
deidentify/budget.py, the files pipelines/releases.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
import pyarrow as pa

from assets.gold import silver_schemas
from assets.gold_build import (
    GOLD_SCAN_ENTITIES,
    PeriodInputs,
    month_inputs,
    open_period,
    run_period_sql,
)
from assets.released_datasets import RELEASED_DATASETS
from deidentify.budget import Charge, PrivacyAccountant, months_of
from deidentify.dp import NoiseSource, zcdp_to_epsilon
from deidentify.engine import ScrubEngine, structured_engine, text_engine
from deidentify.release_build import (
    DatasetRelease,
    dataset_dimensions,
    fingerprint,
    period_days,
    release_dataset,
    release_schema,
    to_arrow,
    to_vocabularies,
)
from deidentify.scan import scan_table
from deidentify.sharing_policy import SharingPolicy
from deidentify.vocabularies import outside_vocabulary
from pipelines.releases import (
    StoredRelease,
    budget_ledger,
    commit_release,
    discard_release,
    latest_release,
    mark_checked,
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


def period_inputs(out_dir, start: date, end: date, period: str) -> PeriodInputs:
    """The silver files a release of [start, end) reads."""
    return month_inputs(out_dir, start, end, period)


@dataclass
class ReleaseOutcome:
    """What building a recipient's release of a period did."""

    release: StoredRelease
    drawn: bool
    datasets: dict[str, DatasetRelease]
    ledger_entry: dict | None = None


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
    """Every dataset of a release, noised by OpenDP, as documented Arrow tables."""
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
) -> ReleaseOutcome:
    """The recipient's release of the period: the stored one if its data did not change, else
    a new one (a correction when one existed), checked, charged, then stored.

    `checks(tables)` returns the names of failed checks on the staged tables; any failure
    discards the release before it is charged.
    """
    inputs = period_inputs(out_dir, start, end, period)
    exact = contributions(names, inputs, policy.exclude_opted_out)
    mapped = {
        name: to_vocabularies(
            frame, dataset_dimensions(policy.release.datasets[name]), policy.release.vocabularies
        )
        for name, frame in exact.items()
    }
    current = fingerprint(mapped) + "|" + ",".join(names)
    previous = latest_release(out_dir, recipient, label)
    if previous is not None and previous.record["fingerprint"] == current:
        mark_checked(previous)
        return ReleaseOutcome(previous, False, {})
    tables, released = draw_release(names, exact, policy, period, label, start, end, noise)
    version = previous.version + 1 if previous else 1
    rho = sum(r.rho for r in released.values())
    delta = sum(r.delta for r in released.values())
    release_id = f"{recipient}/{label}/v{version}"
    months = months_of(start, end)
    note = (
        f"correction of {previous.release_id}: the exact data changed (an erasure, a consent "
        "change or a late partition)"
        if previous
        else "first release of the period"
    )
    record = {
        "release_id": release_id,
        "recipient": recipient,
        "recipient_class": recipient_class,
        "period": label,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "version": version,
        "corrects": previous.release_id if previous else None,
        "note": note,
        "datasets": {
            name: {
                "rows": tables[name].num_rows,
                "rho": r.rho,
                "delta": r.delta,
                "noise": r.noise(),
                "cells_bounded_away": r.cells_bounded_away,
            }
            for name, r in released.items()
        },
        "rho": rho,
        "delta": delta,
        "epsilon_at_delta": {
            "epsilon": zcdp_to_epsilon(rho, policy.release.recipient_budget.delta),
            "delta": policy.release.recipient_budget.delta,
        },
        "months_charged": months,
        "fingerprint": current,
        "built_at": datetime.now(UTC).isoformat(),
        "policy_version": policy.version,
    }
    staging = stage_release(out_dir, recipient, label, tables, record)
    try:
        failed = checks(tables)
        if failed:
            raise ReleaseRejected(f"check(s) {', '.join(failed)} failed on the staged release")
        accountant = PrivacyAccountant(budget_ledger(out_dir), policy.release)
        entry = accountant.charge(
            Charge(recipient, recipient_class, label, tuple(months), tuple(names), rho, delta,
                   release_id, note)
        )  # fmt: skip
        stored = commit_release(staging, version)
    except BaseException:
        discard_release(staging)
        raise
    return ReleaseOutcome(stored, True, released, entry)


class ReleaseRejected(RuntimeError):
    """A check on the staged release failed; it was discarded before being charged."""


def vocabulary_findings(name: str, table: pa.Table, policy: SharingPolicy) -> dict[str, list[str]]:
    """Per column, the values outside its vocabulary (empty when every value is allowed)."""
    findings = {}
    for column in dataset_dimensions(policy.release.datasets[name]):
        if column in policy.release.vocabularies:
            values = pd.Series(table.column(column).to_pylist(), dtype="object")
            outside = outside_vocabulary(values, policy.release.vocabularies[column])
            if outside:
                findings[column] = outside[:20]
    return findings


def identifier_findings(name: str, table: pa.Table) -> dict[str, int]:
    """Presidio re-scan of every string column (NER on the search terms): findings by column."""
    columns = [f.name for f in table.schema if pa.types.is_string(f.type)]
    engine = structured_engine()
    scanner = ScrubEngine(engine.analyzer, [e for e in engine.entities if e in GOLD_SCAN_ENTITIES])
    findings = scan_table(table, scanner, columns)
    if "search_term" in table.schema.names:
        text = text_engine()
        ner = ScrubEngine(text.analyzer, [e for e in text.entities if e in GOLD_SCAN_ENTITIES])
        findings += scan_table(table, ner, ["search_term"])
    return {f"{column}: {entity}": n for (column, entity), n in findings.items()}
