"""End to end: the bronze assets through dagster.materialize() on generated and real logs."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.bronze import BRONZE_ASSETS
from pipelines.resources import IngestionResource, PseudonymizationResource, StorageResource
from pipelines.runner import partition_dates


def _resources(raw: Path, out: Path, **ingestion: object) -> dict:
    return {
        "storage": StorageResource(raw_dir=str(raw), out_dir=str(out)),
        "ingestion": IngestionResource(**ingestion),
        # No key: bronze needs one only once the erasure ledger has entries.
        "pseudonymization": PseudonymizationResource(),
    }


def _materialize_all(
    raw: Path, out: Path, instance: dg.DagsterInstance
) -> list[dg.ExecuteInProcessResult]:
    results = []
    for date_key in partition_dates(raw, out):
        result = dg.materialize(
            BRONZE_ASSETS, partition_key=date_key, resources=_resources(raw, out), instance=instance
        )
        assert result.success
        results.append(result)
    return results


def _read_layer(out: Path, layer: str, source: str) -> pa.Table:
    return pa.concat_tables(
        pq.read_table(p) for p in sorted((out / layer / source).glob("date=*/part-0.parquet"))
    )


def test_generated_logs_every_line_is_a_row_or_a_quarantine_entry(
    small_sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with dg.instance_for_test() as instance:
        results = _materialize_all(small_sample, out, instance)
    summary = json.loads((small_sample / "ground_truth" / "summary.json").read_text())
    with open(small_sample / "ground_truth" / "malformed.csv", encoding="utf-8") as stream:
        malformed = list(csv.DictReader(stream))
    assert malformed, "the fixture plants malformed lines"

    for source, prefix in (("app_events", "events/"), ("access_log", "access/")):
        total = sum(v for k, v in summary["lines_per_file"].items() if k.startswith(prefix))
        bronze = _read_layer(out, "bronze", source)
        quarantine = _read_layer(out, "quarantine", source)
        assert bronze.num_rows + quarantine.num_rows == total
        planted = {(m["file"], int(m["line"])) for m in malformed if m["source"] == source}
        found = set(
            zip(
                quarantine.column("source_file").to_pylist(),
                quarantine.column("line_number").to_pylist(),
                strict=True,
            )
        )
        assert found == planted
        keys = list(
            zip(
                bronze.column("source_file").to_pylist(),
                bronze.column("source_line").to_pylist(),
                strict=True,
            )
        )
        assert len(keys) == len(set(keys)), "a raw line became two bronze rows"

    events = _read_layer(out, "bronze", "app_events")
    assert events.num_rows == summary["events"] - sum(
        m["source"] == "app_events" for m in malformed
    )
    checks = [c for r in results for c in r.get_asset_check_evaluations()]
    assert checks and all(c.passed for c in checks)


def test_metadata_shows_counts_but_no_personal_data(small_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with dg.instance_for_test() as instance:
        result = _materialize_all(small_sample, out, instance)[1]
    with gzip.open(
        small_sample / "ground_truth" / "identifiers.csv.gz", "rt", encoding="utf-8"
    ) as stream:
        planted = {row["value"] for row in csv.DictReader(stream) if len(row["value"]) > 5}
    for event in result.get_asset_materialization_events():
        metadata = event.event_specific_data.materialization.metadata
        assert metadata["dagster/row_count"].value > 0
        assert "quarantine_reasons" in metadata
        text = json.dumps({k: str(v) for k, v in metadata.items()})
        assert not [value for value in planted if value in text]


def test_rerunning_a_partition_replaces_it(small_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    date_key = partition_dates(small_sample, out)[1]
    with dg.instance_for_test() as instance:
        for _ in range(2):
            assert dg.materialize(
                BRONZE_ASSETS,
                partition_key=date_key,
                resources=_resources(small_sample, out),
                instance=instance,
            ).success
    files = list((out / "bronze" / "app_events").rglob("*"))
    assert [p.name for p in files if p.is_file()] == ["part-0.parquet"]
    table = pq.read_table(out / "bronze" / "app_events" / f"date={date_key}" / "part-0.parquet")
    assert table.num_rows == len(set(table.column("event_id").to_pylist()))


def test_real_apache_sample_through_dagster(apache_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    access = [a for a in BRONZE_ASSETS if a.key == dg.AssetKey(["bronze", "access_log"])]
    rows = quarantined = 0
    with dg.instance_for_test() as instance:
        for date_key in partition_dates(apache_raw, out):
            result = dg.materialize(
                access,
                partition_key=date_key,
                resources=_resources(apache_raw, out),
                instance=instance,
            )
            metadata = result.get_asset_materialization_events()[
                0
            ].event_specific_data.materialization.metadata
            rows += metadata["dagster/row_count"].value
            quarantined += metadata["rows_quarantined"].value
    assert (rows, quarantined) == (9_999, 1)


def test_too_many_rejects_fail_the_run_with_the_reason(small_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    date_key = partition_dates(small_sample, out)[1]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            BRONZE_ASSETS,
            partition_key=date_key,
            resources=_resources(small_sample, out, max_rejected_share=0.0, tolerated_rejects=0),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures
    assert "above the limit" in failures[0].step_failure_data.error.message
