"""Locks: one run per output folder, the erasure lock and the release lock.

The erasure lock: an erasure sweep never runs while a partition is being written.

Ingestion, de-identification and gold hold the lock shared (many at once); the erasure sweep
holds it exclusive. So a partition written while an erasure is recorded either finishes
before the sweep (and is swept) or starts after it (and filters the new entries itself).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakehouse.storage import make_dirs


@contextmanager
def erasure_lock(out_dir: Path, exclusive: bool) -> Iterator[None]:
    """Hold `<out>/.locks/erasure.lock`, shared or exclusive, until the block ends."""
    with _lock(out_dir, "erasure.lock", exclusive):
        yield


@contextmanager
def release_lock(out_dir: Path) -> Iterator[None]:
    """Hold `<out>/.locks/releases.lock` exclusively: one release is drawn at a time.

    Two recipients' releases of one period share their draws; without the lock, two steps
    running at once could both find no draw and both draw one.
    """
    with _lock(out_dir, "releases.lock", exclusive=True):
        yield


@contextmanager
def _lock(out_dir: Path, name: str, exclusive: bool) -> Iterator[None]:
    folder = out_dir / ".locks"
    make_dirs(folder, private=True)
    descriptor = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


class RunInProgress(RuntimeError):
    """Another `python -m pipelines run` holds the output folder."""


@contextmanager
def run_lock(out_dir: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold `<out>/.locks/run.lock` for a whole run: one run per output folder.

    Waits up to `wait_seconds` (saying so once), then raises RunInProgress naming the process
    that holds it. The kernel releases the lock when its holder dies, however it dies.
    """
    folder = out_dir / ".locks"
    make_dirs(folder, private=True)
    path = folder / "run.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                if time.monotonic() >= deadline:
                    raise RunInProgress(
                        f"another run ({holder}) is writing {out_dir}: wait for it to finish, "
                        "or pass --wait SECONDS to queue behind it"
                    ) from None
                if not announced:
                    print(f"another run ({holder}) is writing {out_dir}: waiting", flush=True)
                    announced = True
                time.sleep(0.5)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()}, started {time.ctime()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "pid unknown"
    except OSError:
        return "pid unknown"
