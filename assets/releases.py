"""Releases: one differentially private release per recipient and period, stored once.

The asset of a recipient draws the period's release from silver (OpenDP noise, contribution
bounds, closed vocabularies, key selection), checks it, charges it to the recipient's privacy
budget and stores it under `<out>/releases/<recipient>/<period>/v<N>/`. A rerun on unchanged
data re-uses the stored release and draws no fresh noise; a change (an erasure, a consent
change, a late day) makes a correction, charged again. The export asset delivers what is stored.
"""

import dagster as dg
import pyarrow as pa

from assets.charts import bar_chart_png, markdown_image
from assets.metadata import check_metadata, preview_markdown
from assets.partitions import monthly_partitions, partitioned_check, weekly_partitions
from deidentify.budget import BudgetExceeded, PrivacyAccountant
from deidentify.sharing_policy import PolicyViolation, guard_policy_version
from lakehouse.coverage import period_coverage
from lakehouse.locks import erasure_lock
from lakehouse.periods import period_label
from lakehouse.recipients import Recipient
from lakehouse.release_build import (
    ReleaseRejected,
    build_release,
    draw_units,
    identifier_findings,
    ledger_standing,
    vocabulary_findings,
)
from lakehouse.releases import CORRECTION_TAG, budget_ledger
from pipelines.resources import SharingPolicyResource, StorageResource

COMPLETE = "period_complete"
VOCABULARY = "values_in_vocabulary"
IDENTIFIERS = "no_identifier_in_release"
BUDGET = "charged_within_budget"
RELEASE_CHECKS = {
    COMPLETE: (
        "Every day the release draws from (the period, and for a dataset drawn by week every "
        "day of the weeks that touch it) is complete in silver, or recorded with no input."
    ),
    VOCABULARY: "Every dimension value is in its closed vocabulary (or `other`, `unknown`).",
    IDENTIFIERS: "Every string value re-scanned by Presidio (NER on search terms): no finding.",
    BUDGET: "The stored release has its line in the privacy-budget ledger and every budget holds.",
}
_SILVER = [
    dg.AssetKey(["silver", "deidentified_events"]),
    dg.AssetKey(["silver", "web_requests"]),
    dg.AssetKey(["silver", "user_profiles"]),
]


def release_period(recipient: Recipient) -> str:
    """`week` for a weekly recipient, else `month`."""
    return "week" if recipient.cadence == "weekly" else "month"


def _check_tables(tables: dict[str, pa.Table], policy, details: dict) -> list[str]:
    vocabulary = {n: f for n, t in tables.items() if (f := vocabulary_findings(n, t, policy))}
    identifiers = {n: f for n, t in tables.items() if (f := identifier_findings(t))}
    details[VOCABULARY] = (not vocabulary, {"values_outside": vocabulary})
    details[IDENTIFIERS] = (not identifiers, {"findings": identifiers})
    return [name for name in (VOCABULARY, IDENTIFIERS) if not details[name][0]]


