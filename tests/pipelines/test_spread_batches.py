"""A structured-bound partition is spread over forked processes, whole batches each, and the
silver file and its counts are the same as when one process does the structured work."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import deidentify.scrubber as scrubber_module
import lakehouse.deidentify_partition as partition
from deidentify.field_policy import load_field_policy
from deidentify.pseudonymize import PseudonymKey
from lakehouse.accounts import resolve_bronze_accounts
from lakehouse.ingest.sources import SOURCES
from lakehouse.storage import partition_file
from tests.pipelines.bronze_days import bronze_of_one_day

KEY = PseudonymKey(b"spread-test-key-0123456789abcdef012345678", "k1")
DAY = "2026-10-02"


@pytest.fixture(scope="module")
def bronze_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bronze_of_one_day(
        tmp_path_factory.mktemp("spread"), DAY, users=300, seed=22, malformed_rate=0.01
    )


@pytest.mark.parametrize("source", ["app_events", "access_log"])
def test_spread_batches_make_the_same_silver(
    bronze_day: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    policy = load_field_policy()
    bronze = partition_file(bronze_day, "bronze", source, DAY)
    accounts = resolve_bronze_accounts(bronze_day, bronze) if source == "access_log" else None
    assert pq.ParquetFile(bronze).metadata.num_rows > 6 * 100
    monkeypatch.setattr(partition, "STRUCTURED_BOUND_NEW_TEXTS_PER_ROW", 0.0)
    kept = partition.deidentify_in_process(
        bronze, tmp_path / "kept.parquet", policy, source, KEY, 2, 100, accounts
    )
    spread_calls = []
    spread = partition._spread

    def counting_spread(*args, **kwargs):
        done = spread(*args, **kwargs)
        spread_calls.append(done.rows)
        return done

    monkeypatch.setattr(partition, "_spread", counting_spread)
    monkeypatch.setattr(partition, "STRUCTURED_BOUND_NEW_TEXTS_PER_ROW", float("inf"))
    spread_out = partition.deidentify_in_process(
        bronze, tmp_path / "spread.parquet", policy, source, KEY, 2, 100, accounts
    )
    assert spread_calls and spread_calls[0] > 0, "the rest of the partition was spread"
    expected = pq.read_table(tmp_path / "kept.parquet")
    got = pq.read_table(tmp_path / "spread.parquet")
    assert got.equals(expected)
    assert spread_out.rows == kept.rows == got.num_rows
    assert spread_out.entities == kept.entities
    assert spread_out.fields_dropped == kept.fields_dropped
    assert spread_out.values_generalized_by_rescan == kept.values_generalized_by_rescan
    assert spread_out.rescan_findings == kept.rescan_findings
    assert spread_out.values_outside_vocabulary == kept.values_outside_vocabulary


def _requests(targets: list[str]) -> pa.Table:
    rows = [
        {
            "remote_host": "203.0.113.5",
            "ts": datetime(2026, 10, 2, 12, tzinfo=UTC),
            "ts_offset_minutes": 0,
            "request_line": f"GET {target} HTTP/1.1",
            "method": "GET",
            "target": target,
            "status": 200,
            "source_file": "access.log",
            "source_line": i + 1,
        }
        for i, target in enumerate(targets)
    ]
    return pa.Table.from_pylist(rows, schema=SOURCES["access_log"].schema)


def test_url_query_entities_count_rows_whatever_the_batching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An e-mail in a kept query value is counted once per request that carries it, whether
    the partition is spread over processes, kept in one, or its URL memo emptied."""
    targets = ["/search?tab=jane@x.org", "/a", "/search?tab=jane@x.org&page=2", "/b"] * 75
    bronze = tmp_path / "bronze.parquet"
    pq.write_table(_requests(targets), bronze)
    carrying = sum("jane@x.org" in target for target in targets)
    counted = []
    for bound, limit in ((0.0, 200_000), (float("inf"), 200_000), (0.0, 2)):
        monkeypatch.setattr(partition, "STRUCTURED_BOUND_NEW_TEXTS_PER_ROW", bound)
        monkeypatch.setattr(scrubber_module, "MEMO_LIMIT", limit)
        done = partition.deidentify_in_process(
            bronze, tmp_path / "silver.parquet", load_field_policy(), "access_log", KEY, 2, 50, {}
        )
        assert pq.read_table(tmp_path / "silver.parquet").column("url_template").to_pylist()[
            :2
        ] == ["/search?tab=<EMAIL_ADDRESS>", "/{slug}"]
        counted.append(done.entities["EMAIL_ADDRESS"])
    assert counted == [carrying] * 3
