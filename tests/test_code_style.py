"""The rules of the house that a machine can check: lint, format, and who may import what."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_lint_is_clean() -> None:
    result = _ruff("check", ".", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_deidentify_never_imports_dagster_assets_or_pipelines() -> None:
    for path in (PROJECT_ROOT / "deidentify").rglob("*.py"):
        forbidden = _imports(path) & {"dagster", "assets", "pipelines"}
        assert not forbidden, f"{path.relative_to(PROJECT_ROOT)} imports {forbidden}"


def test_ingest_library_is_plain_python() -> None:
    for path in (PROJECT_ROOT / "pipelines" / "ingest").rglob("*.py"):
        forbidden = _imports(path) & {"dagster", "assets"}
        assert not forbidden, f"{path.relative_to(PROJECT_ROOT)} imports {forbidden}"
