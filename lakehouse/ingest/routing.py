"""Which daily partition each raw line belongs to, and an index so a partition reads only its files.

A line belongs to the UTC date of its own timestamp. A line without a readable timestamp
(bad JSON, a truncated line) follows the nearest dated line before it in the same file,
or, at the start of a file, the file's first dated line. The rule is deterministic, so every
line lands in exactly one partition, and quarantined lines sit beside their neighbours.

A whole file is refused (its index carries the reason, and no line is routed) when it has no
dated line at all (`undated_file`: no clock is trusted in its place, not even its
modification time), when it expands past the decompression limit, or when it is not a
regular file. A file that shrank since it was indexed is held: its previous index is kept,
so bronze keeps what it had, until the operator says the file was rotated on purpose.

The index records, per raw file, which runs of lines fall on each date. It is cached under
`<out>/bronze/_index/` and rebuilt when a file's size or modification time changes; a
partition then reads only the files, and parses only the lines, of its own date.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse import coverage
from lakehouse.ingest import reasons
from lakehouse.ingest.columnar import ParsedBlock, json_database_scope, parse_block
from lakehouse.ingest.line_blocks import LineBlock, iter_line_blocks
from lakehouse.ingest.sources import RawSource
from lakehouse.ingest.staging import Stager, path_digest, staged_folder
from lakehouse.storage import write_bytes_atomically

INDEX_VERSION = 5
# A source's watermark is the time by which this many accepted lines had been seen (the
# latest of all but WATERMARK_LINES - 1 lines): one line from a clock ahead cannot move it.
WATERMARK_LINES = 16
PARALLEL_INDEX_MIN_BYTES = 32 << 20


class RawFilesChanged(RuntimeError):
    """A raw file changed between indexing and reading: rerun the partition."""


class RawFileShrank(RuntimeError):
    """A raw file is shorter than when it was indexed: its days keep their bronze."""


@dataclass
class FileIndex:
    """Which lines of one raw file fall on which UTC date, valid for the file's size and mtime.

    `date_runs` holds `[first_line, last_line, date]` runs (1-based, inclusive). Logs are
    written roughly in time order, so a file has a handful of runs, and a partition can
    skip, unparsed, every line that belongs to another day. `latest_events` are the latest
    timestamps of accepted lines (ISO 8601, UTC, newest first, at most WATERMARK_LINES): the
    file's part of its source's watermark. `unreadable` is the error that stopped reading the
    file before its end (a gzip cut short), and `unreadable_date` the day of its last line read.
    """

    relative_path: str
    size: int
    mtime_ns: int
    max_line_bytes: int
    first_date: str | None
    fallback_date: str
    lines: int = 0
    date_counts: dict[str, int] = field(default_factory=dict)
    date_runs: list[list] = field(default_factory=list)
    refused: str | None = None
    held: str | None = None
    latest_events: list[str] = field(default_factory=list)
    unreadable: str | None = None
    unreadable_date: str | None = None
    version: int = INDEX_VERSION

    def line_dates(self) -> list[str]:
        """The date of every line, in order (for tests and inspection)."""
        return [date for first, last, date in self.date_runs for _ in range(first, last + 1)]


class _Runs:
    def __init__(self) -> None:
        self.runs: list[list] = []
        self.counts: Counter[str] = Counter()

    def add(self, first: int, last: int, date: str) -> None:
        self.counts[date] += last - first + 1
        if self.runs and self.runs[-1][2] == date and self.runs[-1][1] == first - 1:
            self.runs[-1][1] = last
        else:
            self.runs.append([first, last, date])


def _refusal(block: LineBlock) -> str | None:
    """The reason a whole file is refused, if this block holds one."""
    for position, (error, _) in sorted(block.errors.items()):
        code = reasons.reason_code(error)
        if code in reasons.FILE_REASONS or (
            int(block.numbers[position]) == 1 and code == reasons.UNREADABLE_FILE
        ):
            return error
    return None


# Blocks parsed ahead of the one being indexed, on as many threads: DuckDB, Arrow and numpy
# release the GIL, so parsing the next block overlaps reading, dating and staging this one.
# Two ahead was no faster than one at 1M events (11.5 s either way) and held 150 MiB more.
PARSE_AHEAD = 1


def _parsed_blocks(
    source: RawSource, blocks: Iterator[LineBlock]
) -> Iterator[tuple[LineBlock, str | None, Future[ParsedBlock] | None]]:
    """Each block in order, with the reason its file is refused (then nothing after it) or
    its parse, started up to `PARSE_AHEAD` blocks in advance."""
    with ThreadPoolExecutor(max_workers=PARSE_AHEAD) as pool:
        pending: deque[tuple[LineBlock, str | None, Future[ParsedBlock] | None]] = deque()
        try:
            for block in blocks:
                refused = _refusal(block)
                parse = None if refused else pool.submit(parse_block, source, block)
                pending.append((block, refused, parse))
                if refused is not None:
                    break
                if len(pending) > PARSE_AHEAD:
                    yield pending.popleft()
            while pending:
                yield pending.popleft()
        finally:
            for _, _, parse in pending:
                if parse is not None:
                    parse.cancel()


def _assigned_dates(own: np.ndarray, dated: np.ndarray, current: str | None) -> np.ndarray:
    """Each line's partition date: its own, else the last dated line's before it (in this
    block, else `current`, carried from the blocks before); None before the first."""
    last_dated = np.full(len(own), -1, dtype=np.int64)
    last_dated[dated] = dated
    last_dated = np.maximum.accumulate(last_dated) if len(own) else last_dated
    assigned = np.where(last_dated >= 0, own[np.maximum(last_dated, 0)], None)
    assigned[last_dated < 0] = current
    return assigned


def _add_runs(runs: _Runs, numbers: np.ndarray, assigned: np.ndarray) -> None:
    """Record the block's runs of consecutive lines assigned to one date."""
    if not len(numbers):
        return
    same = np.zeros(len(numbers), dtype=bool)
    same[1:] = (assigned[1:] == assigned[:-1]) & (numbers[1:] == numbers[:-1] + 1)
    starts = np.flatnonzero(~same)
    ends = np.append(starts[1:], len(numbers)) - 1
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        date = assigned[start]
        if date is not None:
            runs.add(int(numbers[start]), int(numbers[end]), date)


