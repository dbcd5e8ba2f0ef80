"""Operational faults: a full disk, two runs at once, SIGINT and SIGTERM mid-run (issue 12)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.sample.generator import GeneratorConfig, generate
from tests.conftest import PROJECT_ROOT, run_pipeline_cli

ENV = {
    "PSEUDONYMIZATION_KEY": "fault-tests-pseudonymization-key-0123456",
    "EXPORT_SIGNING_KEY": "fa" * 32,
}
FILE_SIZE_LIMIT = 1_500_000


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults") / "raw"
    generate(GeneratorConfig(out=folder, days=3, users=80, seed=5, malformed_rate=0.0))
    return folder


@pytest.fixture(scope="module")
def finished(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "out"
    result = run_pipeline_cli(raw, out, ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _start(raw: Path, out: Path, *options: str) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINES_", "DAGSTER_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", "run", "--raw", str(raw), "--out", str(out), *options],
        cwd=PROJECT_ROOT,
        env={**clean, **ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _tables(warehouse: Path) -> list[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return sorted(name for (name,) in con.execute("SHOW TABLES").fetchall())
    finally:
        con.close()


def test_a_full_disk_fails_the_run_and_keeps_the_previous_warehouse(
    raw: Path, finished: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    before = (out / "warehouse.duckdb").read_bytes()
    tables = _tables(out / "warehouse.duckdb")
    assert len(tables) > 10

    def small_files() -> None:  # every file this process writes stops at 1.5 MB: EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINES_", "DAGSTER_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "--raw", str(raw), "--out", str(out)],
        cwd=PROJECT_ROOT,
        env={**clean, **ENV},
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=small_files,
    )
    assert len(before) > FILE_SIZE_LIMIT, "the warehouse must outgrow the limit for this test"
    assert result.returncode == 1, result.stdout + result.stderr
    assert "warehouse: FAILED" in result.stdout
    assert "File too large" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert (out / "warehouse.duckdb").read_bytes() == before
    assert _tables(out / "warehouse.duckdb") == tables
    assert not list(out.glob(".warehouse.duckdb.*")), "no temporary file or WAL is left"


def test_a_second_run_on_the_same_folder_refuses_clearly_or_waits(
    raw: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fresh-out"
    first = _start(raw, out)
    lock = out / ".locks" / "run.lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().startswith("pid")):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.1)
    refused = run_pipeline_cli(raw, out, ENV)
    waiting = _start(raw, out, "--wait", "600")
    first_out, first_err = first.communicate(timeout=600)
    waited_out, waited_err = waiting.communicate(timeout=600)

    assert refused.returncode == 75, refused.stdout + refused.stderr
    assert f"pid {first.pid}" in refused.stderr and "--wait" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert first.returncode == 0, first_out + first_err
    assert waiting.returncode == 0, waited_out + waited_err
    assert "waiting" in waited_out
    assert (out / "warehouse.duckdb").exists()


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_ends_the_run_at_once_and_publishes_nothing_after_it(
    raw: Path, tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    out = tmp_path / "out"
    run = _start(raw, out)
    seen = []
    for line in run.stdout:
        seen.append(line)
        if line.strip() == "2026-10-01: ok":
            run.send_signal(stop)
            stopped_at = time.monotonic()
            break
    rest, errors = run.communicate(timeout=120)
    took = time.monotonic() - stopped_at
    text = "".join(seen) + rest
    assert run.returncode == code, text + errors
    assert f"interrupted by {stop.name}" in text
    assert took < 30, f"the run went on for {took:.0f} s after {stop.name}"
    assert "gold: ok" not in text and "exports: ok" not in text
    assert not (out / "gold").exists() and not (out / "exports").exists()
    assert not (out / "warehouse.duckdb").exists()
    assert not [p for p in out.rglob(".*.tmp")], "no temporary file is left"
