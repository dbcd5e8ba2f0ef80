"""Read a raw log file as blocks of lines in Arrow, for columnar parsing.

`iter_line_blocks` yields the same lines, numbers, lengths and errors as
`raw_lines.iter_raw_lines` (a test holds the two equal), but it reads megabytes at a time
and splits them with numpy, so no Python code runs per line. A line longer than the limit is
never held whole: it is skipped chunk by chunk and kept as an error entry with its first
1,024 bytes. When the file cannot be read to its end (a truncated or corrupt gzip stream),
the remaining lines come from `iter_raw_lines`, so the error entry and every readable line
before it are exactly those of the line reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from lakehouse.ingest import reasons
from lakehouse.ingest.raw_lines import (
    _BOM,
    DECOMPRESSION_LIMIT,
    DEFAULT_MAX_LINE_BYTES,
    DecompressionLimit,
    RawLine,
    iter_raw_lines,
    open_raw,
)

BLOCK_BYTES = 8 << 20
_KEPT_OF_LONG_LINE = 1024


@dataclass
class LineBlock:
    """Lines of one file in order: position `i` is line `numbers[i]` (1-based).

    `content` holds each line without its end-of-line bytes (empty where the position is an
    error), `lengths` each line's length in the file, and `errors` the positions that are
    read errors, with their reason and the bytes kept of them.
    """

    numbers: np.ndarray
    content: pa.LargeBinaryArray
    lengths: np.ndarray
    errors: dict[int, tuple[str, bytes]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.content)


def _lines_block(lines: list[RawLine]) -> LineBlock:
    content = pa.array([b"" if raw.error else raw.data for raw in lines], pa.large_binary())
    errors = {i: (raw.error, raw.data) for i, raw in enumerate(lines) if raw.error}
    lengths = np.array([raw.length for raw in lines], dtype=np.int64)
    numbers = np.array([raw.number for raw in lines], dtype=np.int64)
    return LineBlock(numbers, content, lengths, errors)


class _Splitter:
    """Turns a stream of byte chunks into LineBlocks, bounding every line at `max_line_bytes`."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.number = 0
        self.carry = b""
        self.long_line: tuple[bytes, int] | None = None
        self.at_start = True
        self.only_bom = False

    def feed(self, chunk: bytes, final: bool) -> LineBlock | None:
        """The block of lines completed by `chunk` (all the rest when `final`), or None."""
        if chunk and not self.at_start:
            self.only_bom = False
        if self.at_start and chunk:
            joined = self.carry + chunk
            if len(joined) < len(_BOM) and not final and _BOM.startswith(joined):
                self.carry = joined
                return None
            self.at_start = False
            self.carry = b""
            self.only_bom = joined == _BOM
            chunk = joined[len(_BOM) :] if joined.startswith(_BOM) else joined
        if final and self.only_bom and self.number == 0 and not self.carry and not chunk:
            self.only_bom = False
            return self._block(pa.array([b""], pa.large_binary()), np.zeros(1, np.int64), {})
        errors: dict[int, tuple[str, bytes]] = {}
        pending_long: list[tuple[bytes, int]] = []
        if self.long_line is not None:
            newline = chunk.find(b"\n")
            kept, length = self.long_line
            if newline < 0:
                self.long_line = (kept, length + len(chunk))
                if not final:
                    return None
                pending_long.append((kept, length + len(chunk)))
                self.long_line = None
                chunk = b""
            else:
                pending_long.append((kept, length + newline + 1))
                self.long_line = None
                chunk = chunk[newline + 1 :]
        data = self.carry + chunk if self.carry else chunk
        self.carry = b""
        buffer = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(buffer == 10)
        tail_start = int(newlines[-1]) + 1 if len(newlines) else 0
        tail = len(data) - tail_start
        if not final and tail:
            if tail > self.max_line_bytes:
                self.long_line = (data[tail_start : tail_start + _KEPT_OF_LONG_LINE], tail)
            else:
                self.carry = data[tail_start:]
            ends = newlines
        else:
            ends = np.append(newlines, len(data)) if tail else newlines
        starts = np.empty(len(ends), dtype=np.int64)
        if len(ends):
            starts[0] = 0
            starts[1:] = ends[:-1] + 1
        has_newline = ends < len(data)
        lengths = (ends - starts) + has_newline
        content_ends = ends.astype(np.int64)
        while True:
            if not len(buffer):
                break
            carriage = (content_ends > starts) & (buffer[np.maximum(content_ends - 1, 0)] == 13)
            if not np.any(carriage):
                break
            content_ends = content_ends - carriage
        # The line reader measures a line with its carriage returns (readline sees them).
        too_long = np.flatnonzero(ends - starts > self.max_line_bytes)
        first = len(pending_long)
        for position in too_long:
            start = int(starts[position])
            errors[first + int(position)] = (
                self._too_long(int(lengths[position])),
                data[start : start + _KEPT_OF_LONG_LINE],
            )
            content_ends[position] = start
        keep = np.ones(len(buffer), dtype=bool)
        if len(ends):
            content_lengths = content_ends - starts
            stripped = np.flatnonzero(ends - content_ends)
            keep[ends[has_newline]] = False
            for position in stripped:
                keep[content_ends[position] : ends[position]] = False
        else:
            content_lengths = np.zeros(0, dtype=np.int64)
        if self.long_line is not None or self.carry:
            keep[tail_start:] = False
        compact = buffer[keep].tobytes() if not keep.all() else data
        offsets = np.zeros(len(ends) + 1 + len(pending_long), dtype=np.int64)
        offsets[len(pending_long) + 1 :] = np.cumsum(content_lengths)
        for i, (kept, length) in enumerate(pending_long):
            errors[i] = (self._too_long(length), kept)
        content = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(),
            len(offsets) - 1,
            [None, pa.py_buffer(offsets), pa.py_buffer(compact)],
        )
        all_lengths = np.concatenate(
            [np.array([length for _, length in pending_long], dtype=np.int64), lengths]
        )
        if not len(content):
            return None
        return self._block(content, all_lengths, errors)

    def _block(self, content: pa.LargeBinaryArray, lengths: np.ndarray, errors: dict) -> LineBlock:
        numbers = np.arange(self.number + 1, self.number + 1 + len(content), dtype=np.int64)
        self.number += len(content)
        return LineBlock(numbers, content, lengths, errors)

    def _too_long(self, length: int) -> str:
        return reasons.reason(
            reasons.LINE_TOO_LONG, f"line longer than {self.max_line_bytes} bytes ({length} bytes)"
        )