@json_database_scope()
def build_file_index(
    source: RawSource,
    raw_dir: Path,
    path: Path,
    max_line_bytes: int,
    stage_in: Path | None = None,
) -> FileIndex:
    """Read `path` once, parse every line column-wise, and record the date each line is
    assigned to. With `stage_in` (the output folder), the parsed lines are also kept per
    date for the partitions that will ingest them (lakehouse/ingest/staging.py)."""
    stat = path.stat()
    relative = path.relative_to(raw_dir).as_posix()
    fallback = datetime.fromtimestamp(stat.st_mtime, UTC).date().isoformat()
    runs = _Runs()
    first: str | None = None
    current: str | None = None
    lines = 0
    latest = np.array([], dtype=np.int64)
    unreadable: tuple[str, str | None] | None = None
    refused: str | None = None
    stager = (
        Stager(
            staged_folder(stage_in, source, relative, stat.st_size, stat.st_mtime_ns),
            relative,
            source,
        )
        if stage_in is not None
        else None
    )
    try:
        for block, refused, parse in _parsed_blocks(source, iter_line_blocks(path, max_line_bytes)):
            if refused is not None:
                break
            parsed = parse.result()
            lines = int(block.numbers[-1])
            latest = _latest(latest, parsed.rows)
            own = parsed.dates.to_numpy(zero_copy_only=False)
            dated = np.flatnonzero(pc.is_valid(parsed.dates).to_numpy(zero_copy_only=False))
            if first is None and len(dated):
                first = own[dated[0]]
                if block.numbers[dated[0]] > 1:
                    runs.add(1, int(block.numbers[dated[0]]) - 1, first)
            assigned = _assigned_dates(own, dated, current)
            _add_runs(runs, block.numbers, assigned)
            current = assigned[-1] if len(assigned) else current
            unreadable = _unreadable(block, current) or unreadable
            if stager is not None:
                stager.add(parsed, assigned)
    except BaseException:
        if stager is not None:
            stager.discard()
        raise
    if unreadable is None and lines and _ends_mid_line(path):
        unreadable = (f"{relative} ends in the middle of a line (cut short?)", current)
    if refused is None and first is None and lines:
        refused = reasons.reason(
            reasons.UNDATED_FILE,
            f"none of its {lines} line(s) has a readable timestamp, so no day can be trusted",
        )
    if refused is not None:
        runs = _Runs()
        if stager is not None:
            stager.discard()
    elif stager is not None:
        stager.commit()
    return FileIndex(
        relative_path=relative,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        max_line_bytes=max_line_bytes,
        first_date=first,
        fallback_date=fallback,
        lines=lines,
        date_counts=dict(sorted(runs.counts.items())),
        date_runs=runs.runs,
        refused=refused,
        latest_events=[] if refused is not None else [_iso_utc(int(t)) for t in latest],
        unreadable=unreadable[0] if unreadable and refused is None else None,
        unreadable_date=unreadable[1] if unreadable and refused is None else None,
    )


