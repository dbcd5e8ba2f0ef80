"""Ingest one daily partition of one raw source into bronze Parquet plus a quarantine file."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from lakehouse.accounts import DayDirectory, write_day_directory
from lakehouse.erasure import ErasedSubjects, erase_from_batch, erase_from_quarantine
from lakehouse.ingest import reasons
from lakehouse.ingest.quarantine import QUARANTINE_SCHEMA, bronze_rows, quarantine_entries
from lakehouse.ingest.raw_lines import DEFAULT_MAX_LINE_BYTES, display_name, iter_raw_lines
from lakehouse.ingest.routing import (
    BlockOfDate,
    FileIndex,
    RawFilesChanged,
    RawFileShrank,
    index_source,
    iter_blocks_of_date,
)
from lakehouse.ingest.sources import RawSource
from lakehouse.ingest.staging import StagedDate, staged_date, staged_file, staged_folder
from lakehouse.storage import AtomicParquetWriter, make_dirs, partition_file


@dataclass(frozen=True)
class IngestSettings:
    """Limits of ingestion.

    A partition fails when it rejects more than `max_rejected_share` of its lines *and* more
    than `tolerated_rejects` lines, so that one bad line in a tiny partition (the few minutes
    of a day that spill into the next file) does not stop a run.
    """

    max_rejected_share: float = 0.02
    tolerated_rejects: int = 10
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    batch_rows: int = 50_000

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_rejected_share <= 1.0:
            raise ValueError(
                f"max_rejected_share must be between 0 and 1, got {self.max_rejected_share}"
            )
        if self.max_line_bytes < 1024:
            raise ValueError(f"max_line_bytes must be at least 1024, got {self.max_line_bytes}")
        if self.tolerated_rejects < 0:
            raise ValueError(f"tolerated_rejects must be >= 0, got {self.tolerated_rejects}")
        if self.batch_rows < 1:
            raise ValueError(f"batch_rows must be positive, got {self.batch_rows}")


@dataclass
class PartitionReport:
    """What one partition's ingestion read, kept and rejected, and where it wrote."""

    source: str
    date_key: str
    bronze_path: Path
    quarantine_path: Path
    files_read: list[str] = field(default_factory=list)
    lines: int = 0
    rows: int = 0
    rejected: int = 0
    erased: int = 0
    expected_lines: int = 0
    reason_counts: Counter[str] = field(default_factory=Counter)
    published: bool = False
    account_entries: int | None = None
    staged_files: int = 0

    @property
    def rejected_share(self) -> float:
        """Share of this partition's lines that went to quarantine."""
        return self.rejected / self.lines if self.lines else 0.0

    @property
    def accounted_for(self) -> bool:
        """Every line the index assigns to this date became a row, a quarantine entry, or was
        left out because its user was erased."""
        return self.lines == self.expected_lines == self.rows + self.rejected + self.erased


class RejectedShareExceeded(RuntimeError):
    """More lines than allowed were quarantined: bronze was not replaced, quarantine was."""

    def __init__(self, report: PartitionReport, limit: float) -> None:
        top = ", ".join(f"{code} x{n}" for code, n in report.reason_counts.most_common(5))
        super().__init__(
            f"{report.source} {report.date_key}: {report.rejected} of {report.lines} lines "
            f"({report.rejected_share:.2%}) were quarantined, above the limit of {limit:.2%} "
            f"(max_rejected_share). Reasons: {top}. Inspect {report.quarantine_path}, fix the "
            "input or raise the limit, then rerun the partition."
        )
        self.report = report


Eraser = Callable[[pa.RecordBatch], tuple[pa.RecordBatch, int]]


