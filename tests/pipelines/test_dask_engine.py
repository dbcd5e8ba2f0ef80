"""The Dask engine on a real LocalCluster (two worker processes) matches the in-process path."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from deidentify.field_policy import load_field_policy
from deidentify.pseudonymize import PseudonymKey
from lakehouse.accounts import resolve_bronze_accounts
from lakehouse.deidentify_partition import (
    dask_client,
    deidentify_in_process,
    deidentify_on_dask,
)
from lakehouse.storage import partition_file
from tests.pipelines.bronze_days import bronze_of_one_day

KEY = PseudonymKey(b"dask-test-key-0123456789abcdef0123456789", "k1")
DAY = "2026-10-02"


@pytest.fixture(scope="module")
def bronze_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bronze_of_one_day(
        tmp_path_factory.mktemp("dask"), DAY, users=400, seed=21, malformed_rate=0.0
    )


@pytest.fixture(scope="module")
def cluster_client():
    with dask_client(None, workers=2) as client:
        yield client


@pytest.mark.parametrize(
    ("source", "dataset"),
    [("app_events", "deidentified_events"), ("access_log", "web_requests")],
)
def test_dask_output_equals_in_process_output_row_for_row(
    bronze_day: Path, cluster_client, tmp_path: Path, source: str, dataset: str
) -> None:
    policy = load_field_policy()
    bronze = partition_file(bronze_day, "bronze", source, DAY)
    here, there = tmp_path / "here.parquet", tmp_path / "there.parquet"
    accounts = resolve_bronze_accounts(bronze_day, bronze) if source == "access_log" else None
    local = deidentify_in_process(
        bronze, here, policy, source, KEY, workers=1, batch_rows=100, accounts=accounts
    )
    remote = deidentify_on_dask(bronze, there, policy, source, KEY, 100, cluster_client, accounts)
    assert len(cluster_client.scheduler_info()["workers"]) == 2
    assert pq.ParquetFile(bronze).metadata.num_rows > 4 * 100, (
        "more batches than the 4 allowed in flight"
    )
    expected, got = pq.read_table(here), pq.read_table(there)
    assert got.num_rows == expected.num_rows == local.rows == remote.rows > 0
    assert got.schema == expected.schema
    assert got.equals(expected)
    if source == "access_log":
        assert got.column("user_key").null_count < got.num_rows, "requests tied to accounts"
    assert remote.entities == local.entities
    assert remote.fields_dropped == local.fields_dropped


def test_the_silver_asset_runs_on_dask_when_configured(bronze_day: Path, tmp_path: Path) -> None:
    from assets.silver import SILVER_ASSETS
    from pipelines.resources import (
        DeidentificationResource,
        PseudonymizationResource,
        StorageResource,
    )

    in_process = pq.read_table(
        partition_file(bronze_day, "bronze", "app_events", DAY)
    )  # bronze exists; silver is made twice below, once per engine
    assert in_process.num_rows > 0
    results = {}
    for engine in ("in_process", "dask"):
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                SILVER_ASSETS,
                selection=[dg.AssetKey(["silver", "deidentified_events"])],
                partition_key=DAY,
                instance=instance,
                resources={
                    "storage": StorageResource(raw_dir=str(tmp_path), out_dir=str(bronze_day)),
                    "pseudonymization": PseudonymizationResource(
                        key=KEY.secret.decode(), key_version=KEY.version
                    ),
                    "deidentification": DeidentificationResource(
                        engine=engine, workers=2, batch_rows=100
                    ),
                },
            )
        assert result.success
        meta = result.asset_materializations_for_node("silver__deidentified_events")[0].metadata
        assert meta["engine"].value == engine
        results[engine] = pq.read_table(
            partition_file(bronze_day, "silver", "deidentified_events", DAY)
        )
    assert results["dask"].equals(results["in_process"])
