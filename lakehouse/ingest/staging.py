"""Parse once: the lines a raw file holds for each date, kept from its indexing.

Indexing a file parses all of it, since that is how each line's date is known. Rather than
throw the parsed lines away and parse the file again for each date it holds, the index pass
writes them per date under `<out>/bronze/_staged/<source>/<file digest>-<size>-<mtime>/`:
`date=<D>.rows.arrow` (bronze rows) and `date=<D>.quarantine.arrow` (quarantine entries),
Arrow IPC files with LZ4: a scratch copy read back once, for which Parquet's encoding cost
more than it saved. The partition of D reads them instead of the raw file and deletes them
once its bronze is published.

They are a cache of bronze, owner-only like bronze: a partition that finds none, or finds
them incomplete, parses the raw file as before. The folder name carries the file's size and
modification time, so a file that changed never meets the lines of its old content. The
erasure sweep deletes them all, and a partition filters erased users from them as from a
raw file.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakehouse.ingest.columnar import ParsedBlock
from lakehouse.ingest.quarantine import QUARANTINE_SCHEMA, bronze_rows, quarantine_entries
from lakehouse.ingest.sources import RawSource
from lakehouse.storage import AtomicArrowWriter

STAGED = "_staged"
# Lines before a file's first dated line wait for that date in memory; past this many the
# file is not staged (its partitions parse it instead), so memory stays bounded.
MAX_LEADING_LINES = 100_000


def staged_root(out_dir: Path) -> Path:
    """Where every staged file lives."""
    return out_dir / "bronze" / STAGED


def path_digest(relative_path: str) -> str:
    """A raw file's name under the output folder (its index, its staged lines): 24 hex
    characters of the SHA-256 of its path under the raw folder."""
    return hashlib.sha256(relative_path.encode()).hexdigest()[:24]


def staged_file(folder: Path, date_key: str, kind: str) -> Path:
    """One date's staged `rows` or `quarantine` in a file's staged folder."""
    return folder / f"date={date_key}.{kind}.arrow"


def staged_folder(
    out_dir: Path, source: RawSource, relative_path: str, size: int, mtime_ns: int
) -> Path:
    """The staged lines of one raw file in one state (size and modification time)."""
    return staged_root(out_dir) / source.name / f"{path_digest(relative_path)}-{size}-{mtime_ns}"


class Stager:
    """Writes the parsed lines of one raw file, per date, while the file is indexed."""

    def __init__(self, folder: Path, relative_path: str, source: RawSource) -> None:
        self.folder = folder
        self.relative_path = relative_path
        self.schema = source.schema
        self._rows: dict[str, AtomicArrowWriter] = {}
        self._quarantine: dict[str, AtomicArrowWriter] = {}
        self._leading: list[tuple[ParsedBlock, np.ndarray]] = []
        self._leading_lines = 0
        self.abandoned = False

    def add(self, parsed: ParsedBlock, assigned: list[str | None]) -> None:
        """Stage one parsed block; `assigned` is each line's partition date (None for a line
        before the file's first dated line, staged once that date is known)."""
        if self.abandoned:
            return
        dates = np.array(assigned, dtype=object)
        leading = dates == None  # noqa: E711 - elementwise comparison of an object array
        if leading.any():
            self._leading.append((parsed, leading))
            self._leading_lines += int(leading.sum())
            if self._leading_lines > MAX_LEADING_LINES:
                self.discard()
                return
        for date in dict.fromkeys(d for d in assigned if d is not None):
            if self._leading:
                for waiting, mask in self._leading:
                    self._write(waiting, mask, date)
                self._leading = []
            self._write(parsed, dates == date, date)

    def _write(self, parsed: ParsedBlock, mask: np.ndarray, date: str) -> None:
        rows = bronze_rows(parsed, mask, self.relative_path, self.schema)
        if rows is not None:
            self._writer(self._rows, date, "rows", self.schema).write(rows)
        entries = quarantine_entries(parsed, mask & ~parsed.accepted, self.relative_path)
        if entries:
            table = pa.Table.from_arrays(
                [
                    pa.array(list(column), field.type)
                    for column, field in zip(
                        zip(*entries, strict=True), QUARANTINE_SCHEMA, strict=True
                    )
                ],
                schema=QUARANTINE_SCHEMA,
            )
            self._writer(self._quarantine, date, "quarantine", QUARANTINE_SCHEMA).write(table)

    def _writer(
        self, writers: dict[str, AtomicArrowWriter], date: str, kind: str, schema: pa.Schema
    ) -> AtomicArrowWriter:
        if date not in writers:
            writers[date] = AtomicArrowWriter(staged_file(self.folder, date, kind), schema, True)
        return writers[date]

    def discard(self) -> None:
        """Give up staging this file: nothing it wrote is kept."""
        self.abandoned = True
        self._leading = []
        self._close(keep=False)

    def commit(self) -> None:
        """Publish every date's staged lines, and drop the lines staged for the file's
        earlier states."""
        if self.abandoned:
            return
        self._close(keep=not self._leading)
        for sibling in self.folder.parent.glob(f"{self.folder.name.split('-')[0]}-*"):
            if sibling != self.folder:
                shutil.rmtree(sibling, ignore_errors=True)

    def _close(self, keep: bool) -> None:
        for writer in [*self._rows.values(), *self._quarantine.values()]:
            if not keep:
                writer.discard()
            writer.__exit__(None, None, None)
        self._rows, self._quarantine = {}, {}


@dataclass(frozen=True)
class StagedDate:
    """The staged lines of one raw file for one date, opened.

    The files are open from the start, so another run of the same partition that publishes
    first and deletes them cannot take them away mid-read.
    """

    rows: pa.ipc.RecordBatchFileReader | None
    quarantine: pa.ipc.RecordBatchFileReader | None

    def batches(self, which: str) -> Iterator[pa.RecordBatch]:
        """The batches of the staged rows (`rows`) or quarantine entries (`quarantine`), one
        at a time, as staged (a block's lines of the date each)."""
        staged = self.rows if which == "rows" else self.quarantine
        if staged is None:
            return
        for batch in range(staged.num_record_batches):
            yield staged.get_batch(batch)


def staged_date(folder: Path, date_key: str, expected_lines: int) -> StagedDate | None:
    """The staged lines of `date_key` in `folder` when they account for exactly
    `expected_lines` lines (the index's count), else None (parse the raw file instead)."""
    opened = {}
    lines = 0
    for kind in ("rows", "quarantine"):
        try:
            reader = pa.ipc.open_file(pa.OSFile(str(staged_file(folder, date_key, kind))))
            lines += reader.count_rows()
        except FileNotFoundError:
            reader = None
        except (OSError, pa.ArrowInvalid):
            return None
        opened[kind] = reader
    if lines != expected_lines or not any(opened.values()):
        return None
    return StagedDate(opened["rows"], opened["quarantine"])


def drop_staged(out_dir: Path) -> None:
    """Delete every staged line (the erasure sweep does: they may hold an erased user)."""
    shutil.rmtree(staged_root(out_dir), ignore_errors=True)
