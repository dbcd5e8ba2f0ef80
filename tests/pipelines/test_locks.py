"""The locks: one run per output folder (filelock), the shared/exclusive erasure lock (flock),
and time limits on every wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse.locks import LockTimeout, RunInProgress, erasure_lock, release_lock, run_lock
from tests.conftest import PROJECT_ROOT

HOLDER = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from lakehouse.locks import run_lock\n"
    "with run_lock(Path(sys.argv[1])):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def _hold_run_lock(out: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out), str(seconds)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_held_run_lock_names_its_holder_and_is_freed_when_the_holder_is_killed(
    tmp_path: Path,
) -> None:
    holder = _hold_run_lock(tmp_path, 60)
    try:
        assert (tmp_path / ".locks" / "run.lock").read_text().startswith(f"pid {holder.pid},")
        with pytest.raises(RunInProgress, match=rf"pid {holder.pid}.*--wait"), run_lock(tmp_path):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with run_lock(tmp_path):  # the kernel released the dead holder's lock
        assert (tmp_path / ".locks" / "run.lock").read_text().startswith(f"pid {os.getpid()},")
    assert oct((tmp_path / ".locks" / "run.lock").stat().st_mode & 0o777) == oct(0o600)


def test_wait_says_so_once_then_gets_the_lock_or_gives_up(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    holder = _hold_run_lock(tmp_path, 1.5)
    began = time.monotonic()
    with pytest.raises(RunInProgress), run_lock(tmp_path, wait_seconds=0.3):
        pass
    assert time.monotonic() - began < 1.5
    with run_lock(tmp_path, wait_seconds=30):
        pass
    holder.wait()
    assert capsys.readouterr().out.count(f"pid {holder.pid}") == 2  # one 'waiting' line per try


def test_the_erasure_lock_is_shared_or_exclusive_and_its_waits_end(tmp_path: Path) -> None:
    with erasure_lock(tmp_path, exclusive=False), erasure_lock(tmp_path, exclusive=False):
        began = time.monotonic()
        with (
            pytest.raises(LockTimeout, match=r"erasure\.lock"),
            erasure_lock(tmp_path, exclusive=True, timeout=0.3),
        ):
            pass
        assert 0.3 <= time.monotonic() - began < 3
    with erasure_lock(tmp_path, exclusive=True):
        with pytest.raises(LockTimeout), erasure_lock(tmp_path, exclusive=False, timeout=0.1):
            pass
        with (
            release_lock(tmp_path),  # another lock file: independent of the erasure lock
            pytest.raises(LockTimeout, match=r"releases\.lock"),
            release_lock(tmp_path, timeout=0.1),
        ):
            pass
