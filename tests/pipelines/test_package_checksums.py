"""A package verifies with `sha256sum -c SHA256SUMS`, the standard tool, and a tampered file fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lakehouse.packaging import CHECKSUMS_FILE, seal, verify_package
from lakehouse.signing import SigningKey


def _sealed(tmp_path: Path) -> Path:
    staging = tmp_path / "package"
    staging.mkdir()
    (staging / "daily_traffic.csv").write_text('"day","page_views"\n"2026-10-01",120\n')
    (staging / "README.md").write_text("# data dictionary\n")
    seal(staging, {"recipient": "acme"}, SigningKey.from_settings(None, "v1", demo_mode=True))
    return staging


def test_sha256sums_lists_every_data_file_and_the_manifest(tmp_path: Path) -> None:
    package = _sealed(tmp_path)
    names = [line.split("  ", 1)[1] for line in (package / CHECKSUMS_FILE).read_text().splitlines()]
    assert names == [
        "README.md",
        "VERIFY.md",
        "daily_traffic.csv",
        "manifest.json",
        "signing-key.pub",
    ]
    demo = SigningKey.from_settings(None, "v1", demo_mode=True)
    assert verify_package(package, demo.public_key) == []


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils' sha256sum not installed")
def test_the_standard_tool_verifies_the_package_and_catches_a_change(tmp_path: Path) -> None:
    package = _sealed(tmp_path)
    check = ["sha256sum", "-c", CHECKSUMS_FILE]
    assert subprocess.run(check, cwd=package, capture_output=True).returncode == 0
    (package / "daily_traffic.csv").write_text('"day","page_views"\n"2026-10-01",999\n')
    failed = subprocess.run(check, cwd=package, capture_output=True, text=True)
    assert failed.returncode != 0 and "daily_traffic.csv: FAILED" in failed.stdout
