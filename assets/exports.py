"""Exports: the delivery of a recipient's stored release, checked again before it leaves.

A package holds the stored differentially private release of the period, nothing else: no
gold table, no exact count. It is assembled in a hidden staging folder, scanned, sealed
(manifest with every file's SHA-256, signed with the delivery key's Ed25519 private key, the
public key and VERIFY.md beside it) and only then renamed into
`<out>/exports/<recipient>/<YYYY-MM>/`; the public key is kept in the keyring
`<out>/exports/_keys/<key id>.pub`. Any failed check removes the staging folder and
stops the run with the reason: nothing partial is ever in the delivery folder.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError
from dagster_aws.s3 import S3Resource

from assets.partitions import monthly_partitions, weekly_partitions
from assets.releases import release_period
from deidentify.sharing_policy import PolicyViolation, guard_policy_version
from lakehouse.coverage import Coverage, period_coverage
from lakehouse.csv_safety import write_recipient_csv
from lakehouse.dictionary import released_column
from lakehouse.faults import crash_point
from lakehouse.packaging import (
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
from lakehouse.periods import calendar_typed, period_label
from lakehouse.recipients import Recipient
from lakehouse.release_build import (
    dataset_schema,
    identifier_findings,
    ledger_standing,
    vocabulary_findings,
)
from lakehouse.released_datasets import RELEASED_DATASETS
from lakehouse.releases import StoredRelease, latest_release
from lakehouse.signing import KEYRING_DIR, MissingSigningKeyError, publish_public_key
from pipelines.resources import DeliveryResource, SharingPolicyResource, StorageResource


def period_of(recipient: Recipient, start: datetime) -> str:
    """The package's period: `2026-10` for a month, `2026-W42` for an ISO week."""
    return period_label(release_period(recipient), start.date())


class ExportRefused(RuntimeError):
    """A check before delivery failed; the message is the reason given to the engineer."""


def _coverage_lines(coverage: Coverage) -> list[str]:
    """What days the package covers, and that every one of them is complete.

    No count of days with input is given: which days the service had no traffic is ours to
    know, and a package is only ever made for a complete period.
    """
    summary = coverage.summary()
    return [
        "## Coverage",
        "",
        f"This package covers {summary['first_day']} to {summary['last_day']} (UTC), "
        f"{summary['days_expected']} days, and every one of them is complete: each log source "
        "had closed the day (its later lines had arrived, its shipper marked the day closed, or "
        "an operator recorded that the day was quiet) before anything was drawn. A day with "
        "little or no traffic gives values near zero, with the same error as any other day.",
        "",
    ]


def _readme(recipient: Recipient, release: StoredRelease, policy, coverage: Coverage) -> str:
    record = release.record
    epsilon = record["epsilon_at_delta"]
    lines = [
        f"# {recipient.name}: release {release.release_id}",
        "",
        "## What these numbers are",
        "",
        "Every number in this package is an aggregate about many people with random noise "
        "added, so that whatever else a reader knows, what they can conclude about any one "
        "person (what they did, or whether they used the service at all) changes only within a "
        "bounded factor that the budget below states (differential privacy, computed with "
        "OpenDP). Each measure has a column `<measure>_error95`: the true value lies within "
        "that distance of the published one 95 times out of 100. A small published value can be "
        "noise around zero; published values are rounded and never negative. Each person "
        "counts at most a bounded number of times (see the bounds per dataset below), so a "
        "very active user adds no more than an ordinary one.",
        "",
        f"This release cost rho={record['rho']:.4g} (zero-concentrated DP), about "
        f"epsilon={epsilon['epsilon']:.3g} at delta={epsilon['delta']:g}, charged to this "
        "recipient's monthly privacy budget. Releases are stored: asking again returns the same "
        "numbers, and every recipient of a dataset receives the same numbers. Each period is "
        "corrected once, on a fixed schedule, with the erasures and late data known by then: "
        "a new draw, charged to the budget like the first.",
        "",
        f"Sharing policy v{policy.version}. Before use, check the package as `VERIFY.md` "
        "says: `manifest.sig` is the Ed25519 signature of `manifest.json` by our delivery key "
        "(its public half is `signing-key.pub`; check its key id against the one we gave you), "
        "and `manifest.json` lists the SHA-256 of every other file (`sha256sum -c SHA256SUMS` "
        "checks them with the standard tool).",
        "",
        "In the CSV files, a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage "
        "return has a single quote in front, so that a spreadsheet shows it as text instead of "
        "running it as a formula; the Parquet files hold the values as they are.",
        "",
    ]
    if record.get("corrects"):
        lines += [f"**Correction**: {record['note']}.", ""]
    lines += _coverage_lines(coverage)
    for name in recipient.datasets:
        dataset = RELEASED_DATASETS[name]
        spec = policy.release.datasets[name]
        schema = calendar_typed(
            dataset_schema(name, policy, release_period(recipient)).empty_table()
        ).schema
        lines += [f"## {name}", "", dataset.description, ""]
        lines += ["| column | type | unit | meaning |", "| --- | --- | --- | --- |"]
        for field in schema:
            column = released_column(name, field.name)
            lines.append(f"| {field.name} | {field.type} | {column.unit} | {column.meaning} |")
        noise = release.record["datasets"][name]["noise"]
        lines += ["", "| breakdown | cells a person adds to, at most | clamps | ±95% error |"]
        lines.append("| --- | ---: | --- | --- |")
        for query in spec.queries(dataset.measures):
            clamps = ", ".join(
                f"{m.name} <= {m.clamp:g} per cell" for m in query.measures if m.kind == "sum"
            )
            errors = ", ".join(
                f"{measure} ±{values['error95']:g}"
                for measure, values in noise.get(query.breakdown, {}).items()
            )
            lines.append(
                f"| {query.breakdown} | {query.max_cells_per_person} | {clamps or '-'} | {errors} |"
            )
        lines.append("")
    return "\n".join(lines)


