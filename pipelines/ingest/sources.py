"""The two raw sources of the input contract and where their files are found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipelines.ingest import access_log, app_events
from pipelines.ingest.app_events import ParseResult


@dataclass(frozen=True)
class RawSource:
    """A kind of raw log: its folder under `<raw>/`, file patterns, parser and bronze schema."""

    name: str
    folder: str
    patterns: tuple[str, ...]
    parse: Callable[[bytes], ParseResult]
    schema: pa.Schema

    def files(self, raw_dir: Path) -> list[Path]:
        """Every file of this source under `raw_dir`, sorted by name (hidden files skipped)."""
        folder = raw_dir / self.folder
        found = {p for pattern in self.patterns for p in folder.glob(pattern) if p.is_file()}
        return sorted(p for p in found if not p.name.startswith("."))


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
