"""Shared fixtures: the real access log sample and small generated raw folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def run_pipeline_cli(
    raw: Path, out: Path, env: dict[str, str], *options: str
) -> subprocess.CompletedProcess:
    """`python -m pipelines run` in a subprocess, with none of this shell's pipeline settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINES_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "--raw", str(raw), "--out", str(out), *options],
        cwd=PROJECT_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
