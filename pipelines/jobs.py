"""Jobs a data engineer launches or schedules."""

from __future__ import annotations

import dagster as dg

# Transient failures (a file still being copied, a full disk) get three tries with growing
# pauses; failures that retrying cannot fix (too many rejected lines, no key, a policy
# violation) are raised with allow_retries=False and stop at once.
RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL)

ingest_job = dg.define_asset_job(
    name="ingest_job",
    op_retry_policy=RETRY_POLICY,
    selection=dg.AssetSelection.groups("bronze", "silver"),
    description="Ingest one day of raw logs into bronze and de-identify it into silver.",
)

gold_job = dg.define_asset_job(
    name="gold_job",
    op_retry_policy=RETRY_POLICY,
    selection=dg.AssetSelection.tag("period", "month")
    | dg.AssetSelection.tag("cadence", "monthly"),
    description=(
        "Build the month's gold aggregates (internal) with their blocking checks, then each "
        "monthly recipient's differentially private release (drawn once, charged to its privacy "
        "budget) and its export package (a failed release check stops the export)."
    ),
)

weekly_gold_job = dg.define_asset_job(
    name="weekly_gold_job",
    op_retry_policy=RETRY_POLICY,
    selection=dg.AssetSelection.tag("period", "week") | dg.AssetSelection.tag("cadence", "weekly"),
    description=(
        "The week's gold aggregates (ISO week, Monday to Sunday), then the weekly releases and "
        "export packages."
    ),
)

erasure_job = dg.define_asset_job(
    name="erasure_job",
    op_retry_policy=RETRY_POLICY,
    selection=dg.AssetSelection.groups("erasure"),
    description=(
        "Record deletion requests and deleted accounts, purge them from every bronze and silver "
        "partition, and mark the affected gold months stale."
    ),
)

_RELEASES = dg.AssetSelection.groups("releases", "exports")

release_job = dg.define_asset_job(
    name="release_job",
    op_retry_policy=RETRY_POLICY,
    selection=_RELEASES & dg.AssetSelection.tag("cadence", "monthly"),
    description=(
        "The month's differentially private releases and export packages, without gold. The "
        "release_corrections_sensor launches it, tagged, for the scheduled corrections."
    ),
)

weekly_release_job = dg.define_asset_job(
    name="weekly_release_job",
    op_retry_policy=RETRY_POLICY,
    selection=_RELEASES & dg.AssetSelection.tag("cadence", "weekly"),
    description="The week's differentially private releases and export packages, without gold.",
)

warehouse_job = dg.define_asset_job(
    name="warehouse_job",
    op_retry_policy=RETRY_POLICY,
    selection=dg.AssetSelection.assets(dg.AssetKey(["gold", "warehouse"])),
    description=(
        "Reload the DuckDB warehouse: every published gold table, the releases as delivered and "
        "the reconciliation view."
    ),
)

JOBS = [
    ingest_job,
    gold_job,
    weekly_gold_job,
    erasure_job,
    release_job,
    weekly_release_job,
    warehouse_job,
]


def without_retries(jobs: list[dg.UnresolvedAssetJobDefinition]) -> list:
    """The same jobs, by the same names, without step retries: what `python -m pipelines run`
    launches. A run at a terminal reports a failure at once (and exits non-zero) rather than
    waiting minutes of backoff on a failure the operator has to fix anyway."""
    return [
        dg.define_asset_job(
            name=job.name, selection=job.selection, description=job.description, tags=job.tags
        )
        for job in jobs
    ]
