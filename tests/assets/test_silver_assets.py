"""Silver through dagster.materialize(): refusal without a key, metadata, checks."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from assets.bronze import BRONZE_ASSETS
from assets.silver import SILVER_ASSETS
from pipelines.resources import (
    DeidentificationResource,
    IngestionResource,
    PseudonymizationResource,
    StorageResource,
)
from pipelines.runner import partition_dates

KEY = "silver-test-key-0123456789abcdef0123456789"


def _resources(raw: Path, out: Path, pseudonymization: PseudonymizationResource) -> dict:
    return {
        "storage": StorageResource(raw_dir=str(raw), out_dir=str(out)),
        "ingestion": IngestionResource(),
        "pseudonymization": pseudonymization,
        "deidentification": DeidentificationResource(workers=1),
    }


def test_silver_refuses_to_run_without_a_key(small_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    date_key = partition_dates(small_sample, out)[1]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*BRONZE_ASSETS, *SILVER_ASSETS],
            partition_key=date_key,
            resources=_resources(small_sample, out, PseudonymizationResource()),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    messages = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert any("PSEUDONYMIZATION_KEY is not set" in m for m in messages)
    assert not (out / "silver" / "deidentified_events").exists()


def test_silver_metadata_counts_entities_dropped_fields_and_key_version(
    small_sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    date_key = partition_dates(small_sample, out)[1]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*BRONZE_ASSETS, *SILVER_ASSETS],
            partition_key=date_key,
            resources=_resources(
                small_sample, out, PseudonymizationResource(key=KEY, key_version="k7")
            ),
            instance=instance,
        )
    assert result.success
    by_asset = {
        e.event_specific_data.materialization.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    events = by_asset["silver/deidentified_events"]
    assert events["pseudonymization_key_version"].value == "k7"
    assert "PERSON" in events["entities_found"].value
    assert "properties.email" in events["fields_dropped"].value
    assert "preview" not in events, "no row-level preview: the event log outlives erasure"
    assert "| event | login |" in events["rows_by_value"].value
    assert KEY not in str(events)
    # Dagster keeps metadata for as long as the instance lives, beyond any erasure: no
    # pseudonym (32 hex digits) of any person appears in any silver metadata.
    for name, metadata in by_asset.items():
        if name.startswith("silver/"):
            assert not re.search(r"\b[0-9a-f]{32}\b", str(metadata)), name
    requests = by_asset["silver/web_requests"]
    assert requests["requests_linked_to_accounts"].value > 0
    assert by_asset["silver/user_profiles"]["dagster/row_count"].value > 0
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["no_identifier_left"] is True
    table = pq.read_table(
        out / "silver" / "deidentified_events" / f"date={date_key}" / "part-0.parquet"
    )
    assert table.num_rows == by_asset["bronze/app_events"]["dagster/row_count"].value


def test_a_silver_partition_that_fails_its_check_is_not_published(
    small_sample: Path, tmp_path: Path, monkeypatch
) -> None:
    """Fault injection: the pattern scrubber stops working (a regression) while the field
    policy keeps raw IP addresses. The blocking check must keep the leak out of silver."""
    from deidentify.scrubber import Scrubber
    from lakehouse import coverage

    out = tmp_path / "out"
    date_key = partition_dates(small_sample, out)[1]
    key = PseudonymizationResource(key=KEY, key_version="k7")
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [*BRONZE_ASSETS, *SILVER_ASSETS],
            partition_key=date_key,
            resources=_resources(small_sample, out, key),
            instance=instance,
        ).success
    published = out / "silver" / "deidentified_events" / f"date={date_key}" / "part-0.parquet"
    before = published.read_bytes()
    assert coverage.status_of(out, "deidentified_events", date_key) == "complete"

    policy = Path(DeidentificationResource().field_policy_path).read_text()
    leaky = tmp_path / "leaky_policy.yaml"
    leaky.write_text(
        policy.replace(
            "ip:         {action: generalize, method: ip}",
            "ip:         {action: keep, type: string, column: raw_ip}",
            1,
        )
    )
    monkeypatch.setattr(
        Scrubber, "scrub_structured", lambda self, values, weights=None: list(values)
    )
    resources = {
        **_resources(small_sample, out, key),
        "deidentification": DeidentificationResource(workers=1, field_policy_path=str(leaky)),
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*BRONZE_ASSETS, *SILVER_ASSETS],
            selection=[SILVER_ASSETS[0].key, SILVER_ASSETS[2].key],
            partition_key=date_key,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
    (check,) = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "no_identifier_left"
    ]
    assert not check.passed
    assert published.read_bytes() == before, "the previous file stays"
    candidate = out / "silver" / "_candidates" / "deidentified_events" / f"date={date_key}"
    assert "raw_ip" in pq.read_table(candidate / "part-0.parquet").schema.names
    assert oct(candidate.stat().st_mode & 0o777) == "0o700"
    assert coverage.status_of(out, "deidentified_events", date_key) is None
    assert coverage.status_of(out, "user_profiles", date_key) is None