def _latest(latest: np.ndarray, rows: pa.Table) -> np.ndarray:
    """The WATERMARK_LINES latest `ts` of `latest` and `rows` (microseconds), newest first."""
    if not rows.num_rows:
        return latest
    times = rows.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
    merged = np.concatenate([latest, times.astype(np.int64)])
    if len(merged) > WATERMARK_LINES:
        merged = np.partition(merged, len(merged) - WATERMARK_LINES)[-WATERMARK_LINES:]
    return np.sort(merged)[::-1].astype(np.int64)


def _ends_mid_line(path: Path) -> bool:
    """A plain log whose last byte is not a newline was cut short, or is still being written:
    either way the day it ends on is not known to be whole. (A gzip file cut short fails to
    decompress instead, which `_unreadable` sees.)"""
    if path.name.endswith(".gz"):
        return False
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.lseek(descriptor, -1, os.SEEK_END)
        return os.read(descriptor, 1) != b"\n"
    finally:
        os.close(descriptor)


def _unreadable(block: LineBlock, current: str | None) -> tuple[str, str | None] | None:
    """The error that cut a file short (its tail could not be read), with the day it ended on."""
    for error, _ in block.errors.values():
        if reasons.reason_code(error) == reasons.UNREADABLE_FILE:
            return error, current
    return None


def _iso_utc(microseconds: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=microseconds)).isoformat()


@dataclass(frozen=True)
class BlockOfDate:
    """A parsed block and which of its positions belong to the wanted date."""

    parsed: ParsedBlock
    wanted: np.ndarray


def iter_blocks_of_date(
    source: RawSource, raw_dir: Path, index: FileIndex, date_key: str
) -> Iterator[BlockOfDate]:
    """Parse the blocks of `index`'s file that hold lines of `date_key`; skip the rest
    unparsed.

    Raises RawFilesChanged when a wanted line's own date contradicts the index.
    """
    wanted_runs = [(first, last) for first, last, date in index.date_runs if date == date_key]
    if not wanted_runs:
        return
    firsts = np.array([first for first, _ in wanted_runs], dtype=np.int64)
    lasts = np.array([last for _, last in wanted_runs], dtype=np.int64)
    last_wanted = int(lasts.max())
    for block in iter_line_blocks(raw_dir / index.relative_path, index.max_line_bytes):
        numbers = block.numbers
        run = np.searchsorted(firsts, numbers, side="right") - 1
        wanted = (run >= 0) & (numbers <= lasts[np.maximum(run, 0)])
        if wanted.any():
            parsed = parse_block(source, block)
            other_day = pc.fill_null(pc.not_equal(parsed.dates, date_key), False)
            contradicts = wanted & other_day.to_numpy(zero_copy_only=False)
            if contradicts.any():
                position = int(np.flatnonzero(contradicts)[0])
                raise RawFilesChanged(
                    f"{index.relative_path} line {int(numbers[position])} is dated "
                    f"{parsed.dates[position].as_py()}, the index said {date_key}: the file "
                    "changed while it was read; rerun the partition"
                )
            yield BlockOfDate(parsed, wanted)
        if len(numbers) and int(numbers[-1]) >= last_wanted:
            return


def index_path(out_dir: Path, source: RawSource, relative_path: str) -> Path:
    """Where the cached index of one raw file is kept."""
    return out_dir / "bronze" / "_index" / source.name / f"{path_digest(relative_path)}.json"


def _stored_index(source: RawSource, raw_dir: Path, out_dir: Path, path: Path) -> FileIndex | None:
    relative = path.relative_to(raw_dir).as_posix()
    cached_at = index_path(out_dir, source, relative)
    if not cached_at.exists():
        return None
    try:
        cached = FileIndex(**orjson.loads(cached_at.read_bytes()))
    except (orjson.JSONDecodeError, TypeError):
        return None
    if cached.version != INDEX_VERSION or cached.relative_path != relative:
        return None
    return cached


