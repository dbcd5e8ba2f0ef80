"""Read raw log files line by line, plain or gzip, with bounds on line length and on how far
a compressed file may expand."""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from deidentify.configuration import ConfigurationError
from lakehouse.ingest import reasons

DEFAULT_MAX_LINE_BYTES = 1 << 20
_CHUNK = 1 << 16
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark some editors write at the start of a file


class LimitConfigError(ConfigurationError, ValueError):
    """A limit set in the environment is not a number, or too small to be sensible."""


def _env_number(name: str, default: float, minimum: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise LimitConfigError(f"{name}={text!r}: expected a number, e.g. {default:g}") from None
    if value < minimum:
        raise LimitConfigError(f"{name}={text!r}: must be at least {minimum:g}")
    return value


@dataclass(frozen=True)
class DecompressionLimit:
    """How far a `.gz` raw file may expand before it is refused as a decompression bomb.

    `max_bytes` caps the decompressed size of one file. `max_ratio` caps decompressed over
    compressed bytes, checked once `ratio_after_bytes` have come out, so that a small
    compressible header does not trip it. Text logs compress 5 to 20 times; a bomb, 1,000.
    Set with PIPELINES_MAX_DECOMPRESSED_BYTES and PIPELINES_MAX_COMPRESSION_RATIO.
    """

    max_bytes: int = 16 << 30
    max_ratio: float = 200.0
    ratio_after_bytes: int = 64 << 20

    @classmethod
    def from_environment(cls) -> DecompressionLimit:
        """The limit the environment sets, else the defaults; a bad value fails here."""
        default = cls()
        return cls(
            max_bytes=int(
                _env_number("PIPELINES_MAX_DECOMPRESSED_BYTES", default.max_bytes, 1 << 20)
            ),
            max_ratio=_env_number("PIPELINES_MAX_COMPRESSION_RATIO", default.max_ratio, 2),
            ratio_after_bytes=min(default.ratio_after_bytes, default.max_bytes),
        )

    def exceeded(self, decompressed: int, compressed: int) -> str | None:
        """Why `decompressed` bytes out of `compressed` read is too much, or None."""
        if decompressed > self.max_bytes:
            return f"expands beyond {self.max_bytes:,} bytes (PIPELINES_MAX_DECOMPRESSED_BYTES)"
        if decompressed > self.ratio_after_bytes and decompressed > self.max_ratio * max(
            compressed, 1
        ):
            return (
                f"expands more than {self.max_ratio:g} times ({decompressed:,} bytes out of "
                f"{compressed:,}; PIPELINES_MAX_COMPRESSION_RATIO)"
            )
        return None


DECOMPRESSION_LIMIT = DecompressionLimit.from_environment()


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


def display_name(name: str) -> str:
    """A file name as text that can be printed and stored: bytes that are not UTF-8 (which
    Python keeps as surrogates) are shown as `\\xff`."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def is_utf8_name(name: str) -> bool:
    """Whether a file name is valid UTF-8 (other names cannot be written to Parquet or JSON)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class NotARegularFile(OSError):
    """A raw path that is a symbolic link, a folder, a pipe or a device: never read."""


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for binary reading only if it is a regular file and not a symbolic link.

    The check is made on the opened descriptor (O_NOFOLLOW, then fstat), so a link swapped in
    after the folder was listed is refused too, and a pipe cannot block the read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise NotARegularFile(f"{path.name} is a symbolic link") from exc
        raise
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise NotARegularFile(f"{path.name} is not a regular file ({_kind(mode)})")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


class _GzipRaw(gzip.GzipFile):
    """A gzip reader that closes the file it was given (GzipFile leaves it open)."""

    def close(self) -> None:
        raw = self.fileobj
        try:
            super().close()
        finally:
            if raw is not None:
                raw.close()


def open_raw(path: Path) -> BinaryIO:
    """Open a raw log file for binary reading, decompressing `.gz` files transparently."""
    if path.suffix == ".gz":
        return _GzipRaw(fileobj=open_regular(path), mode="rb")  # type: ignore[return-value]
    return open_regular(path)


def iter_raw_lines(
    path: Path,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    limit: DecompressionLimit = DECOMPRESSION_LIMIT,
) -> Iterator[RawLine]:
    """Yield every line of `path` with its number; never raises for bad content.

    Lines longer than `max_line_bytes` are skipped in chunks (memory stays bounded) and
    reported as errors. A gzip stream that is cut short or corrupt ends the file with one
    error entry, after every line that could be read; so does a gzip stream that expands
    past `limit` (reason `decompression_limit`), where reading stops at once.
    """
    number = 0
    try:
        with open_raw(path) as stream:
            compressed = getattr(stream, "fileobj", None)
            out = 0
            while True:
                line = stream.readline(max_line_bytes + 1)
                if not line:
                    return
                number += 1
                out += len(line)
                if number == 1 and line.startswith(_BOM):
                    line = line[len(_BOM) :]
                    if len(line) == max_line_bytes + 1 - len(_BOM) and not line.endswith(b"\n"):
                        line += stream.readline(len(_BOM))
                        out += len(line) - max_line_bytes - 1 + len(_BOM)
                if len(line) > max_line_bytes and not line.endswith(b"\n"):
                    skipped = _skip_rest_of_line(stream, compressed, limit, out)
                    length = len(line) + skipped
                    out += skipped
                    yield RawLine(
                        number,
                        line[:1024],
                        reasons.reason(
                            reasons.LINE_TOO_LONG,
                            f"line longer than {max_line_bytes} bytes ({length} bytes)",
                        ),
                        length,
                    )
                else:
                    yield RawLine(number, line.rstrip(b"\r\n"), None, len(line))
                if compressed is not None:
                    why = limit.exceeded(out, compressed.tell())
                    if why is not None:
                        yield RawLine(
                            number + 1,
                            b"",
                            reasons.reason(reasons.DECOMPRESSION_LIMIT, f"{path.name} {why}"),
                            0,
                        )
                        return
    except NotARegularFile as exc:
        yield RawLine(number + 1, b"", reasons.reason(reasons.NOT_A_REGULAR_FILE, str(exc)), 0)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        yield RawLine(
            number + 1,
            b"",
            reasons.reason(reasons.UNREADABLE_FILE, f"unreadable file after line {number}: {exc}"),
            0,
        )


def _skip_rest_of_line(
    stream: BinaryIO, compressed: BinaryIO | None, limit: DecompressionLimit, out: int
) -> int:
    skipped = 0
    while True:
        chunk = stream.readline(_CHUNK)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped
        if compressed is not None and limit.exceeded(out + skipped, compressed.tell()):
            return skipped
