"""Silver: one row per event with no direct identifier, and one row per pseudonymous user.

Every column comes from the field policy (deidentify/policy/field_policy.yaml): keys are
keyed HMAC pseudonyms, quasi-identifiers are generalized, free text is scrubbed by
Presidio, and any field the policy does not name is dropped. User-agent families and typed
profile values are closed onto the sharing policy's vocabularies, and a value in which the
identifier re-scan finds something is generalized to `other` (counted in the metadata), so
one hostile value cannot hold back the day.
"""

import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq

from assets.metadata import aggregate_preview_markdown, counts_markdown, table_schema
from assets.partitions import daily_partitions, partitioned_check
from deidentify.engine import structured_engine
from deidentify.profiles import build_user_profiles_from_file
from deidentify.raw_ids import raw_id_findings
from deidentify.scan import scan_batches
from deidentify.sharing_policy import DEFAULT_SHARING_POLICY_PATH
from deidentify.transform import silver_vocabularies
from lakehouse import coverage
from lakehouse.accounts import resolve_bronze_accounts
from lakehouse.deidentify_partition import (
    dask_client,
    deidentify_in_process,
    deidentify_on_dask,
)
from lakehouse.locks import erasure_lock
from lakehouse.storage import AtomicParquetWriter, iter_row_groups, make_dirs, partition_file
from pipelines.resources import (
    DeidentificationResource,
    PseudonymizationResource,
    StorageResource,
)

NO_IDENTIFIER_CHECK = "no_identifier_left"
# Categorical columns whose value counts stand in for a row preview (no row of a person is
# ever shown: the event log outlives erasure).
_PREVIEW = {
    "app_events": ["event", "country", "device_type", "browser_family"],
    "access_log": ["method", "status", "country", "device_type", "browser_family"],
}


def closed_vocabularies() -> dict[str, tuple[str, ...]]:
    """The vocabularies silver closes its columns onto: those of the sharing policy the code
    location loads (`PIPELINES_SHARING_POLICY`, else the shipped one), as releases use them."""
    path = os.environ.get("PIPELINES_SHARING_POLICY") or DEFAULT_SHARING_POLICY_PATH
    return silver_vocabularies(Path(path))


def candidate_file(out_dir: Path, dataset: str, date_key: str) -> Path:
    """Where a silver partition is written and checked before it replaces the published one.

    Owner-only: a candidate that failed its identifier check stays here for inspection.
    """
    return partition_file(out_dir, "silver", f"_candidates/{dataset}", date_key)


def input_lines(out_dir: Path, source: str, date_key: str) -> int:
    """Lines the day's bronze partition was built from (rows plus quarantined)."""
    total = 0
    for layer in ("bronze", "quarantine"):
        path = partition_file(out_dir, layer, source, date_key)
        if path.exists():
            total += pq.ParquetFile(path).metadata.num_rows
    return total


def _bronze_file(storage: StorageResource, source: str, date_key: str) -> Path:
    path = partition_file(storage.out_path, "bronze", source, date_key)
    if not path.exists():
        raise dg.Failure(
            description=f"bronze/{source} has no partition {date_key} at {path}: "
            f"materialize bronze/{source} for {date_key} first."
        )
    return path


def _no_identifier_check(silver: Path) -> dg.AssetCheckResult:
    file = pq.ParquetFile(silver)
    findings = scan_batches(iter_row_groups(file, 50_000), file.schema_arrow, structured_engine())
    # The input contract's own ids (usr_..., org_..., sessions, event UUIDs), in any column.
    findings.update(raw_id_findings(iter_row_groups(file, 50_000), file.schema_arrow))
    summary = {f"{column}: {entity}": n for (column, entity), n in findings.items()}
    return dg.AssetCheckResult(
        check_name=NO_IDENTIFIER_CHECK,
        passed=not findings,
        metadata={
            "distinct_values_with_findings": sum(findings.values()),
            "findings": dg.MetadataValue.md(counts_markdown("column: entity", summary, "values")),
        },
        description=None
        if not findings
        else "The pattern recognizers found identifiers (or raw ids of the input contract) in "
        "silver columns.",
    )


