"""The `dg` command line on the project, and every `dg launch` the README documents."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.bootstrap import DOTENV, demo_settings, write_dotenv
from pipelines.definitions import defs

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).parent / "dg"


def _dg(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
        "PIPELINES_DEMO_MODE": "1",
        **(env or {}),
    }
    return subprocess.run(
        [str(DG), *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dg_check_defs_loads_the_code_location() -> None:
    result = _dg("check", "defs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_check_defs_fails_on_a_broken_configuration(tmp_path: Path) -> None:
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text("version: 1\nrecipients:\n  - name: x\n    cadance: weekly\n")
    result = _dg("check", "defs", env={"PIPELINES_RECIPIENTS": str(recipients)})
    assert result.returncode != 0
    assert "cadance" in result.stdout + result.stderr


def test_dg_list_defs_shows_assets_checks_schedules_and_sensors() -> None:
    result = _dg("list", "defs", "--json")
    assert result.returncode == 0, result.stderr
    listing = result.stdout
    for name in (
        "gold/warehouse",
        "silver/deidentified_events",
        "no_formula_leading_value",
        "monthly_gold_schedule",
        "raw_files_sensor",
    ):
        assert name in listing


def _documented_launches() -> list[list[str]]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line.split("#")[0].strip() for line in readme.splitlines()]
    return [shlex.split(line)[2:] for line in lines if re.match(r"^dg launch ", line)]


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_every_documented_asset_selection_is_one_launchable_run() -> None:
    """The README's selections each resolve to assets sharing one partitioning, so that
    `dg launch` can run them with the documented partition key."""
    launches = _documented_launches()
    assert len(launches) >= 4
    graph = defs.resolve_asset_graph()
    for args in launches:
        partition = _option(args, "--partition")
        if selection := _option(args, "--assets"):
            keys = dg.AssetSelection.from_string(selection).resolve(graph)
            assert keys, f"{selection!r} selects nothing"
            partitionings = {graph.get(key).partitions_def for key in keys}
        else:
            job = defs.resolve_job_def(_option(args, "--job"))
            partitionings = {job.partitions_def}
        assert len(partitionings) == 1, f"{args}: assets with different partitions"
        (partitioning,) = partitionings
        if partition is None:
            assert partitioning is None, f"{args}: a partition key is needed"
        else:
            assert partitioning is not None and partitioning.has_partition_key(partition), args


def test_the_documented_warehouse_launch_runs_and_is_recorded(tmp_path: Path) -> None:
    (launch,) = [args for args in _documented_launches() if _option(args, "--assets") and
                 "gold/warehouse" in _option(args, "--assets")]  # fmt: skip
    home = tmp_path / "dagster_home"
    home.mkdir()
    # The `.env` the demo leaves in the project must not redirect this launch (dg lets `.env`
    # win over the environment); written here when absent, removed afterwards.
    wrote_dotenv = not DOTENV.exists() and write_dotenv(demo_settings({}))
    try:
        result = _launch_warehouse(launch, home, tmp_path)
    finally:
        if wrote_dotenv:
            DOTENV.unlink()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "out" / "warehouse.duckdb").exists()
    # Not `with`: Dagster 1.13's instance __exit__ leaves its state storage set for the
    # process, which breaks the next code that loads definitions without an instance.
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        runs = instance.get_runs()
    finally:
        instance.dispose()
    assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS]


def _launch_warehouse(
    launch: list[str], home: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    return _dg(
        "launch",
        *launch,
        env={
            "DAGSTER_HOME": str(home),
            "PIPELINES_RAW_DIR": str(tmp_path / "raw"),
            "PIPELINES_OUT_DIR": str(tmp_path / "out"),
        },
    )


@pytest.mark.parametrize("command", ["dg dev", "dg check defs", "dg list defs"])
def test_the_readme_shows_the_dg_commands(command: str) -> None:
    assert command in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_asset_and_asset_check_has_a_description() -> None:
    graph = defs.resolve_asset_graph()
    checks = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    assert len(checks) > 50
    assert [(c.asset_key.to_user_string(), c.name) for c in checks if not c.description] == []
    assets = [graph.get(key) for key in graph.get_all_asset_keys()]
    assert [a.key.to_user_string() for a in assets if not a.description] == []


def test_gold_assets_declare_their_documented_columns() -> None:
    spec = next(
        s for s in defs.resolve_all_asset_specs() if s.key.path == ["gold", "sales_monthly"]
    )
    columns = {c.name: c.description for c in spec.metadata["dagster/column_schema"].columns}
    assert "US cents" in columns["revenue_cents"] and "date" in columns["month"]
