from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.ingest.bronze import (
    IngestSettings,
    RejectedShareExceeded,
    ingest_partition,
)
from lakehouse.ingest.routing import dates_found, index_source
from lakehouse.ingest.sources import ACCESS_LOG, APP_EVENTS

SAMPLE_DATES = ["2015-05-17", "2015-05-18", "2015-05-19", "2015-05-20"]


def test_real_apache_sample_every_line_accounted_for(apache_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    dates = dates_found(index_source(ACCESS_LOG, apache_raw, out, 1 << 20))
    assert dates == SAMPLE_DATES
    reports = [ingest_partition(ACCESS_LOG, apache_raw, out, d) for d in dates]
    assert sum(r.lines for r in reports) == 10_000
    assert sum(r.rows for r in reports) == 9_999
    assert sum(r.rejected for r in reports) == 1
    assert all(r.accounted_for for r in reports)
    on_disk = sum(pq.ParquetFile(r.bronze_path).metadata.num_rows for r in reports)
    quarantined = pa.concat_tables([pq.read_table(r.quarantine_path) for r in reports])
    assert on_disk == 9_999
    assert quarantined.num_rows == 1
    entry = quarantined.to_pylist()[0]
    assert entry["line_number"] == 8899
    assert entry["source_file"] == "access/apache_combined_sample.log"
    assert entry["reason_code"] == "not_combined_log_format"
    assert entry["raw_line"].startswith(b"46.118.127.106 - - [20/May/2015:12:05:17 +0000]")
    lines = pa.concat_tables(
        [pq.read_table(r.bronze_path, columns=["source_line"]) for r in reports]
    )
    assert sorted(lines.column("source_line").to_pylist()) == [
        n for n in range(1, 10_001) if n != 8899
    ]


def test_rerun_replaces_and_never_duplicates(apache_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = ingest_partition(ACCESS_LOG, apache_raw, out, "2015-05-18")
    before = pq.read_table(first.bronze_path)
    second = ingest_partition(ACCESS_LOG, apache_raw, out, "2015-05-18")
    after = pq.read_table(second.bronze_path)
    assert after.num_rows == before.num_rows == 2893
    assert after.equals(before)
    leftovers = [p.name for p in first.bronze_path.parent.iterdir() if p.name != "part-0.parquet"]
    assert leftovers == []


def test_bronze_and_quarantine_are_owner_only(apache_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = ingest_partition(ACCESS_LOG, apache_raw, out, "2015-05-20")
    for folder in (out / "bronze", out / "quarantine"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (report.bronze_path, report.quarantine_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_date_without_lines_gives_an_empty_partition(apache_raw: Path, tmp_path: Path) -> None:
    report = ingest_partition(ACCESS_LOG, apache_raw, tmp_path / "out", "2015-06-01")
    assert (report.lines, report.rows, report.rejected) == (0, 0, 0)
    assert pq.read_table(report.bronze_path).schema.equals(ACCESS_LOG.schema)


def _mostly_bad(raw: Path, good: int, bad: int) -> None:
    folder = raw / "events"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        orjson.dumps({"event_id": f"e{i}", "ts": "2026-10-01T10:00:00Z", "event": "login"})
        for i in range(good)
    ] + [b'{"event_id": "x", "ts": "2026-10-01T10:00:00Z"}'] * bad
    (folder / "day.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def test_too_many_rejects_fail_loudly_and_keep_the_old_bronze(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    _mostly_bad(raw, good=10, bad=0)
    good = ingest_partition(APP_EVENTS, raw, out, "2026-10-01")
    assert good.rows == 10
    _mostly_bad(raw, good=10, bad=5)
    with pytest.raises(RejectedShareExceeded) as failure:
        ingest_partition(
            APP_EVENTS,
            raw,
            out,
            "2026-10-01",
            IngestSettings(max_rejected_share=0.2, tolerated_rejects=0),
        )
    message = str(failure.value)
    assert "5 of 15 lines" in message and "missing_field x5" in message
    assert "max_rejected_share" in message
    assert pq.read_table(good.bronze_path).num_rows == 10
    assert pq.read_table(good.quarantine_path).num_rows == 5
    relaxed = ingest_partition(
        APP_EVENTS,
        raw,
        out,
        "2026-10-01",
        IngestSettings(max_rejected_share=0.5, tolerated_rejects=0),
    )
    assert (relaxed.rows, relaxed.rejected) == (10, 5)


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_rejected_share"):
        IngestSettings(max_rejected_share=1.5)
    with pytest.raises(ValueError, match="max_line_bytes"):
        IngestSettings(max_line_bytes=10)


def test_a_few_rejects_in_a_tiny_partition_are_tolerated(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    _mostly_bad(raw, good=3, bad=2)
    report = ingest_partition(
        APP_EVENTS, raw, out, "2026-10-01", IngestSettings(max_rejected_share=0.02)
    )
    assert (report.rows, report.rejected, report.published) == (3, 2, True)


def test_the_account_directory_gathered_while_writing_equals_one_read_from_bronze(
    tmp_path: Path,
) -> None:
    """The directory is built from the batches as they are written; read back from the
    published bronze file it must be the same, entry for entry."""
    from lakehouse.accounts import day_entries, directory_file
    from pipelines.sample.generator import GeneratorConfig, generate

    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(GeneratorConfig(out=raw, days=2, users=80, seed=11, events=4000))
    day = dates_found(index_source(APP_EVENTS, raw, out, 1 << 20))[1]
    report = ingest_partition(APP_EVENTS, raw, out, day, IngestSettings(batch_rows=500))
    written = pq.read_table(directory_file(out, day))
    assert written.num_rows == report.account_entries > 0
    assert set(written.column("kind").to_pylist()) == {"email", "user_id"}
    assert written.equals(day_entries(report.bronze_path))
