"""Raw log files the way servers write them: rotated daily at the server's local midnight."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO

_FLUSH_LINES = 20_000


class RotatingLogWriter:
    """Appends lines to `<folder>/<prefix>-<date><suffix>[.gz]`, one file per server-local day.

    Files for every date except `plain_date` are gzip-compressed, as rotated logs are; the
    current day's log stays plain. Line numbers per file are tracked for the ground truth.
    """

    def __init__(self, folder: Path, prefix: str, suffix: str, plain_date: str) -> None:
        self.folder = folder
        self.prefix = prefix
        self.suffix = suffix
        self.plain_date = plain_date
        self.lines_per_file: dict[str, int] = {}
        self._open: dict[str, tuple[BinaryIO, BinaryIO, list[bytes]]] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def relative_name(self, date_key: str) -> str:
        """The file name (relative to the raw root) that holds lines of `date_key`."""
        name = f"{self.prefix}-{date_key}{self.suffix}"
        if date_key != self.plain_date:
            name += ".gz"
        return f"{self.folder.name}/{name}"

    def write(self, date_key: str, line: bytes) -> tuple[str, int]:
        """Append one line; returns (relative file name, 1-based line number)."""
        entry = self._open.get(date_key)
        if entry is None:
            path = self.folder.parent / self.relative_name(date_key)
            file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in _close()
            stream = file
            if path.suffix == ".gz":
                stream = gzip.GzipFile(  # type: ignore[assignment]
                    filename=path.name, mode="wb", compresslevel=3, fileobj=file, mtime=0
                )
            entry = self._open[date_key] = (stream, file, [])
        stream, _, buffer = entry
        buffer.append(line)
        if len(buffer) >= _FLUSH_LINES:
            stream.write(b"\n".join(buffer) + b"\n")
            buffer.clear()
        name = self.relative_name(date_key)
        self.lines_per_file[name] = self.lines_per_file.get(name, 0) + 1
        return name, self.lines_per_file[name]

    def close_before(self, date_key: str) -> None:
        """Close every file of a date earlier than `date_key` (they get no more lines)."""
        for key in [k for k in self._open if k < date_key]:
            self._close(key)

    def close(self) -> None:
        """Flush and close every open file."""
        for key in list(self._open):
            self._close(key)

    def _close(self, key: str) -> None:
        stream, file, buffer = self._open.pop(key)
        if buffer:
            stream.write(b"\n".join(buffer) + b"\n")
        stream.close()
        file.close()
