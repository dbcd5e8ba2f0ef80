"""The two raw sources of the input contract and where their files are found."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lakehouse.ingest import access_log, app_events
from lakehouse.ingest.app_events import ParseResult
from lakehouse.ingest.raw_lines import display_name, is_utf8_name


@dataclass(frozen=True)
class RawSource:
    """A kind of raw log: its folder under `<raw>/`, file patterns, parser and bronze schema."""

    name: str
    folder: str
    patterns: tuple[str, ...]
    parse: Callable[[bytes], ParseResult]
    schema: pa.Schema

    def candidates(self, raw_dir: Path) -> list[Path]:
        """Every path under `<raw>/<folder>` that matches a pattern (hidden names skipped)."""
        folder = raw_dir / self.folder
        if folder.is_symlink() or not folder.is_dir():
            return []
        found = {p for pattern in self.patterns for p in folder.glob(pattern)}
        return sorted(p for p in found if not p.name.startswith("."))

    def files(self, raw_dir: Path) -> list[Path]:
        """Every regular file of this source with a UTF-8 name, sorted by name; links, special
        files and other names are left out (see `refused_files`)."""
        return [p for p in self.candidates(raw_dir) if _is_regular(p) and is_utf8_name(p.name)]

    def refused_files(self, raw_dir: Path) -> list[tuple[Path, str]]:
        """(path, reason) of every matching name that is not a regular file: a symbolic link
        (which may point outside the raw folder), a folder, a pipe or a device. None is read."""
        folder = raw_dir / self.folder
        if folder.is_symlink():
            return [(folder, f"{self.folder}/ is a symbolic link: its files are not read")]
        refused = []
        for path in self.candidates(raw_dir):
            if not is_utf8_name(path.name):
                refused.append((path, f"{display_name(path.name)}: its name is not UTF-8"))
            elif path.is_symlink():
                refused.append((path, f"{path.name} is a symbolic link"))
            elif not _is_regular(path):
                refused.append((path, f"{path.name} is not a regular file"))
        return refused


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


APP_EVENTS = RawSource(
    name="app_events",
    folder="events",
    patterns=("*.jsonl", "*.jsonl.gz"),
    parse=app_events.parse_event_line,
    schema=app_events.SCHEMA,
)
ACCESS_LOG = RawSource(
    name="access_log",
    folder="access",
    patterns=("*.log", "*.log.gz"),
    parse=access_log.parse_access_line,
    schema=access_log.SCHEMA,
)
SOURCES = {source.name: source for source in (APP_EVENTS, ACCESS_LOG)}