def iter_line_blocks(
    path: Path,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    limit: DecompressionLimit = DECOMPRESSION_LIMIT,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[LineBlock]:
    """Yield every line of `path` in blocks, as `iter_raw_lines` would line by line."""
    splitter = _Splitter(max_line_bytes)
    try:
        with open_raw(path) as stream:
            yield from _read_blocks(stream, splitter, limit, block_bytes, path)
        return
    except Exception:  # every read failure is replayed by the line reader
        pass
    yield from _replay_from(path, splitter.number, max_line_bytes, limit)


def _read_blocks(
    stream: BinaryIO,
    splitter: _Splitter,
    limit: DecompressionLimit,
    block_bytes: int,
    path: Path,
) -> Iterator[LineBlock]:
    compressed = getattr(stream, "fileobj", None)
    out = 0
    while True:
        chunk = stream.read(block_bytes)
        out += len(chunk)
        final = not chunk
        why = limit.exceeded(out, compressed.tell()) if compressed is not None else None
        if why is not None:
            block = splitter.feed(chunk, final=True)
            if block is not None:
                yield block
            error = RawLine(
                splitter.number + 1,
                b"",
                reasons.reason(reasons.DECOMPRESSION_LIMIT, f"{path.name} {why}"),
                0,
            )
            yield _lines_block([error])
            return
        block = splitter.feed(chunk, final=final)
        if block is not None:
            yield block
        if final:
            return


def _replay_from(
    path: Path, emitted: int, max_line_bytes: int, limit: DecompressionLimit
) -> Iterator[LineBlock]:
    batch: list[RawLine] = []
    for raw in iter_raw_lines(path, max_line_bytes, limit):
        if raw.number <= emitted:
            continue
        batch.append(raw)
        if len(batch) >= 10_000:
            yield _lines_block(batch)
            batch = []
    if batch:
        yield _lines_block(batch)
