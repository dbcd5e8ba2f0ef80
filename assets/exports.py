"""Exports: one package per recipient and month (or week), checked again before delivery.

A package is assembled in a hidden staging folder, scanned, sealed (manifest with every
file's SHA-256, signed with the delivery key) and only then renamed into
`<out>/exports/<recipient>/<YYYY-MM>/`. Any failed check removes the staging folder and
stops the run with the reason: nothing partial is ever in the delivery folder.
"""

import dataclasses
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError
from dagster_aws.s3 import S3Resource

from assets.gold import GOLD_TABLES, WEEKLY_GOLD_TABLES, gold_file
from assets.gold_build import GoldTable, check_no_identifier, protect
from deidentify.disclosure import DisclosureRules
from deidentify.sharing_policy import PolicyViolation
from pipelines.coverage import Coverage, period_coverage
from pipelines.erasure import stale_periods
from pipelines.faults import crash_point
from pipelines.packaging import (
    MissingSigningKeyError,
    RemotePackageExists,
    begin_delivery,
    deliver,
    discard,
    finish_delivery,
    next_package_name,
    recover_deliveries,
    remove_prefix,
    same_content,
    seal,
    sha256_file,
    staging_folder,
    upload_package,
)
from pipelines.partitions import monthly_partitions, weekly_partitions
from pipelines.periods import period_label
from pipelines.recipients import Recipient
from pipelines.resources import DeliveryResource, SharingPolicyResource, StorageResource

_MONTHLY = {table.name: table for table in GOLD_TABLES}
_WEEKLY = {table.policy_name: table for table in WEEKLY_GOLD_TABLES}


def recipient_tables(recipient: Recipient) -> list[GoldTable]:
    """The gold tables a recipient's package holds: its datasets at its cadence."""
    tables = _WEEKLY if recipient.cadence == "weekly" else _MONTHLY
    return [tables[name] for name in recipient.datasets]


def period_of(recipient: Recipient, start: datetime) -> str:
    """The package's period: `2026-10` for a month, `2026-W42` for an ISO week."""
    return period_label("week" if recipient.cadence == "weekly" else "month", start.date())


class ExportRefused(RuntimeError):
    """A check before delivery failed; the message is the reason given to the engineer."""


def recipient_cells(table: GoldTable, gold: pa.Table, k: int) -> pa.Table:
    """The gold table re-protected at the recipient's k (never weaker than gold's own)."""
    frame = gold.to_pandas()
    frame[table.users_column] = frame[table.users_column].fillna(0)
    cells = frame.drop(columns=["suppressed", "suppression_reason"])
    previous = frame["suppression_reason"]
    # Dominance was applied in gold, where the largest contributions are known; here the
    # threshold and complementary rules run again at the recipient's k.
    result = protect(dataclasses.replace(table, dominance={}), cells, DisclosureRules(k=k))
    reasons = result.published.column("suppression_reason").to_pylist()
    merged = [
        old if isinstance(old, str) else new for old, new in zip(previous, reasons, strict=True)
    ]
    index = result.published.schema.get_field_index("suppression_reason")
    return result.published.set_column(index, "suppression_reason", pa.array(merged, pa.string()))


def _readme(recipient: Recipient, month: str, policy_version: int) -> str:
    lines = [
        f"# Export for {recipient.name}, {month}",
        "",
        f"Aggregates under the sharing policy v{policy_version}: no cell counts fewer than "
        f"{recipient.k} distinct users; suppressed cells are marked (`suppressed = true`) with "
        "their values left empty. Verify `manifest.sig` (HMAC-SHA256 of `manifest.json` with the "
        "delivery key) and the SHA-256 of every file listed in the manifest before use.",
        "",
    ]
    for table in recipient_tables(recipient):
        lines += [
            f"## {table.name}",
            "",
            table.description,
            "",
            "| column | type |",
            "| --- | --- |",
        ]
        lines += [f"| {f.name} | {f.type} |" for f in table.schema]
        lines.append("")
    return "\n".join(lines)


