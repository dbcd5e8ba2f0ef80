"""Hostile files and dates: refused or quarantined with a reason, never followed, never lost."""

from __future__ import annotations

import gzip
import os
from datetime import date
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from lakehouse.ingest.access_log import parse_access_line
from lakehouse.ingest.app_events import parse_event_line
from lakehouse.ingest.bronze import UNDATED_PARTITION, quarantine_refused_files
from lakehouse.ingest.raw_lines import DecompressionLimit, iter_raw_lines
from lakehouse.ingest.routing import build_file_index, index_source
from lakehouse.ingest.sources import APP_EVENTS
from lakehouse.intake import Inventory, plan_days
from lakehouse.storage import partition_file


def _event(ts: str, **extra: object) -> bytes:
    return orjson.dumps({"event_id": "e", "ts": ts, "event": "login", **extra})


def test_integers_past_64_bits_are_quarantined_per_line() -> None:
    base = _event("2026-10-01T00:00:00Z", properties={"amount_cents": 1})
    for number in (2**63, -(2**63) - 1, 2**64 + 5, 10**30):
        line = base.replace(b'"amount_cents":1', f'"amount_cents":{number}'.encode())
        day, row, why = parse_event_line(line)
        assert row is None and why is not None, number
        assert why.split(":")[0] in {"number_out_of_range", "invalid_json"}, why
        assert day in ("2026-10-01", None)
    edge = base.replace(b'"amount_cents":1', f'"amount_cents":{2**63 - 1}'.encode())
    assert parse_event_line(edge)[1] is not None
    as_text = _event("2026-10-01T00:00:00Z", properties={"ref": "123456789012345678901234"})
    assert parse_event_line(as_text)[1] is not None
    request = b'203.0.113.9 - - [01/Oct/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 %s "-" "curl/8"'
    day, row, why = parse_access_line(request % (b"9" * 25))
    assert (day, row) == ("2026-10-01", None) and why.startswith("number_out_of_range")
    assert parse_access_line(request % b"9223372036854775807")[1] is not None


def test_a_gzip_bomb_is_refused_whole_after_reading_only_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as bomb:
        for _ in range(64):
            bomb.write((b"x" * 1023 + b"\n") * 1024)
    limit = DecompressionLimit(max_bytes=4 << 20, max_ratio=200, ratio_after_bytes=1 << 20)
    lines = list(iter_raw_lines(path, limit=limit))
    assert lines[-1].error and lines[-1].error.startswith("decompression_limit:")
    assert "expands more than 200 times" in lines[-1].error
    assert len(lines) < 8_192  # at most an eighth of the 64 MiB is read
    absolute = DecompressionLimit(max_bytes=2 << 20, max_ratio=10_000, ratio_after_bytes=1 << 20)
    assert "expands beyond 2,097,152 bytes" in list(iter_raw_lines(path, limit=absolute))[-1].error


def test_links_folders_and_pipes_are_refused_and_never_read(tmp_path: Path) -> None:
    raw, out, outside = tmp_path / "raw", tmp_path / "out", tmp_path / "outside"
    (raw / "events").mkdir(parents=True)
    outside.mkdir()
    secret = outside / "secret.jsonl"
    secret.write_bytes(_event("2026-10-01T00:00:00Z", user_agent="outside-marker") + b"\n")
    os.symlink(secret, raw / "events" / "linked.jsonl")
    os.mkfifo(raw / "events" / "pipe.jsonl")
    (raw / "events" / "folder.jsonl").mkdir()
    (raw / "events" / "good.jsonl").write_bytes(_event("2026-10-01T01:00:00Z") + b"\n")

    assert [p.name for p in APP_EVENTS.files(raw)] == ["good.jsonl"]
    refused = {p.name: why for p, why in APP_EVENTS.refused_files(raw)}
    assert set(refused) == {"linked.jsonl", "pipe.jsonl", "folder.jsonl"}
    assert "symbolic link" in refused["linked.jsonl"]
    [line] = list(iter_raw_lines(raw / "events" / "linked.jsonl"))
    assert line.error and line.error.startswith("not_a_regular_file:")
    [line] = list(iter_raw_lines(raw / "events" / "pipe.jsonl"))
    assert line.error and "named pipe" in line.error

    indexes = index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    counts = quarantine_refused_files(APP_EVENTS, raw, out, indexes)
    assert counts == {"not_a_regular_file": 3}
    table = pq.read_table(partition_file(out, "quarantine", "app_events", UNDATED_PARTITION))
    assert b"outside-marker" not in b"".join(table.column("raw_line").to_pylist())


def test_a_linked_source_folder_is_refused_whole(tmp_path: Path) -> None:
    raw, outside = tmp_path / "raw", tmp_path / "outside"
    raw.mkdir()
    outside.mkdir()
    (outside / "a.jsonl").write_bytes(_event("2026-10-01T00:00:00Z") + b"\n")
    os.symlink(outside, raw / "events")
    assert APP_EVENTS.files(raw) == []
    [(path, why)] = APP_EVENTS.refused_files(raw)
    assert path.name == "events" and "symbolic link" in why


def test_an_undated_file_keeps_every_line_in_quarantine(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "events").mkdir(parents=True)
    (raw / "events" / "junk.jsonl").write_bytes(b'not json\n{"ts": 5}\n\n')
    indexes = index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    assert indexes[0].date_counts == {}
    assert quarantine_refused_files(APP_EVENTS, raw, out, indexes) == {"undated_file": 1}
    table = pq.read_table(partition_file(out, "quarantine", "app_events", UNDATED_PARTITION))
    assert table.column("line_number").to_pylist() == [1, 2, 3]
    assert set(table.column("reason_code").to_pylist()) == {"undated_file"}


def _inventory(days: list[str]) -> Inventory:
    return Inventory(indexes={}, found=sorted(days))


def test_days_are_closed_waiting_or_out_of_the_window() -> None:
    today = date(2026, 11, 25)
    found = ["2010-03-03", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2031-05-05"]
    plan = plan_days(_inventory(found), today, "2015-01-01")
    assert plan.closed == ["2026-11-24"]
    assert plan.waiting == ["2026-11-25", "2026-11-26"]
    assert sorted(plan.out_of_window) == ["2010-03-03", "2026-11-27", "2031-05-05"]
    assert all(why.startswith("out_of_window: ") for why in plan.out_of_window.values())
    later = plan_days(_inventory(found), date(2026, 11, 27), "2015-01-01")
    assert later.closed == ["2026-11-24", "2026-11-25", "2026-11-26"]


def test_the_index_no_longer_trusts_the_modification_time(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "events").mkdir(parents=True)
    path = raw / "events" / "blank.jsonl"
    path.write_bytes(b"\n\n")
    index = build_file_index(APP_EVENTS, raw, path, 1 << 20)
    assert index.refused and index.date_counts == {}


def test_a_byte_order_mark_lowercase_z_and_foreign_digits_in_times() -> None:
    from lakehouse.ingest.access_log import parse_access_line

    assert parse_event_line(_event("2026-10-02T10:00:00z"))[0] == "2026-10-02"
    arabic_day = "\u0660\u0661/Oct/2026:10:00:00 +0000"
    line = f'1.2.3.4 - - [{arabic_day}] "GET / HTTP/1.1" 200 5 "-" "x"'.encode()
    assert parse_access_line(line)[2].startswith("bad_timestamp")


def test_a_utf8_byte_order_mark_at_the_start_of_a_file_is_not_part_of_line_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _event("2026-10-02T10:00:00Z") + b"\n")
    [line] = list(iter_raw_lines(path))
    assert parse_event_line(line.data)[1] is not None
