"""Silver through dagster.materialize(): refusal without a key, metadata, checks."""

from __future__ import annotations

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
    assert "| event_minute |" in events["preview"].value
    assert KEY not in str(events)
    assert by_asset["silver/user_profiles"]["dagster/row_count"].value > 0
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["no_identifier_left"] is True
    table = pq.read_table(
        out / "silver" / "deidentified_events" / f"date={date_key}" / "part-0.parquet"
    )
    assert table.num_rows == by_asset["bronze/app_events"]["dagster/row_count"].value
