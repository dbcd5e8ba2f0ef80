"""Locks: one run per output folder, the erasure lock and the release lock.

The erasure lock: an erasure sweep never runs while a partition is being written.

Ingestion, de-identification and gold hold the lock shared (many at once); the erasure sweep
holds it exclusive. So a partition written while an erasure is recorded either finishes
before the sweep (and is swept) or starts after it (and filters the new entries itself).

The run lock is filelock's FileLock (flock underneath, with its timeout for --wait). The erasure
and release locks stay plain fcntl.flock: the erasure lock must be shared or exclusive, which
filelock's FileLock cannot express (its ReadWriteLock is an SQLite transaction with its own file
format and per-thread rules, its SoftReadWriteLock a lease that outlives a crashed holder).
Every wait has a limit, so a hung holder fails the waiting step instead of hanging it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from lakehouse.storage import make_dirs

# Longer than any step that holds a lock takes (a ten-million-event day's silver: 12 minutes).
LOCK_TIMEOUT_SECONDS = 2 * 60 * 60


class LockTimeout(TimeoutError):
    """A lock was not free within its time limit: its holder is hung, or far slower than usual."""


@contextmanager
def erasure_lock(
    out_dir: Path, exclusive: bool, timeout: float = LOCK_TIMEOUT_SECONDS
) -> Iterator[None]:
    """Hold `<out>/.locks/erasure.lock`, shared or exclusive, until the block ends; LockTimeout
    after `timeout` seconds of waiting."""
    with _lock(out_dir, "erasure.lock", exclusive, timeout):
        yield


@contextmanager
def release_lock(out_dir: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold `<out>/.locks/releases.lock` exclusively: one release is drawn at a time.

    Two recipients' releases of one period share their draws; without the lock, two steps
    running at once could both find no draw and both draw one.
    """
    with _lock(out_dir, "releases.lock", True, timeout):
        yield


@contextmanager
def _lock(out_dir: Path, name: str, exclusive: bool, timeout: float) -> Iterator[None]:
    folder = out_dir / ".locks"
    make_dirs(folder, private=True)
    descriptor = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, timeout, folder / name)
        yield
    finally:
        os.close(descriptor)


def _flock(descriptor: int, operation: int, timeout: float, path: Path) -> None:
    """flock, waiting at most `timeout` seconds (polling, from 10 ms up to 1 s apart)."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        try:
            fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"{path} was not free within {timeout:.0f}s: a step holding it is hung or "
                    "far slower than usual; find it (fuser -v on the file), then retry"
                ) from None
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            pause = min(pause * 2, 1.0)


class RunInProgress(RuntimeError):
    """Another `python -m pipelines run` holds the output folder."""


@contextmanager
def run_lock(out_dir: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold `<out>/.locks/run.lock` for a whole run: one run per output folder.

    Waits up to `wait_seconds` (saying so once), then raises RunInProgress naming the process
    that holds it (the lock file holds its pid). The kernel releases the lock (flock) when its
    holder dies, however it dies.
    """
    folder = out_dir / ".locks"
    make_dirs(folder, private=True)
    path = folder / "run.lock"
    # on_acquired also rules out filelock's soft fallback, a marker file a crash would leave.
    lock = FileLock(path, mode=0o600, poll_interval=0.5, on_acquired=_write_holder)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        if wait_seconds <= 0:
            raise _in_progress(out_dir, path) from None
        print(f"another run ({_holder(path)}) is writing {out_dir}: waiting", flush=True)
        try:
            lock.acquire(timeout=wait_seconds)
        except Timeout:
            raise _in_progress(out_dir, path) from None
    try:
        yield
    finally:
        lock.release()


def _write_holder(descriptor: int) -> None:
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"pid {os.getpid()}, started {time.ctime()}\n".encode(), 0)


def _in_progress(out_dir: Path, path: Path) -> RunInProgress:
    return RunInProgress(
        f"another run ({_holder(path)}) is writing {out_dir}: wait for it to finish, "
        "or pass --wait SECONDS to queue behind it"
    )


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "pid unknown"
    except OSError:
        return "pid unknown"
