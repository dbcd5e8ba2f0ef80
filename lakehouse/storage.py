"""Where every layer lives on disk, and writes that readers never see half-done.

Each partition of a layer is one Parquet file, written to a hidden temporary file in the
same folder and renamed into place (`os.replace` is atomic on POSIX): a reader sees the
old file or the new one, never a mixture, and a rerun replaces rather than appends.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self

import pyarrow as pa
import pyarrow.parquet as pq

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PARTITION_FILE = "part-0.parquet"
# The writer's pid and a uuid4 hex, as temp_name() and packaging.staging_folder() write them.
_OWNER = re.compile(r"[.-](\d+)-[0-9a-f]{32}(?:\.tmp)?$")


def partition_file(out_dir: Path, layer: str, dataset: str, date_key: str) -> Path:
    """`<out>/<layer>/<dataset>/date=YYYY-MM-DD/part-0.parquet`."""
    return out_dir / layer / dataset / f"date={date_key}" / PARTITION_FILE


def temp_name(target: Path) -> Path:
    """A hidden sibling of `target` that names the writing process: `.<name>.<pid>-<id>.tmp`."""
    return target.parent / f".{target.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp"


def process_alive(pid: int) -> bool:
    """Whether a process with this id still runs (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(folder: Path, pattern: str) -> int:
    """Remove leftovers (named `...<pid>-<id>...`) of writers that died (SIGKILL, power cut).

    A leftover of a live process, which may be a concurrent writer, is never touched.
    """
    removed = 0
    for leftover in folder.glob(pattern):
        owner = _OWNER.search(leftover.name)
        if owner and not process_alive(int(owner.group(1))):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def make_dirs(path: Path, private: bool) -> None:
    """Create `path` and its parents; private folders are owner-only (they hold raw identifiers).

    Every folder this call creates is owner-only when `private`, not only the last one.
    """
    if not private:
        path.mkdir(parents=True, exist_ok=True)
        return
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        os.chmod(created, PRIVATE_DIR_MODE)
    os.chmod(path, PRIVATE_DIR_MODE)


def iter_row_groups(
    file: pq.ParquetFile, batch_rows: int = 65_536, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """The file's rows as record batches of at most `batch_rows`, one row group read at a time.

    pyarrow's `iter_batches` reads ahead across row groups: streaming a bronze day of ten
    million events that way held 650 MiB; this holds one row group.
    """
    for group in range(file.metadata.num_row_groups):
        table = file.read_row_group(group, columns=columns)
        yield from table.to_batches(max_chunksize=batch_rows)


class _AtomicFile:
    """A file written under a temporary name and renamed into place only when complete.

    Use as a context manager: on a clean exit the file is renamed into place; on an
    exception, or when `discard()` was called, the temporary file is removed and whatever
    stood at the target before is left untouched. A subclass opens `_writer` on the
    temporary file.
    """

    _writer: pq.ParquetWriter | pa.ipc.RecordBatchFileWriter

    def __init__(self, target: Path, schema: pa.Schema, private: bool) -> None:
        self.target = target
        self.schema = schema
        self.private = private
        self.rows = 0
        self._discarded = False
        make_dirs(target.parent, private)
        remove_orphans(target.parent, f".{target.name}.*.tmp")
        self._temp = temp_name(target)

    def discard(self) -> None:
        """Drop everything written so far; the target is left as it was."""
        self._discarded = True

    def _publish(self, failed: bool) -> None:
        """Rename the finished file into place, or remove it when `failed` or discarded."""
        if not failed and not self._discarded:
            if self.private:
                os.chmod(self._temp, PRIVATE_FILE_MODE)
            os.replace(self._temp, self.target)
        else:
            self._temp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._writer.close()
        self._publish(failed=exc_type is not None)


class AtomicParquetWriter(_AtomicFile):
    """Stream record batches into one Parquet file that appears only when complete.

    With `background=True`, each batch is encoded and compressed on a thread of its own while
    the caller prepares the next one (Arrow releases the GIL to compress); one batch at a
    time, in order, and a failed write is raised by the next `write` or on exit.
    """

    def __init__(
        self,
        target: Path,
        schema: pa.Schema,
        private: bool = False,
        compression: str = "zstd",
        background: bool = False,
    ) -> None:
        super().__init__(target, schema, private)
        self._writer = pq.ParquetWriter(self._temp, schema, compression=compression)
        self._thread = ThreadPoolExecutor(max_workers=1) if background else None
        self._pending: Future | None = None

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append a batch (or table) whose schema equals the writer's."""
        if self._thread is None:
            self._writer.write(batch)
        else:
            self._wait()
            self._pending = self._thread.submit(self._writer.write, batch)
        self.rows += batch.num_rows

    def flush(self) -> None:
        """Wait until every batch given so far is written (before forking, say: a thread
        busy in Arrow's allocator at fork time could leave its lock held in the child)."""
        self._wait()

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._wait()
        except BaseException:
            if exc_type is None:
                self._writer.close()
                self._publish(failed=True)
                raise
        finally:
            if self._thread is not None:
                self._thread.shutdown()
        super().__exit__(exc_type, exc, tb)


class AtomicArrowWriter(_AtomicFile):
    """Stream record batches into one Arrow IPC file (LZ4-compressed) that appears only when
    complete: a scratch copy to be read back soon, cheaper to write and read than Parquet."""

    def __init__(self, target: Path, schema: pa.Schema, private: bool = False) -> None:
        super().__init__(target, schema, private)
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        self._writer = pa.ipc.new_file(str(self._temp), schema, options=options)

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append a batch (or table) whose schema equals the writer's."""
        self._writer.write(batch)
        self.rows += batch.num_rows


def write_bytes_atomically(target: Path, payload: bytes, private: bool = False) -> None:
    """Write a small file through a temporary name and an atomic rename."""
    make_dirs(target.parent, private)
    temp = temp_name(target)
    temp.write_bytes(payload)
    if private:
        os.chmod(temp, PRIVATE_FILE_MODE)
    os.replace(temp, target)


def append_line(target: Path, line: str) -> None:
    """Append one line to an append-only audit file (JSON Lines), creating its folder."""
    make_dirs(target.parent, private=False)
    with open(target, "a", encoding="utf-8") as stream:
        stream.write(line.rstrip("\n") + "\n")
