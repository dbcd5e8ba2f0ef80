from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from lakehouse.ingest.bronze import ingest_partition
from lakehouse.ingest.routing import (
    RawFilesChanged,
    RawFileShrank,
    build_file_index,
    forget_index,
    index_source,
    iter_blocks_of_date,
    load_or_build_index,
)
from lakehouse.ingest.sources import APP_EVENTS


def _event(ts: str, n: int) -> bytes:
    return orjson.dumps({"event_id": f"e{n}", "ts": ts, "event": "login"})


def _routed(raw: Path, index, date_key: str) -> list[tuple[int, bool, str | None]]:
    """(line number, became a row, quarantine reason code) of every line routed to the date."""
    routed = []
    for part in iter_blocks_of_date(APP_EVENTS, raw, index, date_key):
        for position in part.wanted.nonzero()[0].tolist():
            why = part.parsed.reasons.get(position)
            routed.append(
                (
                    int(part.parsed.block.numbers[position]),
                    bool(part.parsed.accepted[position]),
                    why.split(":")[0] if why else None,
                )
            )
    return routed


def _write(raw: Path, name: str, lines: list[bytes]) -> Path:
    path = raw / "events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_undated_lines_follow_their_neighbours(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    path = _write(
        raw,
        "a.jsonl",
        [
            b"{broken",  # before any dated line: goes with the first dated line
            _event("2026-10-01T23:59:00-05:00", 1),  # 2026-10-02 UTC
            b"garbage",  # follows the line before it
            _event("2026-10-01T12:00:00Z", 2),
            b"",
        ],
    )
    index = build_file_index(APP_EVENTS, raw, path, 1 << 20)
    assert index.first_date == "2026-10-02"
    assert index.date_counts == {"2026-10-01": 2, "2026-10-02": 3}
    assert index.lines == 5
    assert index.line_dates() == [
        "2026-10-02",
        "2026-10-02",
        "2026-10-02",
        "2026-10-01",
        "2026-10-01",
    ]
    assert index.date_runs == [[1, 3, "2026-10-02"], [4, 5, "2026-10-01"]]
    second = _routed(raw, index, "2026-10-02")
    assert [(number, accepted) for number, accepted, _ in second] == [
        (1, False),
        (2, True),
        (3, False),
    ]
    first = _routed(raw, index, "2026-10-01")
    assert [(number, why) for number, _, why in first] == [
        (4, None),
        (5, "blank_line"),
    ]


def test_interleaved_dates_make_several_runs(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    days = ["01", "02", "01", "01", "03", "02"]
    path = _write(
        raw, "mixed.jsonl", [_event(f"2026-10-{d}T12:00:00Z", n) for n, d in enumerate(days)]
    )
    index = build_file_index(APP_EVENTS, raw, path, 1 << 20)
    assert index.date_runs == [
        [1, 1, "2026-10-01"],
        [2, 2, "2026-10-02"],
        [3, 4, "2026-10-01"],
        [5, 5, "2026-10-03"],
        [6, 6, "2026-10-02"],
    ]
    assert [number for number, _, _ in _routed(raw, index, "2026-10-01")] == [1, 3, 4]


def test_a_file_rewritten_after_indexing_is_detected(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    path = _write(
        raw, "a.jsonl", [_event("2026-10-01T12:00:00Z", 1), _event("2026-10-02T12:00:00Z", 2)]
    )
    index = build_file_index(APP_EVENTS, raw, path, 1 << 20)
    _write(raw, "a.jsonl", [_event("2026-10-02T12:00:00Z", 1), _event("2026-10-02T12:00:00Z", 2)])
    with pytest.raises(RawFilesChanged, match="changed while it was read"):
        _routed(raw, index, "2026-10-01")


def test_file_without_any_date_is_refused_not_dated_by_its_modification_time(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    path = _write(raw, "junk.jsonl", [b"nope", b"still nope"])
    stamp = 1_790_000_000  # 2026-09-21 UTC
    os.utime(path, (stamp, stamp))
    index = build_file_index(APP_EVENTS, raw, path, 1 << 20)
    assert index.first_date is None
    assert index.date_counts == {}
    assert index.refused and index.refused.startswith("undated_file: none of its 2 line(s)")


def test_a_file_that_shrank_is_held_with_its_previous_index_until_rotation_is_accepted(
    tmp_path: Path,
) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    lines = [_event(f"2026-10-0{d}T12:00:00Z", d) for d in (1, 2, 3)]
    path = _write(raw, "a.jsonl", lines)
    [before] = index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    _write(raw, "a.jsonl", lines[:1])
    [held] = index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    assert held.date_counts == before.date_counts
    assert held.held and "--accept-rotated events/a.jsonl" in held.held
    with pytest.raises(RawFileShrank, match="shrank from"):
        ingest_partition(APP_EVENTS, raw, out, "2026-10-02")
    assert forget_index(APP_EVENTS, out, "events/a.jsonl")
    [after] = index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    assert after.held is None and after.date_counts == {"2026-10-01": 1}
    assert path.exists()


def test_index_is_cached_and_rebuilt_when_the_file_changes(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    path = _write(raw, "a.jsonl", [_event("2026-10-01T12:00:00Z", 1)])
    first = load_or_build_index(APP_EVENTS, raw, out, path, 1 << 20)
    assert first.date_counts == {"2026-10-01": 1}
    cached = load_or_build_index(APP_EVENTS, raw, out, path, 1 << 20)
    assert cached == first
    _write(raw, "a.jsonl", [_event("2026-10-01T12:00:00Z", 1), _event("2026-10-03T12:00:00Z", 2)])
    rebuilt = load_or_build_index(APP_EVENTS, raw, out, path, 1 << 20)
    assert rebuilt.date_counts == {"2026-10-01": 1, "2026-10-03": 1}


def test_hidden_and_foreign_files_are_not_inputs(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    _write(raw, "a.jsonl", [_event("2026-10-01T12:00:00Z", 1)])
    _write(raw, ".partial.jsonl", [_event("2026-10-02T12:00:00Z", 1)])
    _write(raw, "notes.txt", [b"hello"])
    assert [i.relative_path for i in index_source(APP_EVENTS, raw, out, 1 << 20)] == [
        "events/a.jsonl"
    ]