def _deidentify_partition(
    context: dg.AssetExecutionContext,
    source: str,
    storage: StorageResource,
    pseudonymization: PseudonymizationResource,
    deidentification: DeidentificationResource,
    dataset: str,
) -> dg.MaterializeResult:
    key = pseudonymization.key_for_step()
    date_key = context.partition_key
    out = storage.out_path
    bronze = _bronze_file(storage, source, date_key)
    target = partition_file(out, "silver", dataset, date_key)
    candidate = candidate_file(out, dataset, date_key)
    make_dirs(candidate.parent, private=True)
    began = time.perf_counter()
    policy = deidentification.field_policy()
    vocabularies = closed_vocabularies()
    with erasure_lock(out, exclusive=False):
        coverage.invalidate(out, coverage.datasets_built_from(source), date_key)
        accounts = resolve_bronze_accounts(out, bronze) if source == "access_log" else None
        if deidentification.engine == "dask":
            with dask_client(
                deidentification.dask_scheduler, deidentification.worker_count()
            ) as client:
                done = deidentify_on_dask(
                    bronze,
                    candidate,
                    policy,
                    source,
                    key,
                    deidentification.batch_rows,
                    client,
                    accounts,
                    vocabularies,
                )
        else:
            done = deidentify_in_process(
                bronze,
                candidate,
                policy,
                source,
                key,
                deidentification.worker_count(),
                deidentification.batch_rows,
                accounts,
                vocabularies,
            )
        check = _no_identifier_check(candidate)
        if check.passed:
            make_dirs(target.parent, private=False)
            os.replace(candidate, target)
            coverage.record(out, dataset, date_key, input_lines(out, source, date_key), done.rows)
        else:
            context.log.error(
                f"{dataset} {date_key}: the identifier check failed; the partition is not "
                f"published (the previous file, if any, stays), the rejected file is at "
                f"{candidate}"
            )
    seconds = time.perf_counter() - began
    written = target if check.passed else candidate
    context.log.info(
        f"{dataset} {date_key}: {done.rows:,} rows in {seconds:.1f}s on "
        f"{deidentification.engine}, {done.distinct_analyzed:,} distinct values analyzed"
    )
    names = pq.ParquetFile(written).schema_arrow.names
    counted = [c for c in _PREVIEW[source] if c in names]
    linking = accounts is not None
    summary = pq.read_table(written, columns=[*counted, *(["user_key"] if linking else [])])
    linked = {}
    if linking:
        linked = {
            "requests_linked_to_accounts": done.rows - summary.column("user_key").null_count,
            "accounts_named_in_log": len(set(accounts.values())),
        }
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": done.rows,
            "dagster/column_schema": table_schema(done.schema),
            "entities_found": dg.MetadataValue.md(
                counts_markdown("entity", done.entities, unit="replaced")
            ),
            "fields_dropped": dg.MetadataValue.md(
                counts_markdown("field", done.fields_dropped, unit="values dropped")
            ),
            "distinct_values_analyzed": done.distinct_analyzed,
            "values_generalized_by_rescan": sum(done.values_generalized_by_rescan.values()),
            "rescan_generalized": dg.MetadataValue.md(
                counts_markdown("column: entity", done.rescan_findings, unit="values generalized")
            ),
            "values_outside_vocabulary": dg.MetadataValue.md(
                counts_markdown("column", done.values_outside_vocabulary, unit="values now `other`")
            ),
            "engine": deidentification.engine,
            "pseudonymization_key_version": key.version,
            "seconds": round(seconds, 2),
            "published": check.passed,
            "silver_file": dg.MetadataValue.path(str(written)),
            **linked,
            "rows_by_value": dg.MetadataValue.md(aggregate_preview_markdown(summary, counted)),
        },
        check_results=[check],
    )


def _check_spec(key: dg.AssetKey) -> dg.AssetCheckSpec:
    return partitioned_check(
        NO_IDENTIFIER_CHECK,
        key,
        daily_partitions,
        "Each distinct string value re-scanned by the pattern recognizers: no finding.",
    )


