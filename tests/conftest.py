"""Shared fixtures: the real access log sample and small generated raw folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipelines.sample.generator import GeneratorConfig, generate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APACHE_SAMPLE = PROJECT_ROOT / "data" / "fixtures" / "apache_combined_sample.log"


@pytest.fixture
def apache_raw(tmp_path: Path) -> Path:
    """A raw folder whose only file is the real 10,000-line Apache access log."""
    raw = tmp_path / "raw"
    (raw / "access").mkdir(parents=True)
    shutil.copy(APACHE_SAMPLE, raw / "access" / APACHE_SAMPLE.name)
    return raw


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated raw folder: 3 days, 120 users, with some deliberately malformed lines."""
    raw = tmp_path_factory.mktemp("sample") / "raw"
    generate(GeneratorConfig(out=raw, days=3, users=120, seed=11, malformed_rate=0.01))
    return raw


def record_sample_edges_quiet(
    raw: Path, out: Path, month: str = "2026-10-01", settle: bool = True
) -> list[str]:
    """As the operator would for a generated sample: record every day of the month and of the
    ISO weeks touching it that the generator did not make (no shipper marker) as quiet, so the
    period can be published; then (with `settle`) settle the empty ones as
    `python -m pipelines run` does, for tests that materialize assets without the runner.

    Returns the days recorded. A test of completeness itself does not call this.
    """
    from lakehouse.coverage import record_quiet, shipper_marker_days
    from lakehouse.periods import period_end
    from pipelines.runner import days_in, partition_dates, settle_empty_days, weeks_touching

    first = date.fromisoformat(month)
    spans = [(first, period_end("month", first))]
    spans += [
        (date.fromisoformat(w), period_end("week", date.fromisoformat(w)))
        for w in weeks_touching(month)
    ]
    generated = set(shipper_marker_days(raw, "events")) & set(shipper_marker_days(raw, "access"))
    days = [day for day in days_in(spans) if day not in generated]
    record_quiet(out, days, "test: the generated sample covers only some days", "tests")
    if settle:
        settle_empty_days(out, set(partition_dates(raw, out)), spans)
    return days


def run_pipeline_cli(
    raw: Path, out: Path, env: dict[str, str], *options: str, quiet_edges: bool = True
) -> subprocess.CompletedProcess:
    """`python -m pipelines run` in a subprocess, with none of this shell's pipeline settings.

    With `quiet_edges` (the default), the days of October and its weeks that a generated sample
    does not cover are first recorded quiet, as the demo does; tests of completeness turn it off.
    """
    if quiet_edges and (raw / "events" / "_closed").is_dir():
        record_sample_edges_quiet(raw, out, settle=False)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINES_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "--raw", str(raw), "--out", str(out), *options],
        cwd=PROJECT_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
