"""Bronze: a faithful, typed copy of the raw logs, one Parquet file per source and UTC day.

Bronze and quarantine hold personal data: they are written owner-only and never leave the
machine. For the same reason their Dagster metadata shows counts, never row values.
"""

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.metadata import table_schema
from assets.partitions import daily_partitions, partitioned_check
from deidentify.pseudonymize import MissingKeyError
from lakehouse import coverage
from lakehouse.erasure import ErasedSubjects
from lakehouse.ingest.bronze import (
    PartitionReport,
    RejectedShareExceeded,
    ingest_partition,
)
from lakehouse.ingest.sources import ACCESS_LOG, APP_EVENTS, RawSource
from lakehouse.locks import erasure_lock
from pipelines.resources import IngestionResource, PseudonymizationResource, StorageResource

ACCOUNTING_CHECK = "every_line_accounted_for"
_SUMMARY_COLUMN = {APP_EVENTS.name: "event", ACCESS_LOG.name: "status"}
_DESCRIPTIONS = {
    APP_EVENTS.name: (
        "Application events (JSON Lines from `<raw>/events/`) parsed into typed columns, one "
        "row per event, for one UTC day. `properties` and unknown top-level fields are kept as "
        "JSON text. Malformed lines go to `<out>/quarantine/app_events/` with a reason."
    ),
    ACCESS_LOG.name: (
        "Web access log lines (Combined Log Format from `<raw>/access/`) parsed into typed "
        "columns, one row per request, for one UTC day. Lines not in the format go to "
        "`<out>/quarantine/access_log/` with a reason."
    ),
}


def _table_schema(source: RawSource) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=f.name, type=str(f.type), description=None) for f in source.schema
        ]
    )


def _counts_markdown(report: PartitionReport, column: str) -> str:
    if report.rows == 0:
        return "_no rows_"
    values = pq.read_table(report.bronze_path, columns=[column]).column(column)
    counts = pc.value_counts(values).to_pylist()
    counts.sort(key=lambda item: -item["counts"])
    lines = [f"| {column} | rows |", "| --- | ---: |"]
    lines += [f"| {item['values']} | {item['counts']:,} |" for item in counts[:25]]
    return "\n".join(lines)


def _reasons_markdown(report: PartitionReport) -> str:
    if not report.reason_counts:
        return "_nothing quarantined_"
    lines = ["| reason | lines |", "| --- | ---: |"]
    lines += [f"| {code} | {n:,} |" for code, n in report.reason_counts.most_common()]
    return "\n".join(lines)


def _metadata(report: PartitionReport, source: RawSource) -> dict:
    return {
        "dagster/row_count": report.rows,
        "dagster/column_schema": table_schema(source.schema),
        "lines_read": report.lines,
        "rows_quarantined": report.rejected,
        "rows_erased": report.erased,
        "rejected_share": float(round(report.rejected_share, 6)),
        "files_read": dg.MetadataValue.json(report.files_read),
        "bronze_file": dg.MetadataValue.path(str(report.bronze_path)),
        "quarantine_file": dg.MetadataValue.path(str(report.quarantine_path)),
        "quarantine_reasons": dg.MetadataValue.md(_reasons_markdown(report)),
        f"rows_by_{_SUMMARY_COLUMN[source.name]}": dg.MetadataValue.md(
            _counts_markdown(report, _SUMMARY_COLUMN[source.name])
        ),
    }


def _accounting_check(report: PartitionReport) -> dg.AssetCheckResult:
    on_disk_rows = pq.ParquetFile(report.bronze_path).metadata.num_rows
    on_disk_rejected = pq.ParquetFile(report.quarantine_path).metadata.num_rows
    passed = report.accounted_for and (on_disk_rows, on_disk_rejected) == (
        report.rows,
        report.rejected,
    )
    return dg.AssetCheckResult(
        check_name=ACCOUNTING_CHECK,
        passed=passed,
        metadata={
            "lines_assigned_to_partition": report.expected_lines,
            "lines_read": report.lines,
            "bronze_rows_on_disk": on_disk_rows,
            "quarantine_rows_on_disk": on_disk_rejected,
            "rows_erased": report.erased,
        },
        description=None
        if passed
        else "Lines read do not equal bronze rows plus quarantined plus erased: a line was lost.",
    )


def build_bronze_asset(source: RawSource) -> dg.AssetsDefinition:
    """The daily bronze asset of one raw source, with its line-accounting check."""
    key = dg.AssetKey(["bronze", source.name])

    @dg.asset(
        key=key,
        description=_DESCRIPTIONS[source.name],
        partitions_def=daily_partitions,
        group_name="bronze",
        kinds={"python", "parquet"},
        owners=["team:data-engineering"],
        tags={"layer": "bronze", "personal_data": "yes"},
        check_specs=[
            partitioned_check(
                ACCOUNTING_CHECK,
                key,
                daily_partitions,
                "Every raw line of the day is a bronze row or a quarantine entry.",
            )
        ],
    )
    def bronze_asset(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        ingestion: IngestionResource,
        pseudonymization: PseudonymizationResource,
    ) -> dg.MaterializeResult:
        try:
            with erasure_lock(storage.out_path, exclusive=False):
                coverage.invalidate(
                    storage.out_path,
                    coverage.datasets_built_from(source.name),
                    context.partition_key,
                )
                erased = ErasedSubjects.from_ledger(
                    storage.out_path, pseudonymization.pseudonym_key
                )
                report = ingest_partition(
                    source,
                    storage.raw_path,
                    storage.out_path,
                    context.partition_key,
                    ingestion.settings(),
                    erased,
                )

        except MissingKeyError as exc:
            raise dg.Failure(
                description=f"the erasure ledger is not empty, so bronze needs the key: {exc}",
                allow_retries=False,
            ) from exc
        except RejectedShareExceeded as exc:
            raise dg.Failure(
                description=str(exc),
                metadata={
                    "lines_read": exc.report.lines,
                    "rows_quarantined": exc.report.rejected,
                    "quarantine_file": dg.MetadataValue.path(str(exc.report.quarantine_path)),
                    "quarantine_reasons": dg.MetadataValue.md(_reasons_markdown(exc.report)),
                },
                allow_retries=False,
            ) from exc
        context.log.info(
            f"{source.name} {context.partition_key}: {report.rows:,} rows, "
            f"{report.rejected:,} quarantined from {len(report.files_read)} file(s)"
        )
        metadata = _metadata(report, source)
        if report.account_entries is not None:
            metadata["account_directory_entries"] = report.account_entries
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[_accounting_check(report)],
        )

    return bronze_asset


bronze_app_events = build_bronze_asset(APP_EVENTS)
bronze_access_log = build_bronze_asset(ACCESS_LOG)

BRONZE_ASSETS = [bronze_app_events, bronze_access_log]
