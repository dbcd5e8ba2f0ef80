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
    """Every absolute module a file imports, dotted in full (`from a.b import c` gives `a.b`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


# Who may import what (../shared/DESIGN.md, "The rooms"): arrows point down only.
# pipelines/ (code location, CLI) > assets/ (Dagster assets) > lakehouse/ (files and their
# life cycle) > deidentify/ (the privacy engine). assets/ may reach up only for the resource
# classes its assets declare as parameters, and that module must not reach back.
FORBIDDEN = {
    "deidentify": ("dagster", "assets", "pipelines", "lakehouse"),
    "lakehouse": ("dagster", "assets", "pipelines"),
    "assets": ("pipelines",),
}
ALLOWED_UPWARD = {"assets": ("pipelines.resources",)}
RESOURCES_MAY_NOT_IMPORT = ("assets",)


def _is_under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def import_violations(room: Path, room_name: str) -> list[str]:
    """Each `file imports module` in a room that the rules above forbid."""
    found = []
    for path in sorted(room.rglob("*.py")):
        for module in sorted(_imports(path)):
            if _is_under(module, FORBIDDEN[room_name]) and not _is_under(
                module, ALLOWED_UPWARD.get(room_name, ())
            ):
                found.append(f"{path.relative_to(room.parent)} imports {module}")
    return found


def test_arrows_point_down() -> None:
    violations = [
        violation
        for room_name in FORBIDDEN
        for violation in import_violations(PROJECT_ROOT / room_name, room_name)
    ]
    assert not violations, "\n".join(violations)


def test_resources_do_not_reach_back_into_assets() -> None:
    imported = _imports(PROJECT_ROOT / "pipelines" / "resources.py")
    assert not [m for m in imported if _is_under(m, RESOURCES_MAY_NOT_IMPORT)]


def test_the_import_rules_catch_an_upward_arrow(tmp_path: Path) -> None:
    room = tmp_path / "lakehouse"
    room.mkdir()
    (room / "fine.py").write_text("import duckdb\nfrom deidentify.scan import scan_table\n")
    (room / "upward.py").write_text("from assets.gold import GOLD_TABLES\nimport dagster as dg\n")
    assert import_violations(room, "lakehouse") == [
        "lakehouse/upward.py imports assets.gold",
        "lakehouse/upward.py imports dagster",
    ]
    assets_room = tmp_path / "assets"
    assets_room.mkdir()
    (assets_room / "a.py").write_text(
        "from pipelines.resources import StorageResource\nfrom pipelines.jobs import x\n"
    )
    assert import_violations(assets_room, "assets") == ["assets/a.py imports pipelines.jobs"]
