"""The block reader yields exactly the lines, numbers, lengths and errors of the line reader."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from lakehouse.ingest.line_blocks import iter_line_blocks
from lakehouse.ingest.raw_lines import iter_raw_lines

PIECES = [b"a", b"\r", b"\n", b"\r\n", b"x" * 50, b"y" * 1100, b"\xef\xbb\xbf", b"z" * 3000]


def _from_blocks(path: Path, max_line_bytes: int, block_bytes: int) -> list[tuple]:
    lines = []
    for block in iter_line_blocks(path, max_line_bytes, block_bytes=block_bytes):
        content = block.content.to_pylist()
        for i in range(len(block)):
            error = block.errors.get(i)
            data = error[1] if error else content[i]
            lines.append((int(block.numbers[i]), data, error and error[0], int(block.lengths[i])))
    return lines


def _from_lines(path: Path, max_line_bytes: int) -> list[tuple]:
    return [(r.number, r.data, r.error, r.length) for r in iter_raw_lines(path, max_line_bytes)]


@pytest.mark.parametrize("seed", range(4))
def test_blocks_equal_lines_on_random_files(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    for trial in range(150):
        data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        if rng.random() < 0.3:
            data = b"\xef\xbb\xbf" + data
        compressed = rng.random() < 0.3
        path = tmp_path / f"{trial}.log{'.gz' if compressed else ''}"
        path.write_bytes(gzip.compress(data) if compressed else data)
        if compressed and rng.random() < 0.3:
            path.write_bytes(path.read_bytes()[: -rng.randint(1, 20)])
        max_line_bytes = rng.choice([1024, 2000])
        block_bytes = rng.choice([1, 3, 64, 1024, 1 << 20])
        assert _from_blocks(path, max_line_bytes, block_bytes) == _from_lines(
            path, max_line_bytes
        ), (data[:80], compressed, max_line_bytes, block_bytes)


def test_a_long_first_line_after_a_byte_order_mark_is_one_line(tmp_path: Path) -> None:
    """The line reader used to cut such a line in two after stripping the mark."""
    path = tmp_path / "bom.log"
    path.write_bytes(b"\xef\xbb\xbf" + b"z" * 3000 + b"\nnext\n")
    lines = list(iter_raw_lines(path, 1024))
    assert [line.number for line in lines] == [1, 2]
    assert lines[0].error is not None and lines[0].error.startswith("line_too_long")
    assert lines[1].data == b"next"