def build_export_asset(recipient: Recipient) -> dg.AssetsDefinition:
    """The monthly (or weekly) export package of one recipient: its stored release, delivered."""

    @dg.asset(
        key=dg.AssetKey(["exports", recipient.name]),
        description=(
            f"{recipient.cadence.capitalize()} package for {recipient.name} "
            f"({recipient.recipient_class}): the stored differentially private release of "
            f"{', '.join(recipient.datasets)}, as {', '.join(recipient.formats)}, with "
            "manifest, signature and data dictionary. Delivered only when it changed."
        ),
        deps=[dg.AssetKey(["releases", recipient.name])],
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
            guard_policy_version(policy, audit_dir)
            key = delivery.signing_key()
            manifest = _assemble(recipient, month, policy, storage, staging, coverage)
            manifest["package"] = name
            if previous:
                manifest["note"] = (
                    f"correction: replaces the package {previous}; {manifest['release']['note']}"
                )
            seal(staging, manifest, key)
            publish_public_key(out / "exports" / KEYRING_DIR, key)
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
            "release_id": manifest["release"]["release_id"],
            "manifest_sha256": sha256_file(staging / "manifest.json"),
            "policy_version": manifest["policy_version"],
            "policy_sha256": manifest["policy_sha256"],
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
                "release_id": manifest["release"]["release_id"],
                "rho": manifest["release"]["rho"],
                "policy_version": manifest["policy_version"],
                "policy_sha256": manifest["policy_sha256"],
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
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        discard(staging)
        journal.unlink(missing_ok=True)
        raise dg.Failure(
            description=(
                f"upload of {recipient.name}'s package to {location} failed ({exc}); nothing "
                "was left in the bucket or the export folder. Check AWS_ENDPOINT_URL and the "
                "credentials in the environment; the step is retried."
            )
        ) from exc


def write_dataset_files(table: pa.Table, staging: Path, name: str, formats) -> None:
    """One dataset's files in the package: `<name>.csv` with formula-leading cells neutralised
    (OWASP CSV injection: a recipient opens it in a spreadsheet), `<name>.parquet` as stored;
    calendar columns are DATE in both (ISO text in the CSV)."""
    table = calendar_typed(table)
    if "csv" in formats:
        write_recipient_csv(table, staging / f"{name}.csv")
    if "parquet" in formats:
        pq.write_table(table, staging / f"{name}.parquet")


def _assemble(
    recipient: Recipient,
    period: str,
    policy,
    storage: StorageResource,
    staging,
    coverage: Coverage,
) -> dict:
    """Write the stored release's files and data dictionary into the staging folder.

    Refuses when there is no stored release, when the release has no line in the budget ledger
    or a budget is overspent, when a value is outside its vocabulary, or when Presidio finds an
    identifier.
    """
    out = storage.out_path
    for dataset in recipient.datasets:
        policy.check_recipient(recipient.recipient_class, dataset)
    release = latest_release(out, recipient.name, period)
    if release is None:
        raise ExportRefused(
            f"no stored release for {period}: materialize releases/{recipient.name} first"
        )
    charged, overspent = ledger_standing(
        out, release, recipient.name, recipient.recipient_class, policy
    )
    if not charged:
        raise ExportRefused(f"{release.release_id} has no line in the privacy-budget ledger")
    if overspent:
        raise ExportRefused(f"privacy budget overspent: {'; '.join(overspent)}")
    datasets = {}
    for name in recipient.datasets:
        table = release.table(name)
        expected = dataset_schema(name, policy, release_period(recipient))
        if not table.schema.equals(expected):
            raise ExportRefused(f"{name}: the stored release does not have the documented columns")
        outside = vocabulary_findings(name, table, policy)
        if outside:
            raise ExportRefused(f"{name}: values outside their vocabulary: {outside}")
        findings = identifier_findings(table)
        if findings:
            raise ExportRefused(f"{name}: the identifier scan found {findings}")
        write_dataset_files(table, staging, name, recipient.formats)
        crash_point("export")
        datasets[name] = {
            "rows": table.num_rows,
            "rho": release.record["datasets"][name]["rho"],
            "source": f"{release.release_id}/{name}.parquet",
        }
    (staging / "README.md").write_text(_readme(recipient, release, policy, coverage))
    return {
        "recipient": recipient.name,
        "cadence": recipient.cadence,
        "recipient_class": recipient.recipient_class,
        "period": period,
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "datasets": datasets,
        "release": {
            key: release.record[key]
            for key in (
                "release_id",
                "version",
                "corrects",
                "note",
                "rho",
                "delta",
                "epsilon_at_delta",
                "months_charged",
                "built_at",
                "draws",
            )
        },
        "coverage": {
            "complete": coverage.is_complete,
            "first_day": coverage.summary()["first_day"],
            "last_day": coverage.summary()["last_day"],
            "days": coverage.days_expected,
        },
        "generated_on": datetime.now(UTC).date().isoformat(),
    }