def build_export_asset(recipient: Recipient) -> dg.AssetsDefinition:
    """The monthly (or weekly) export package of one recipient."""
    tables = recipient_tables(recipient)

    @dg.asset(
        key=dg.AssetKey(["exports", recipient.name]),
        description=(
            f"{recipient.cadence.capitalize()} package for {recipient.name} "
            f"({recipient.recipient_class}): {', '.join(t.name for t in tables)} at "
            f"k={recipient.k}, as {', '.join(recipient.formats)}, with manifest, signature and "
            "data dictionary."
        ),
        deps=[dg.AssetKey(["gold", table.name]) for table in tables],
        partitions_def=weekly_partitions if recipient.cadence == "weekly" else monthly_partitions,
        group_name="exports",
        kinds={"csv"} if recipient.formats == ("csv",) else {"csv", "parquet"},
        owners=["team:data-engineering"],
        tags={
            "layer": "exports",
            "recipient_class": recipient.recipient_class,
            "cadence": recipient.cadence,
        },
    )
    def export_asset(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        sharing: SharingPolicyResource,
        delivery: DeliveryResource,
        s3: S3Resource,
    ) -> dg.MaterializeResult:
        window = context.partition_time_window
        month = period_of(recipient, window.start)
        policy = sharing.policy()
        out = storage.out_path
        root = out / "exports" / recipient.name
        root.mkdir(parents=True, exist_ok=True)
        audit_dir = out / "audit"
        for outcome in recover_deliveries(
            audit_dir, recipient.name, root, _remote_remover(s3, recipient)
        ):
            context.log.warning(f"{recipient.name}: {outcome}")
        coverage = period_coverage(out, window.start.date(), window.end.date())
        staging = staging_folder(root)
        name, previous = next_package_name(root, month)
        try:
            if not coverage.is_complete:
                raise ExportRefused(f"the period is not complete: {coverage.explain()}")
            key = delivery.signing_key()
            manifest = _assemble(recipient, month, policy, storage, staging, coverage)
            manifest["pseudonymization_key_version"] = _key_version(
                storage, window.start.date(), window.end.date()
            )
            manifest["signing_key_version"] = key.version
            manifest["package"] = name
            if previous:
                manifest["note"] = (
                    f"correction: replaces the package {previous} (its data changed since, e.g. "
                    "after an erasure or a late partition)"
                )
            seal(staging, manifest, key)
        except (ExportRefused, PolicyViolation, MissingSigningKeyError) as exc:
            discard(staging)
            raise dg.Failure(
                description=f"export to {recipient.name} for {month} refused: {exc}",
                allow_retries=False,
            ) from exc
        except BaseException:
            discard(staging)
            raise
        if previous and same_content(root / previous, staging):
            discard(staging)
            context.log.info(
                f"{recipient.name} {month}: same data as the package {previous} already "
                "delivered; nothing delivered"
            )
            return dg.MaterializeResult(
                metadata={
                    "delivered": False,
                    "unchanged_since": previous,
                    "package": dg.MetadataValue.path(str(root / previous)),
                    "coverage": dg.MetadataValue.json(coverage.summary()),
                }
            )
        location = recipient.delivery.location(recipient.name, name)
        entry = {
            "recipient": recipient.name,
            "recipient_class": recipient.recipient_class,
            "period": month,
            "package": name,
            "delivered_to": location,
            "datasets": manifest["datasets"],
            "manifest_sha256": sha256_file(staging / "manifest.json"),
        }
        remote = (
            recipient.delivery.key_prefix(recipient.name, name)
            if recipient.delivery.kind == "s3"
            else None
        )
        journal = begin_delivery(audit_dir, entry, staging, remote)
        crash_point("delivery")
        if remote is not None:
            _upload(s3, staging, recipient, name, location, journal)
        target = deliver(staging, root, name)
        crash_point("delivery")
        finish_delivery(audit_dir, journal, entry)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(d["rows"] for d in manifest["datasets"].values()),
                "delivered": True,
                "package": dg.MetadataValue.path(str(target)),
                "delivered_to": location,
                "manifest_sha256": entry["manifest_sha256"],
                "datasets": dg.MetadataValue.json(manifest["datasets"]),
                "coverage": dg.MetadataValue.json(coverage.summary()),
                "k": recipient.k,
            }
        )

    return export_asset


