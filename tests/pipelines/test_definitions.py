from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from pydantic import ValidationError

from assets.bronze import BRONZE_ASSETS
from pipelines.definitions import defs
from pipelines.resources import IngestionResource

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_code_location_has_the_bronze_assets_checks_and_job() -> None:
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {"bronze/app_events", "bronze/access_log"} <= keys
    job = defs.resolve_job_def("ingest_job")
    assert job.partitions_def is not None
    specs = defs.resolve_all_asset_specs()
    for spec in specs:
        assert spec.description and spec.owners and spec.group_name and spec.kinds


def test_workspace_loads_with_the_dagster_cli() -> None:
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_ingestion_config_fails_at_load_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="max_rejected_share"):
        IngestionResource(max_rejected_share=1.5)


def test_every_bronze_asset_has_a_blocking_accounting_check() -> None:
    for asset in BRONZE_ASSETS:
        specs = list(asset.check_specs)
        assert [s.name for s in specs] == ["every_line_accounted_for"]
        assert all(s.blocking for s in specs)
    assert isinstance(defs, dg.Definitions)
