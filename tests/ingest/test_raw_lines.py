from __future__ import annotations

import gzip
from pathlib import Path

from lakehouse.ingest.raw_lines import iter_raw_lines


def test_plain_and_gzip_give_the_same_lines(tmp_path: Path) -> None:
    content = b"one\r\ntwo\n\nfour"
    (tmp_path / "a.log").write_bytes(content)
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(content))
    for name in ("a.log", "a.log.gz"):
        lines = list(iter_raw_lines(tmp_path / name))
        assert [(line.number, line.data, line.error) for line in lines] == [
            (1, b"one", None),
            (2, b"two", None),
            (3, b"", None),
            (4, b"four", None),
        ]


def test_gzip_cut_short_keeps_what_was_readable_and_reports_the_rest(tmp_path: Path) -> None:
    body = b"".join(b"line %d with some padding to compress\n" % i for i in range(5000))
    compressed = gzip.compress(body)
    path = tmp_path / "cut.log.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    lines = list(iter_raw_lines(path))
    assert lines[-1].error is not None and lines[-1].error.startswith(
        "unreadable_file: unreadable file"
    )
    good = [line for line in lines if line.error is None]
    assert 0 < len(good) < 5000
    assert good[0].data == b"line 0 with some padding to compress"
    assert [line.number for line in lines] == list(range(1, len(lines) + 1))


def test_not_gzip_at_all_is_one_error_entry(tmp_path: Path) -> None:
    path = tmp_path / "fake.log.gz"
    path.write_bytes(b"this is not gzip\n")
    lines = list(iter_raw_lines(path))
    assert len(lines) == 1 and lines[0].error.startswith(
        "unreadable_file: unreadable file after line 0"
    )


def test_overlong_line_is_reported_without_being_kept(tmp_path: Path) -> None:
    path = tmp_path / "long.log"
    path.write_bytes(b"short\n" + b"x" * 200_000 + b"\nafter\n")
    lines = list(iter_raw_lines(path, max_line_bytes=4096))
    assert [line.number for line in lines] == [1, 2, 3]
    assert lines[1].error == "line_too_long: line longer than 4096 bytes (200001 bytes)"
    assert len(lines[1].data) <= 1024
    assert lines[2].data == b"after"