def build_release_asset(recipient: Recipient) -> dg.AssetsDefinition:
    """The monthly (or weekly) release asset of one recipient, with its blocking checks."""
    key = dg.AssetKey(["releases", recipient.name])
    period = release_period(recipient)
    partitions = weekly_partitions if period == "week" else monthly_partitions

    @dg.asset(
        key=key,
        description=(
            f"Differentially private {period}ly release for {recipient.name} "
            f"({recipient.recipient_class}): {', '.join(recipient.datasets)}. Drawn once with "
            "OpenDP (each dataset's draw shared by all its recipients), charged to the "
            f"recipient's privacy budget, stored under releases/{recipient.name}/; reruns "
            "re-use it."
        ),
        deps=[
            dg.AssetDep(silver, partition_mapping=dg.TimeWindowPartitionMapping())
            for silver in _SILVER
        ],
        partitions_def=partitions,
        group_name="releases",
        kinds={"python", "parquet"},
        owners=["team:data-engineering"],
        tags={
            "layer": "releases",
            "recipient_class": recipient.recipient_class,
            "cadence": recipient.cadence,
            "personal_data": "no",
        },
        check_specs=[
            partitioned_check(name, key, partitions, description)
            for name, description in RELEASE_CHECKS.items()
        ],
    )
    def release_asset(
        context: dg.AssetExecutionContext, storage: StorageResource, sharing: SharingPolicyResource
    ) -> dg.MaterializeResult:
        policy = sharing.policy()
        window = context.partition_time_window
        start, end = window.start.date(), window.end.date()
        label = period_label(period, start)
        out = storage.out_path
        try:
            guard_policy_version(policy, out / "audit")
            for dataset in recipient.datasets:
                policy.check_recipient(recipient.recipient_class, dataset)
        except PolicyViolation as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        details: dict[str, tuple[bool, dict]] = {}
        with erasure_lock(out, exclusive=False):
            units = [
                unit
                for dataset in recipient.datasets
                for unit in draw_units(policy.release.datasets[dataset], period, label, start, end)
            ]
            coverage = period_coverage(out, min(u.start for u in units), max(u.end for u in units))
            details[COMPLETE] = (
                coverage.is_complete,
                {**coverage.summary(), "explanation": coverage.explain()},
            )
            if not coverage.is_complete:
                context.log.error(
                    f"{recipient.name} {label}: no release drawn, {coverage.explain()}"
                )
                return _result(details, {"released": False, "period": label})
            try:
                outcome = build_release(
                    out,
                    recipient.name,
                    recipient.recipient_class,
                    list(recipient.datasets),
                    policy,
                    period,
                    label,
                    start,
                    end,
                    lambda tables: _check_tables(tables, policy, details),
                    corrections=context.run.tags.get(CORRECTION_TAG) == "due",
                )
            except BudgetExceeded as exc:
                raise dg.Failure(description=str(exc), allow_retries=False) from exc
            except ReleaseRejected as exc:
                context.log.error(f"{recipient.name} {label}: {exc}; nothing was stored")
                return _result(details, {"released": False, "period": label})
        release = outcome.release
        tables = {name: release.table(name) for name in recipient.datasets}
        _check_tables(tables, policy, details)
        charged, overspent = ledger_standing(
            out, release, recipient.name, recipient.recipient_class, policy
        )
        details[BUDGET] = (
            charged and not overspent,
            {"release_id": release.release_id, "in_ledger": charged, "overspent": overspent},
        )
        month = period_label("month", start)
        left = PrivacyAccountant(budget_ledger(out), policy.release).spent(
            recipient.name, recipient.recipient_class, month
        )
        first = tables[recipient.datasets[0]]
        metadata = {
            "released": True,
            "period": label,
            "release_id": release.release_id,
            "version": release.version,
            "drawn_now": dg.MetadataValue.json(sorted(outcome.drawn)),
            "draws": dg.MetadataValue.json(release.record["draws"]),
            "note": release.record["note"],
            "rho": release.record["rho"],
            "delta": release.record["delta"],
            "epsilon_at_delta": dg.MetadataValue.json(release.record["epsilon_at_delta"]),
            "budget_after": dg.MetadataValue.json({"month": month, **left}),
            "rows": dg.MetadataValue.json({n: t.num_rows for n, t in tables.items()}),
            "dagster/row_count": sum(t.num_rows for t in tables.values()),
            "error95": dg.MetadataValue.md(_errors_markdown(release.record)),
            "preview": dg.MetadataValue.md(preview_markdown(first, first.schema.names)),
            "release_folder": dg.MetadataValue.path(str(release.path)),
        }
        if "daily_traffic" in tables:
            png = bar_chart_png(
                tables["daily_traffic"].to_pandas(), "day", "page_views", "released page views"
            )
            metadata["chart"] = dg.MetadataValue.md(markdown_image(png, "page views by day"))
        return _result(details, metadata)

    return release_asset


def _errors_markdown(record: dict) -> str:
    lines = ["| dataset | breakdown | measure | ±95% |", "| --- | --- | --- | ---: |"]
    for dataset, spec in record["datasets"].items():
        for breakdown, measures in spec["noise"].items():
            for measure, noise in measures.items():
                lines.append(f"| {dataset} | {breakdown} | {measure} | {noise['error95']:,} |")
    return "\n".join(lines)


def _result(details: dict, metadata: dict) -> dg.MaterializeResult:
    checks = []
    for name in RELEASE_CHECKS:
        passed, info = details.get(name, (False, {"explanation": "not checked: no release"}))
        checks.append(
            dg.AssetCheckResult(
                check_name=name,
                passed=passed,
                metadata=check_metadata(info),
                description=None if passed else str(info.get("explanation", info))[:500],
            )
        )
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