_EVENTS_KEY = dg.AssetKey(["silver", "deidentified_events"])
_REQUESTS_KEY = dg.AssetKey(["silver", "web_requests"])
_PROFILES_KEY = dg.AssetKey(["silver", "user_profiles"])


def build_deidentify_asset(
    key: dg.AssetKey, source: str, dataset: str, description: str
) -> dg.AssetsDefinition:
    """The daily silver asset that de-identifies bronze/<source> into silver/<dataset>."""

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(["bronze", source])],
        description=description,
        partitions_def=daily_partitions,
        group_name="silver",
        kinds={"python", "parquet", "presidio"},
        owners=["team:data-engineering"],
        tags={"layer": "silver", "personal_data": "pseudonymized"},
        check_specs=[_check_spec(key)],
    )
    def deidentify_asset(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        pseudonymization: PseudonymizationResource,
        deidentification: DeidentificationResource,
    ) -> dg.MaterializeResult:
        return _deidentify_partition(
            context, source, storage, pseudonymization, deidentification, dataset
        )

    return deidentify_asset


deidentified_events = build_deidentify_asset(
    _EVENTS_KEY,
    "app_events",
    "deidentified_events",
    "One row per application event of the UTC day with no direct identifier: user, org, "
    "session and event ids are keyed HMAC pseudonyms; IP becomes country and /24 network; "
    "user agent becomes browser, OS and device type; URLs become templates; free text is "
    "scrubbed by Presidio; dropped fields never leave bronze. Columns: field_policy.yaml.",
)
web_requests = build_deidentify_asset(
    _REQUESTS_KEY,
    "access_log",
    "web_requests",
    "One row per web request of the UTC day: the account's pseudonymous user_key when the log "
    "names the logged-in account (remote_user: an e-mail or user id, resolved through the "
    "account directory), a pseudonymous visitor key (remote host + user agent), country and "
    "/24 network, URL template, status, referrer domain and scrubbed search terms, "
    "browser/OS/device type and bot flag. No raw address, user or URL.",
)


@dg.asset(
    key=_PROFILES_KEY,
    deps=[_EVENTS_KEY],
    description=(
        "One row per pseudonymous user seen on the UTC day: the generalized profile attributes "
        "last given that day (signup/profile_update), plan, consent flags from consent_update, "
        "and the deleted flag from account_deleted. A user's current profile is the latest "
        "non-null value of each column over all days."
    ),
    partitions_def=daily_partitions,
    group_name="silver",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    tags={"layer": "silver", "personal_data": "pseudonymized"},
)
def user_profiles(
    context: dg.AssetExecutionContext, storage: StorageResource
) -> dg.MaterializeResult:
    """Fold one day of de-identified events into per-user profile rows."""
    date_key = context.partition_key
    source = partition_file(storage.out_path, "silver", "deidentified_events", date_key)
    if not source.exists():
        raise dg.Failure(description=f"silver/deidentified_events has no partition {date_key}.")
    target = partition_file(storage.out_path, "silver", "user_profiles", date_key)
    with erasure_lock(storage.out_path, exclusive=False):
        coverage.invalidate(storage.out_path, ["user_profiles"], date_key)
        profiles = build_user_profiles_from_file(source, closed_vocabularies())
        with AtomicParquetWriter(target, profiles.schema) as writer:
            writer.write(profiles)
        if coverage.status_of(storage.out_path, "deidentified_events", date_key) is not None:
            coverage.record(
                storage.out_path,
                "user_profiles",
                date_key,
                input_lines(storage.out_path, "app_events", date_key),
                profiles.num_rows,
            )
    frame: pd.DataFrame = profiles.to_pandas()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": profiles.num_rows,
            "dagster/column_schema": table_schema(profiles.schema),
            "users_by_specialty": dg.MetadataValue.md(
                counts_markdown(
                    "specialty", frame["specialty"].dropna().value_counts().to_dict(), "users"
                )
            ),
            "opted_out_of_partner_sharing": int((frame["share_with_partners"] == False).sum()),  # noqa: E712
            "deleted_accounts": int(frame["deleted"].sum()),
            "silver_file": dg.MetadataValue.path(str(target)),
        }
    )


SILVER_ASSETS = [deidentified_events, web_requests, user_profiles]