def _remote_remover(s3: S3Resource, recipient: Recipient):
    """How a rolled-back upload of this recipient is removed from its bucket (None: local)."""
    if recipient.delivery.kind != "s3":
        return None
    bucket = recipient.delivery.bucket

    def remove(prefix: str) -> None:
        remove_prefix(s3.get_client(), bucket, prefix)

    return remove


def _upload(
    s3: S3Resource, staging, recipient: Recipient, name: str, location: str, journal
) -> None:
    target = recipient.delivery
    try:
        upload_package(
            s3.get_client(), staging, target.bucket, target.key_prefix(recipient.name, name)
        )
    except RemotePackageExists as exc:
        discard(staging)
        journal.unlink(missing_ok=True)
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    except (BotoCoreError, ClientError) as exc:
        discard(staging)
        journal.unlink(missing_ok=True)
        raise dg.Failure(
            description=(
                f"upload of {recipient.name}'s package to {location} failed ({exc}); nothing "
                "was left in the bucket or the export folder. Check AWS_ENDPOINT_URL and the "
                "credentials in the environment; the step is retried."
            )
        ) from exc


def _key_version(storage: StorageResource, start: date, end: date) -> str | None:
    files = sorted(
        p
        for p in (storage.out_path / "silver" / "deidentified_events").glob("date=*/*.parquet")
        if start.isoformat() <= p.parent.name.removeprefix("date=") < end.isoformat()
    )
    if not files:
        return None
    versions = pq.read_table(files[0], columns=["key_version"]).column("key_version")
    return versions[0].as_py() if len(versions) else None


def _assemble(
    recipient: Recipient,
    month: str,
    policy,
    storage: StorageResource,
    staging,
    coverage: Coverage,
) -> dict:
    datasets = {}
    for table in recipient_tables(recipient):
        policy.check_recipient(recipient.recipient_class, table.policy_name)
        name = table.name
        path = gold_file(storage.out_path, name, month)
        if month in stale_periods(storage.out_path, name):
            raise ExportRefused(
                f"gold/{name} for {month} is stale: an erasure removed rows after it was built; "
                "rebuild it first (the stale_gold_sensor requests it)"
            )
        if not path.exists():
            raise ExportRefused(
                f"gold/{name} for {month} is not published: it was not built, or one of its "
                "checks failed (see its asset checks)"
            )
        cells = recipient_cells(table, pq.read_table(path), max(recipient.k, policy.k))
        published = cells.filter(pa.compute.invert(cells.column("suppressed")))
        users = pd.Series(published.column(table.users_column).to_pylist(), dtype="float64")
        if (users < recipient.k).any():
            raise ExportRefused(f"{name}: a published cell counts fewer than k={recipient.k} users")
        passed, details = check_no_identifier(table, cells)
        if not passed:
            raise ExportRefused(f"{name}: the identifier scan found {details['findings']}")
        if "csv" in recipient.formats:
            pacsv.write_csv(cells, staging / f"{name}.csv")
        if "parquet" in recipient.formats:
            pq.write_table(cells, staging / f"{name}.parquet")
        crash_point("export")
        datasets[name] = {
            "rows": cells.num_rows,
            "suppressed_cells": int(pa.compute.sum(cells.column("suppressed")).as_py() or 0),
            "source_partition": f"gold/{name} {table.period}={month}",
        }
    (staging / "README.md").write_text(_readme(recipient, month, policy.version))
    return {
        "recipient": recipient.name,
        "cadence": recipient.cadence,
        "recipient_class": recipient.recipient_class,
        "period": month,
        "policy_version": policy.version,
        "k": recipient.k,
        "datasets": datasets,
        "coverage": coverage.summary(),
        "generated_at": datetime.now(UTC).isoformat(),
    }
