"""Parse once: the index pass stages each date's lines, the partition reads them instead of
the raw file, and the result is the same bronze and quarantine, row for row."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from deidentify.pseudonymize import PseudonymKey
from lakehouse.erasure import ErasedSubjects, sweep
from lakehouse.ingest.bronze import IngestSettings, ingest_partition
from lakehouse.ingest.routing import dates_found, index_source
from lakehouse.ingest.sources import ACCESS_LOG, APP_EVENTS
from lakehouse.ingest.staging import staged_folder, staged_root
from pipelines.sample.generator import GeneratorConfig, generate

LOOSE = IngestSettings(max_rejected_share=1.0)


def _ingest_all(raw: Path, out: Path, drop_staged_first: bool) -> dict:
    tables = {}
    for source in (APP_EVENTS, ACCESS_LOG):
        for date_key in dates_found(index_source(source, raw, out, 1 << 20, workers=1)):
            if drop_staged_first:
                shutil.rmtree(staged_root(out), ignore_errors=True)
            report = ingest_partition(source, raw, out, date_key, LOOSE)
            assert report.accounted_for
            assert (report.staged_files > 0) == (not drop_staged_first)
            tables[(source.name, date_key)] = (
                pq.read_table(report.bronze_path),
                pq.read_table(report.quarantine_path),
            )
    return tables


def test_staged_lines_make_the_same_bronze_as_parsing_again(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate(GeneratorConfig(out=raw, days=3, users=80, seed=3, events=4000, malformed_rate=0.02))
    staged = _ingest_all(raw, tmp_path / "staged", drop_staged_first=False)
    parsed = _ingest_all(raw, tmp_path / "parsed", drop_staged_first=True)
    assert staged.keys() == parsed.keys() and len(staged) >= 6
    for key in staged:
        assert staged[key][0].equals(parsed[key][0]), key
        assert staged[key][1].equals(parsed[key][1]), key
        assert staged[key][1].num_rows or staged[key][0].num_rows
    assert sum(t[1].num_rows for t in staged.values()) > 0
    leftovers = [p for p in staged_root(tmp_path / "staged").rglob("*.arrow")]
    assert leftovers == [], "a published partition leaves no staged lines behind"


def test_staged_lines_of_a_changed_file_are_never_used(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate(GeneratorConfig(out=raw, days=1, users=20, seed=4, events=300))
    out = tmp_path / "out"
    indexes = index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    main = max(indexes, key=lambda index: index.lines)
    assert main.relative_path.endswith(".jsonl")
    old = staged_folder(out, APP_EVENTS, main.relative_path, main.size, main.mtime_ns)
    assert list(old.glob("*.arrow"))
    path = raw / main.relative_path
    first_line = path.read_bytes().splitlines(keepends=True)[0]
    path.write_bytes(path.read_bytes() + first_line)
    [date_key] = [date for first, _, date in main.date_runs if first == 1]
    report = ingest_partition(APP_EVENTS, raw, out, date_key, LOOSE)
    assert report.accounted_for
    assert not old.exists(), "the lines staged for the file's old state are gone"
    appended = pq.read_table(report.bronze_path).filter(
        pc.equal(pq.read_table(report.bronze_path)["source_line"], main.lines + 1)
    )
    assert appended.num_rows == 1


def test_the_erasure_sweep_drops_every_staged_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate(GeneratorConfig(out=raw, days=2, users=20, seed=5, events=300))
    out = tmp_path / "out"
    index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    assert list(staged_root(out).rglob("*.arrow"))
    key = PseudonymKey(b"staging-test-key-0123456789abcdef", "test")
    sweep(out, ErasedSubjects(key, {"nobody"}, set()))
    assert not staged_root(out).exists()


def test_staged_lines_are_owner_only(tmp_path: Path) -> None:
    """They hold what bronze holds: raw identifiers."""
    raw = tmp_path / "raw"
    generate(GeneratorConfig(out=raw, days=1, users=20, seed=6, events=200))
    out = tmp_path / "out"
    index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    files = list(staged_root(out).rglob("*.arrow"))
    folders = [p for p in staged_root(out).rglob("*") if p.is_dir()] + [staged_root(out)]
    assert files and folders
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o700}


def test_bronze_row_groups_are_whole_batches_but_the_last(tmp_path: Path) -> None:
    """Staged runs of any size are regrouped: every row group holds `batch_rows` rows except
    the last (uneven groups left silver's NER workers idle between a large and a small one)."""
    raw = tmp_path / "raw"
    generate(GeneratorConfig(out=raw, days=1, users=50, seed=8, events=3000, malformed_rate=0.02))
    out = tmp_path / "out"
    settings = IngestSettings(max_rejected_share=1.0, batch_rows=97)
    for source in (APP_EVENTS, ACCESS_LOG):
        for date_key in dates_found(index_source(source, raw, out, 1 << 14, workers=1)):
            report = ingest_partition(source, raw, out, date_key, settings)
            metadata = pq.ParquetFile(report.bronze_path).metadata
            groups = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
            assert sum(groups) == report.rows
            assert all(rows == 97 for rows in groups[:-1]), groups
            assert 0 < groups[-1] <= 97


def test_a_background_writer_keeps_order_and_raises_what_failed(tmp_path: Path) -> None:
    """Writes on the writer's thread land in order; a failed one surfaces on exit and leaves
    no file behind, nor anything that stood at the target replaced."""
    import pyarrow as pa
    import pytest

    from lakehouse.storage import AtomicParquetWriter

    schema = pa.schema([pa.field("n", pa.int64())])
    target = tmp_path / "part.parquet"
    with AtomicParquetWriter(target, schema, background=True) as writer:
        for start in range(0, 1000, 100):
            writer.write(pa.table({"n": list(range(start, start + 100))}, schema=schema))
    assert pq.read_table(target).column("n").to_pylist() == list(range(1000))
    wrong = pa.table({"other": ["x"]})
    with pytest.raises(ValueError), AtomicParquetWriter(target, schema, background=True) as writer:
        writer.write(pa.table({"n": [1]}, schema=schema))
        writer.write(wrong)
    assert pq.read_table(target).column("n").to_pylist() == list(range(1000))
    assert [p.name for p in tmp_path.iterdir()] == ["part.parquet"]


def test_damaged_or_missing_staged_lines_are_parsed_again(tmp_path: Path) -> None:
    """A staged file cut short, or one of a date's two files gone (a crash between their
    renames), must not become bronze: the partition parses the raw file instead."""
    raw = tmp_path / "raw"
    generate(GeneratorConfig(out=raw, days=1, users=30, seed=9, events=600, malformed_rate=0.05))
    expected = _ingest_all(raw, tmp_path / "parsed", drop_staged_first=True)
    out = tmp_path / "out"
    indexes = index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    main = max(indexes, key=lambda index: index.lines)
    folder = staged_folder(out, APP_EVENTS, main.relative_path, main.size, main.mtime_ns)
    rows = sorted(folder.glob("*.rows.arrow"))
    quarantine = sorted(folder.glob("*.quarantine.arrow"))
    assert rows and quarantine
    rows[0].write_bytes(rows[0].read_bytes()[:-100])
    quarantine[-1].unlink()
    for date_key in dates_found(indexes):
        report = ingest_partition(APP_EVENTS, raw, out, date_key, LOOSE)
        assert report.accounted_for
        bronze, quarantined = expected[("app_events", date_key)]
        assert pq.read_table(report.bronze_path).equals(bronze)
        assert pq.read_table(report.quarantine_path).equals(quarantined)