def _cached_index(
    source: RawSource, raw_dir: Path, out_dir: Path, path: Path, max_line_bytes: int
) -> FileIndex | None:
    """The stored index while it is valid; the stored one marked `held` when the file shrank."""
    cached = _stored_index(source, raw_dir, out_dir, path)
    if cached is None:
        return None
    stat = path.stat()
    if stat.st_size < cached.size and cached.date_counts:
        cached.held = reasons.reason(
            reasons.RAW_FILE_SHRANK,
            f"{cached.relative_path} shrank from {cached.size:,} to {stat.st_size:,} bytes since "
            f"it was indexed, so its days ({', '.join(cached.date_counts)}) keep their bronze; "
            f"if it was rotated on purpose, rerun with --accept-rotated {cached.relative_path}",
        )
        return cached
    valid = (
        cached.size == stat.st_size
        and cached.mtime_ns == stat.st_mtime_ns
        and cached.max_line_bytes == max_line_bytes
    )
    return cached if valid else None


def forget_index(source: RawSource, out_dir: Path, relative_path: str) -> bool:
    """Drop the stored index of one raw file (the operator rotated it on purpose): it is
    indexed afresh and its days are rebuilt from what it holds now. True if one was stored."""
    cached_at = index_path(out_dir, source, relative_path)
    existed = cached_at.exists()
    cached_at.unlink(missing_ok=True)
    return existed


def _store_index(source: RawSource, out_dir: Path, index: FileIndex) -> None:
    target = index_path(out_dir, source, index.relative_path)
    write_bytes_atomically(target, orjson.dumps(index), private=True)


def load_or_build_index(
    source: RawSource, raw_dir: Path, out_dir: Path, path: Path, max_line_bytes: int
) -> FileIndex:
    """The file's index from the cache when still valid, else built now and cached."""
    cached = _cached_index(source, raw_dir, out_dir, path, max_line_bytes)
    if cached is not None:
        return cached
    index = build_file_index(source, raw_dir, path, max_line_bytes, out_dir)
    _store_index(source, out_dir, index)
    return index


def index_source(
    source: RawSource,
    raw_dir: Path,
    out_dir: Path,
    max_line_bytes: int,
    workers: int = 0,
    on_indexed: Callable[[int], None] | None = None,
) -> list[FileIndex]:
    """Indexes of every raw file of `source`, building the missing or stale ones.

    Stale files are indexed in parallel (`workers` processes, 0 = one per core) when at least
    two are large (PARALLEL_INDEX_MIN_BYTES): each is an independent full read of one file.
    `on_indexed` is called with the number of files found up to date, then once per file
    built.
    """
    done = on_indexed or (lambda _files: None)
    paths = source.files(raw_dir)
    cached = {p: _cached_index(source, raw_dir, out_dir, p, max_line_bytes) for p in paths}
    stale = [p for p, index in cached.items() if index is None]
    done(len(paths) - len(stale))
    # A spawned process costs about a second of imports: worth it only for two large files.
    large = sum(1 for p in stale if p.stat().st_size >= PARALLEL_INDEX_MIN_BYTES)
    processes = min(large, workers or os.cpu_count() or 1)
    fresh = {}
    if processes > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            built = pool.map(
                build_file_index,
                [source] * len(stale),
                [raw_dir] * len(stale),
                stale,
                [max_line_bytes] * len(stale),
                [out_dir] * len(stale),
            )
            for path, index in zip(stale, built, strict=True):
                fresh[path] = index
                done(1)
    else:
        for path in stale:
            fresh[path] = build_file_index(source, raw_dir, path, max_line_bytes, out_dir)
            done(1)
    for index in fresh.values():
        _store_index(source, out_dir, index)
    indexes = [cached[p] or fresh[p] for p in paths]
    _record_source_state(source, raw_dir, out_dir, indexes)
    return indexes


def _record_source_state(
    source: RawSource, raw_dir: Path, out_dir: Path, indexes: list[FileIndex]
) -> None:
    """The source's watermark, lines per day and shipper markers, for completeness."""
    lines: Counter[str] = Counter()
    for index in indexes:
        lines.update(index.date_counts)
    times = sorted(
        (datetime.fromisoformat(t) for index in indexes for t in index.latest_events), reverse=True
    )
    corroborated = times[min(WATERMARK_LINES, len(times)) - 1].isoformat() if times else None
    unreadable = {
        index.unreadable_date: f"{index.relative_path} could not be read to its end"
        for index in indexes
        if index.unreadable and index.unreadable_date
    }
    coverage.record_source(
        out_dir,
        source.name,
        corroborated,
        dict(lines),
        coverage.shipper_marker_days(raw_dir, source.folder),
        unreadable,
    )


def dates_found(indexes: list[FileIndex]) -> list[str]:
    """Every partition date that at least one line is assigned to, sorted."""
    return sorted({date for index in indexes for date in index.date_counts})
