"""Erasure: deletion requests and deleted accounts purged from every bronze and silver partition.

The asset is the erasure ledger (`<out>/erasure/ledger.parquet`, pseudonyms only). Each run
records new requests and account_deleted users, sweeps their rows out of every stored day,
and marks the gold months and weeks built from those days stale, so that no export is cut from a
stale period. Each silver day it rewrote is logged as a new materialization of that day, so
Dagster's declarative automation (the gold assets' automation condition) rebuilds every gold
period built from it.
"""

import dagster as dg

from assets.gold import ALL_GOLD_TABLES
from assets.metadata import counts_markdown
from lakehouse.erasure import run_erasure
from pipelines.resources import PseudonymizationResource, StorageResource

ERASURE_KEY = dg.AssetKey(["erasure", "erased_users"])
REQUESTS_CHECK = "every_request_understood"


@dg.asset(
    key=ERASURE_KEY,
    deps=[dg.AssetKey(["silver", "user_profiles"])],
    description=(
        "The erasure ledger: every user erased on request (<raw>/requests/*.csv, one raw or "
        "pseudonymous user id per line) or after an account_deleted event, as pseudonyms. "
        "Materializing it purges those users from every bronze, quarantine and silver "
        "partition and marks the affected gold months stale."
    ),
    group_name="erasure",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    tags={"layer": "erasure", "personal_data": "pseudonymized"},
    check_specs=[
        dg.AssetCheckSpec(
            REQUESTS_CHECK,
            asset=ERASURE_KEY,
            description="Every line of every deletion request file is a user id.",
        )
    ],
)
def erased_users(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    pseudonymization: PseudonymizationResource,
) -> dg.MaterializeResult:
    """Record new erasures and sweep them out of every stored partition."""
    key = pseudonymization.key_for_step()
    outcome = run_erasure(
        storage.raw_path,
        storage.out_path,
        key,
        [(table.name, table.period) for table in ALL_GOLD_TABLES],
    )
    for dataset, day in sorted(outcome.sweep.silver_rewritten):
        context.log_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey(["silver", dataset]),
                partition=day,
                description="Rewritten by the erasure sweep: the erased users' rows removed.",
                metadata={"rewritten_by": ERASURE_KEY.to_user_string()},
            )
        )
    removed = dict(outcome.sweep.rows_removed)
    context.log.info(
        f"erasure: {outcome.new_entries} new entries, {sum(removed.values())} rows removed from "
        f"{outcome.sweep.files_rewritten} files; stale gold periods: {outcome.stale_periods}"
    )
    if outcome.other_key_versions:
        context.log.warning(
            f"{outcome.other_key_versions} ledger entries were made under another "
            "pseudonymization key version and match nothing under the current one"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": outcome.ledger_entries,
            "new_entries": outcome.new_entries,
            "deletion_requests_read": outcome.requested,
            "deleted_accounts_seen": outcome.deleted_accounts,
            "rows_removed": dg.MetadataValue.md(
                counts_markdown("dataset", removed, unit="rows removed")
            ),
            "files_rewritten": outcome.sweep.files_rewritten,
            "days_touched": len(outcome.sweep.dates),
            "gold_periods_marked_stale": dg.MetadataValue.json(outcome.stale_periods),
            "entries_under_other_key_versions": outcome.other_key_versions,
            "pseudonymization_key_version": key.version,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=REQUESTS_CHECK,
                passed=not outcome.problems,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"problems": dg.MetadataValue.json(outcome.problems[:100])},
                description=None
                if not outcome.problems
                else "Some request lines are not a user id: fix them; the valid ones were applied.",
            )
        ],
    )


ERASURE_ASSETS = [erased_users]