class _Batcher:
    """Collects rows (tuples or tables, in order) and writes them in batches of `batch_rows`,
    so bronze keeps row groups of that size whatever the blocks it was parsed in.

    `on_written` sees each batch as written (after the eraser), while the writer's thread
    compresses it."""

    def __init__(
        self,
        writer: AtomicParquetWriter,
        batch_rows: int,
        eraser: Eraser | None,
        on_written: Callable[[pa.RecordBatch], None] | None = None,
    ) -> None:
        self.writer = writer
        self.on_written = on_written
        self.batch_rows = batch_rows
        self.eraser = eraser
        self.erased = 0
        self.rows: list[tuple] = []
        self.tables: list[pa.Table] = []
        self.buffered = 0

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        self.buffered += 1
        if self.buffered >= self.batch_rows:
            self.flush(whole_batches_only=True)

    def add_table(self, table: pa.Table) -> None:
        """Add rows already in columns (after the pending tuples, to keep line order)."""
        self._tuples_to_table()
        self.tables.append(table)
        self.buffered += table.num_rows
        if self.buffered >= self.batch_rows:
            self.flush(whole_batches_only=True)

    def _tuples_to_table(self) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows, strict=True))
        schema = self.writer.schema
        arrays = [
            pa.array(values, type=schema_field.type)
            for values, schema_field in zip(columns, schema, strict=True)
        ]
        self.tables.append(pa.Table.from_arrays(arrays, schema=schema))
        self.rows = []

    def flush(self, whole_batches_only: bool = False) -> None:
        """Write everything collected so far, or only whole batches of `batch_rows` (the rest
        stays for the next one): row groups come out even, which lets silver's batches
        overlap evenly with its NER workers."""
        self._tuples_to_table()
        if not self.tables:
            return
        table = pa.concat_tables(self.tables)
        self.tables, self.buffered = [], 0
        if whole_batches_only:
            whole = table.num_rows - table.num_rows % self.batch_rows
            if whole < table.num_rows:
                self.tables, self.buffered = [table.slice(whole)], table.num_rows - whole
            table = table.slice(0, whole)
        # Each slice is written as one row group; its chunks are not copied into one.
        for start in range(0, table.num_rows, self.batch_rows):
            batch = table.slice(start, self.batch_rows)
            if self.eraser is not None:
                batch, erased = self.eraser(batch.combine_chunks().to_batches()[0])
                self.erased += erased
            self.writer.write(batch)
            if self.on_written is not None:
                self.on_written(batch)


def _write_block(
    part: BlockOfDate,
    relative_path: str,
    out_of_window: str | None,
    rows: _Batcher,
    rejects: _Batcher,
    reason_counts: Counter[str],
) -> None:
    """Send the wanted lines of one parsed block to bronze (rows) or quarantine (the rest)."""
    parsed, wanted = part.parsed, part.wanted
    if out_of_window is None:
        table = bronze_rows(parsed, wanted, relative_path, rows.writer.schema)
        if table is not None:
            rows.add_table(table)
        wanted = wanted & ~parsed.accepted
    for entry in quarantine_entries(parsed, wanted, relative_path, out_of_window, reason_counts):
        rejects.add(entry)


def _write_staged(staged: StagedDate, rows: _Batcher, rejects: _Batcher, counts: Counter) -> None:
    """Send one file's staged lines of the date to bronze and quarantine."""
    for batch in staged.batches("rows"):
        rows.add_table(pa.Table.from_arrays(batch.columns, schema=rows.writer.schema))
    for batch in staged.batches("quarantine"):
        counts.update(batch.column("reason_code").to_pylist())
        rejects.add_table(pa.Table.from_arrays(batch.columns, schema=rejects.writer.schema))


def _staged_of(
    out_dir: Path, source: RawSource, index: FileIndex, date_key: str
) -> StagedDate | None:
    folder = staged_folder(out_dir, source, index.relative_path, index.size, index.mtime_ns)
    return staged_date(folder, date_key, index.date_counts[date_key])


def _drop_staged_date(out_dir: Path, source: RawSource, indexes: list[FileIndex], date_key: str):
    """The date's staged lines are spent once its partition is written."""
    for index in indexes:
        folder = staged_folder(out_dir, source, index.relative_path, index.size, index.mtime_ns)
        for kind in ("rows", "quarantine"):
            staged_file(folder, date_key, kind).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()


