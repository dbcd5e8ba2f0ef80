"""Read raw log files line by line, plain or gzip, with a bound on line length."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipelines.ingest import reasons

DEFAULT_MAX_LINE_BYTES = 1 << 20
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class RawLine:
    """One physical line of a raw file, or a read error at that position.

    `number` is 1-based. When `error` is set, `data` holds what could be read (possibly
    nothing) and the line must be quarantined with that error as its reason.
    """

    number: int
    data: bytes
    error: str | None = None
    length: int = 0


def open_raw(path: Path) -> BinaryIO:
    """Open a raw log file for binary reading, decompressing `.gz` files transparently."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def iter_raw_lines(path: Path, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[RawLine]:
    """Yield every line of `path` with its number; never raises for bad content.

    Lines longer than `max_line_bytes` are skipped in chunks (memory stays bounded) and
    reported as errors. A gzip stream that is cut short or corrupt ends the file with one
    error entry, after every line that could be read.
    """
    number = 0
    try:
        with open_raw(path) as stream:
            while True:
                line = stream.readline(max_line_bytes + 1)
                if not line:
                    return
                number += 1
                if len(line) > max_line_bytes and not line.endswith(b"\n"):
                    length = len(line) + _skip_rest_of_line(stream)
                    yield RawLine(
                        number,
                        line[:1024],
                        reasons.reason(
                            reasons.LINE_TOO_LONG,
                            f"line longer than {max_line_bytes} bytes ({length} bytes)",
                        ),
                        length,
                    )
                    continue
                yield RawLine(number, line.rstrip(b"\r\n"), None, len(line))
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        yield RawLine(
            number + 1,
            b"",
            reasons.reason(reasons.UNREADABLE_FILE, f"unreadable file after line {number}: {exc}"),
            0,
        )


def _skip_rest_of_line(stream: BinaryIO) -> int:
    skipped = 0
    while True:
        chunk = stream.readline(_CHUNK)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped
