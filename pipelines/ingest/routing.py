"""Which daily partition each raw line belongs to, and an index so a partition reads only its files.

A line belongs to the UTC date of its own timestamp. A line without a readable timestamp
(bad JSON, a truncated line) follows the nearest dated line before it in the same file,
or, at the start of a file, the file's first dated line; a file with no dated line at all
goes to the UTC date of its modification time. The rule is deterministic, so every line
lands in exactly one partition, and quarantined lines sit beside their neighbours.

The index records, per raw file, how many lines fall on each date. It is cached under
`<out>/bronze/_index/` and rebuilt when a file's size or modification time changes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from pipelines.ingest.raw_lines import RawLine, iter_raw_lines
from pipelines.ingest.sources import RawSource
from pipelines.storage import write_json_atomically

INDEX_VERSION = 1


@dataclass
class FileIndex:
    """Line counts per UTC date for one raw file, valid for the file's size and mtime."""

    relative_path: str
    size: int
    mtime_ns: int
    max_line_bytes: int
    first_date: str | None
    fallback_date: str
    lines: int = 0
    date_counts: dict[str, int] = field(default_factory=dict)
    version: int = INDEX_VERSION

    @property
    def home_date(self) -> str:
        """Where lines before the file's first dated line go."""
        return self.first_date or self.fallback_date


@dataclass(frozen=True, slots=True)
class RoutedLine:
    """A raw line with its parse result and the partition date it is assigned to."""

    raw: RawLine
    date_key: str
    row: tuple | None
    reason: str | None


def iter_routed_lines(
    source: RawSource, path: Path, home_date: str, max_line_bytes: int
) -> Iterator[RoutedLine]:
    """Parse every line of `path` and assign it a date by the rule in this module's docstring."""
    current: str | None = None
    for raw in iter_raw_lines(path, max_line_bytes):
        if raw.error is not None:
            own, row, why = None, None, raw.error
        else:
            own, row, why = source.parse(raw.data)
        if own is not None:
            current = own
        yield RoutedLine(raw, own or current or home_date, row, why)


def build_file_index(
    source: RawSource, raw_dir: Path, path: Path, max_line_bytes: int
) -> FileIndex:
    """Read `path` once and count its lines per assigned date."""
    stat = path.stat()
    fallback = datetime.fromtimestamp(stat.st_mtime, UTC).date().isoformat()
    counts: Counter[str] = Counter()
    first: str | None = None
    leading = 0
    lines = 0
    current: str | None = None
    for raw in iter_raw_lines(path, max_line_bytes):
        lines += 1
        own = None if raw.error is not None else source.parse(raw.data)[0]
        if own is not None:
            first = first or own
            current = own
        if current is None:
            leading += 1
        else:
            counts[current] += 1
    if leading:
        counts[first or fallback] += leading
    return FileIndex(
        relative_path=path.relative_to(raw_dir).as_posix(),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        max_line_bytes=max_line_bytes,
        first_date=first,
        fallback_date=fallback,
        lines=lines,
        date_counts=dict(sorted(counts.items())),
    )


def index_path(out_dir: Path, source: RawSource, relative_path: str) -> Path:
    """Where the cached index of one raw file is kept."""
    digest = hashlib.sha256(relative_path.encode()).hexdigest()[:24]
    return out_dir / "bronze" / "_index" / source.name / f"{digest}.json"


def load_or_build_index(
    source: RawSource, raw_dir: Path, out_dir: Path, path: Path, max_line_bytes: int
) -> FileIndex:
    """The file's index from the cache when still valid, else built now and cached."""
    relative = path.relative_to(raw_dir).as_posix()
    cached_at = index_path(out_dir, source, relative)
    stat = path.stat()
    if cached_at.exists():
        try:
            cached = FileIndex(**orjson.loads(cached_at.read_bytes()))
        except (orjson.JSONDecodeError, TypeError):
            cached = None
        if (
            cached is not None
            and cached.version == INDEX_VERSION
            and cached.relative_path == relative
            and cached.size == stat.st_size
            and cached.mtime_ns == stat.st_mtime_ns
            and cached.max_line_bytes == max_line_bytes
        ):
            return cached
    index = build_file_index(source, raw_dir, path, max_line_bytes)
    write_json_atomically(cached_at, orjson.dumps(asdict(index)), private=True)
    return index


def index_source(
    source: RawSource, raw_dir: Path, out_dir: Path, max_line_bytes: int
) -> list[FileIndex]:
    """Indexes of every raw file of `source`, building the missing or stale ones."""
    return [
        load_or_build_index(source, raw_dir, out_dir, path, max_line_bytes)
        for path in source.files(raw_dir)
    ]


def dates_found(indexes: list[FileIndex]) -> list[str]:
    """Every partition date that at least one line is assigned to, sorted."""
    return sorted({date for index in indexes for date in index.date_counts})