def ingest_partition(
    source: RawSource,
    raw_dir: Path,
    out_dir: Path,
    date_key: str,
    settings: IngestSettings | None = None,
    erased: ErasedSubjects | None = None,
    out_of_window: str | None = None,
) -> PartitionReport:
    """Parse every raw line assigned to `date_key` into bronze; quarantine the rest with reasons.

    For app events it also replaces the day's account directory (lakehouse/accounts.py), which
    ties the access log's logged-in requests to their accounts.

    Replaces `<out>/bronze/<source>/date=<date>/` and `<out>/quarantine/<source>/date=<date>/`
    atomically. Raises RejectedShareExceeded (after writing quarantine, keeping the old
    bronze) when too many lines were rejected, RawFilesChanged when the raw files moved
    under it (nothing is published then), and RawFileShrank when a file of the day is shorter
    than when it was indexed (bronze keeps what it had). Rows and quarantined lines of users in
    `erased` (the erasure ledger) are left out and counted as erased.

    With `out_of_window` (the reason a date lies outside the partitions: the far future, or
    before the first date), every line of the date is quarantined with that reason and no
    bronze is written.
    """
    settings = settings or IngestSettings()
    for layer in ("bronze", "quarantine"):
        make_dirs(out_dir / layer, private=True)
    report = PartitionReport(
        source=source.name,
        date_key=date_key,
        bronze_path=partition_file(out_dir, "bronze", source.name, date_key),
        quarantine_path=partition_file(out_dir, "quarantine", source.name, date_key),
    )
    indexes = index_source(source, raw_dir, out_dir, settings.max_line_bytes)
    relevant = [index for index in indexes if date_key in index.date_counts]
    for index in relevant:
        if index.held:
            raise RawFileShrank(index.held)
    report.expected_lines = sum(index.date_counts[date_key] for index in relevant)

    with (
        AtomicParquetWriter(
            report.bronze_path, source.schema, private=True, background=True
        ) as bronze,
        AtomicParquetWriter(report.quarantine_path, QUARANTINE_SCHEMA, private=True) as quarantine,
    ):
        directory = DayDirectory() if source.name == "app_events" else None
        rows = _Batcher(
            bronze,
            settings.batch_rows,
            (lambda batch: erase_from_batch(erased, source.name, batch)) if erased else None,
            directory.add if directory is not None else None,
        )
        rejects = _Batcher(
            quarantine,
            10_000,
            (lambda batch: erase_from_quarantine(erased, batch)) if erased else None,
        )
        for index in relevant:
            report.files_read.append(index.relative_path)
            staged = None if out_of_window else _staged_of(out_dir, source, index, date_key)
            if staged is not None:
                _write_staged(staged, rows, rejects, report.reason_counts)
                report.lines += index.date_counts[date_key]
                report.staged_files += 1
                continue
            seen = 0
            for part in iter_blocks_of_date(source, raw_dir, index, date_key):
                seen += int(part.wanted.sum())
                _write_block(
                    part, index.relative_path, out_of_window, rows, rejects, report.reason_counts
                )
            if seen != index.date_counts[date_key]:
                bronze.discard()
                quarantine.discard()
                raise RawFilesChanged(
                    f"{index.relative_path} changed while it was read ({seen} lines for "
                    f"{date_key}, the index said {index.date_counts[date_key]}): "
                    "rerun the partition"
                )
            report.lines += seen
        rows.flush()
        rejects.flush()
        report.rows, report.rejected = bronze.rows, quarantine.rows
        report.erased = rows.erased + rejects.erased
        if out_of_window is not None:
            bronze.discard()
            _drop_staged_date(out_dir, source, relevant, date_key)
            return report
        too_many_rejected = (
            report.rejected_share > settings.max_rejected_share
            and report.rejected > settings.tolerated_rejects
        )
        if too_many_rejected:
            bronze.discard()
    if too_many_rejected:
        raise RejectedShareExceeded(report, settings.max_rejected_share)
    report.published = True
    _drop_staged_date(out_dir, source, relevant, date_key)
    if directory is not None:
        report.account_entries = write_day_directory(out_dir, date_key, directory.entries())
    return report


UNDATED_PARTITION = "undated"


def quarantine_refused_files(
    source: RawSource,
    raw_dir: Path,
    out_dir: Path,
    indexes: list[FileIndex],
    erased: ErasedSubjects | None = None,
) -> Counter[str]:
    """Record every refused file of `source` in `<out>/quarantine/<source>/date=undated/`.

    A file without any dated line keeps each of its lines there (nothing is lost); a link, a
    special file or a decompression bomb, which are never read, gets one entry (line 0). The
    partition is rewritten from the raw folder's current state, and removed when nothing is
    refused. Returns the count of entries per reason code.
    """
    target = partition_file(out_dir, "quarantine", source.name, UNDATED_PARTITION)
    counts: Counter[str] = Counter()
    entries: list[tuple[str, str]] = []
    for path, why in source.refused_files(raw_dir):
        text = reasons.reason(reasons.NOT_A_REGULAR_FILE, why)
        entries.append((display_name(path.relative_to(raw_dir).as_posix()), text))
    for index in indexes:
        if index.refused:
            entries.append((index.relative_path, index.refused))
    if not entries:
        target.unlink(missing_ok=True)
        return counts
    make_dirs(target.parent, private=True)
    with AtomicParquetWriter(target, QUARANTINE_SCHEMA, private=True) as quarantine:
        batcher = _Batcher(
            quarantine,
            10_000,
            (lambda batch: erase_from_quarantine(erased, batch)) if erased else None,
        )
        for relative, why in entries:
            code = reasons.reason_code(why)
            counts[code] += 1
            if code != reasons.UNDATED_FILE:
                batcher.add((relative, 0, code, why, b"", 0))
                continue
            for raw in iter_raw_lines(raw_dir / relative):
                batcher.add((relative, raw.number, code, why, raw.data, raw.length))
        batcher.flush()
    return counts
