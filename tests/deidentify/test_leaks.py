"""The test that would catch a leak: every planted identifier is searched for in silver."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.bronze import BRONZE_ASSETS
from assets.silver import SILVER_ASSETS
from pipelines.resources import (
    DeidentificationResource,
    IngestionResource,
    PseudonymizationResource,
    StorageResource,
)
from pipelines.runner import partition_dates
from pipelines.sample.generator import GeneratorConfig, generate
from pipelines.sample.ground_truth import leak_report, load_planted, silver_texts

TEST_KEY = "test-key-0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module", params=[11, 23], ids=["seed11", "seed23"])
def silver_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp(f"leak{request.param}")
    raw, out = base / "raw", base / "out"
    generate(GeneratorConfig(out=raw, days=3, users=150, seed=request.param))
    resources = {
        "storage": StorageResource(raw_dir=str(raw), out_dir=str(out)),
        "ingestion": IngestionResource(),
        "pseudonymization": PseudonymizationResource(key=TEST_KEY, key_version="test-1"),
        "deidentification": DeidentificationResource(workers=1),
    }
    with dg.instance_for_test() as instance:
        for date_key in partition_dates(raw, out):
            result = dg.materialize(
                [*BRONZE_ASSETS, *SILVER_ASSETS],
                partition_key=date_key,
                resources=resources,
                instance=instance,
            )
            assert result.success
            assert all(c.passed for c in result.get_asset_check_evaluations())
    return raw, out


def test_no_structured_identifier_and_99_percent_of_free_text_identifiers_are_gone(
    silver_run: tuple[Path, Path],
) -> None:
    raw, out = silver_run
    planted = load_planted(raw)
    report = leak_report(planted, silver_texts(out))
    print(
        f"\nplanted: {report.structured_total} structured, {report.free_text_total} in free text; "
        f"leaked: {report.structured_leaked} structured, {report.free_text_leaked} free text; "
        f"free-text identifiers removed: {report.free_text_removed_share:.2%}; by kind: {dict(report.leaked_by_kind)}"
    )
    assert report.structured_total > 500 and report.free_text_total > 50
    assert report.structured_leaked == 0, report.examples
    assert report.free_text_removed_share >= 0.99, report.examples


def test_silver_records_the_key_version_and_no_raw_key(silver_run: tuple[Path, Path]) -> None:
    _, out = silver_run
    events = pa.concat_tables(
        pq.read_table(p) for p in (out / "silver" / "deidentified_events").rglob("*.parquet")
    )
    assert set(events.column("key_version").to_pylist()) == {"test-1"}
    for path in (out / "silver").rglob("*.parquet"):
        assert TEST_KEY.encode() not in path.read_bytes()


def test_a_planted_leak_would_be_caught(silver_run: tuple[Path, Path]) -> None:
    raw, out = silver_run
    first_by_value = {p.value: p for p in load_planted(raw) if p.kind == "email" and "@" in p.value}
    planted = list(first_by_value.values())[:3]
    report = leak_report(planted, [*silver_texts(out), f"contact {planted[0].value.upper()} now"])
    assert report.structured_leaked + report.free_text_leaked == 1
    assert report.examples == [planted[0]]
