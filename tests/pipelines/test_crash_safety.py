"""Crash safety by fault injection: SIGKILL mid-write, rerun, and the outputs are as if nothing happened.

`python -m pipelines run` runs in a subprocess that kills itself (PIPELINES_CRASH_AT, see
lakehouse/faults.py) while writing silver, a gold candidate, an export package and an
erasure sweep. After each crash no reader sees a partial file; after the final rerun every
output equals that of an uninterrupted run on the same input.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakehouse.packaging import sha256_file, verify_package
from lakehouse.signing import KEYRING_DIR, SigningKey
from pipelines.sample.generator import GeneratorConfig, generate
from tests.conftest import run_pipeline_cli

SIGNING_KEY = "c7" * 32
ENV = {
    "PSEUDONYMIZATION_KEY": "crash-test-pseudonymization-key-0123456789",
    "PSEUDONYMIZATION_KEY_VERSION": "c1",
    "EXPORT_SIGNING_KEY": SIGNING_KEY,
    "EXPORT_SIGNING_KEY_VERSION": "s1",
}


def _run(raw: Path, out: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    return run_pipeline_cli(
        raw, out, {**ENV, **({"PIPELINES_CRASH_AT": crash_at} if crash_at else {})}
    )


def _packages(out: Path) -> list[Path]:
    """Delivered packages (a staging folder is hidden, and no recipient looks at it; the
    keyring is not a recipient)."""
    return sorted(
        p
        for p in (out / "exports").glob("*/*")
        if not p.name.startswith(".") and p.parent.name != KEYRING_DIR
    )


def _visible_outputs(out: Path) -> dict[str, object]:
    """What a reader sees: every published Parquet file's rows, and every delivered package."""
    seen: dict[str, object] = {}
    for path in sorted(out.rglob("part-0.parquet")):
        relative = path.relative_to(out).as_posix()
        if relative.startswith(("gold/_candidates", "releases/")):
            continue
        seen[relative] = pq.read_table(path).to_pylist()
    for package in _packages(out):
        public_key = SigningKey.from_settings(SIGNING_KEY, "s1", demo_mode=False).public_key
        assert verify_package(package, public_key) == []
        for data in sorted(package.iterdir()):
            if data.suffix == ".csv":
                # Released values carry fresh noise in every independent run: what must match
                # is which files were delivered, their columns and their keys.
                lines = data.read_text().splitlines()
                seen[data.relative_to(out).as_posix()] = (lines[0], len(lines))
    return seen


def _assert_no_partial_state(out: Path) -> None:
    for path in out.rglob("part-0.parquet"):
        assert pq.ParquetFile(path).metadata.num_columns  # a whole file, footer included
    for package in _packages(out):
        assert (package / "manifest.sig").exists(), f"{package} is delivered but not sealed"


@pytest.fixture(scope="module")
def raw_and_clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("crash")
    raw = base / "raw"
    generate(GeneratorConfig(out=raw, days=2, users=150, seed=3, malformed_rate=0.01))
    requests = raw / "requests"
    requests.mkdir()
    (requests / "erase.csv").write_text("user_id\n")
    clean = base / "clean"
    result = _run(raw, clean)
    assert result.returncode == 0, result.stdout + result.stderr
    return raw, clean


def test_killed_mid_write_then_rerun_equals_an_uninterrupted_run(
    raw_and_clean: tuple[Path, Path], tmp_path: Path
) -> None:
    raw, clean = raw_and_clean
    out = tmp_path / "out"
    leftovers = {
        "silver:2": lambda: list((out / "silver").rglob("*.tmp")),
        "gold:3": lambda: list((out / "gold" / "_candidates").rglob("part-0.parquet")),
        "export:2": lambda: list((out / "exports").glob("*/.staging-*")),
    }
    for crash_at, left_behind in leftovers.items():
        crashed = _run(raw, out, crash_at)
        assert crashed.returncode == -signal.SIGKILL, (crash_at, crashed.stdout, crashed.stderr)
        _assert_no_partial_state(out)
        assert left_behind(), f"the crash at {crash_at} left its half-written work behind"

    rerun = _run(raw, out)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _visible_outputs(out) == _visible_outputs(clean)
    assert not list(out.rglob("*.tmp")), "leftovers of dead writers are removed"
    assert not list((out / "exports").glob("*/.staging-*"))
    audit = [
        json.loads(line) for line in (out / "audit" / "exports.jsonl").read_text().splitlines()
    ]
    clean_audit = (clean / "audit" / "exports.jsonl").read_text().splitlines()
    assert len(audit) == len(clean_audit), "no delivery logged for a package never delivered"


def test_killed_mid_erasure_then_rerun_erases_everyone(
    raw_and_clean: tuple[Path, Path], tmp_path: Path
) -> None:
    raw, clean = raw_and_clean
    out = tmp_path / "out"
    raw_copy = tmp_path / "raw"
    subprocess.run(["cp", "-r", str(raw), str(raw_copy)], check=True)
    users = pq.read_table(
        sorted((clean / "bronze" / "app_events").glob("date=*/part-0.parquet"))[0],
        columns=["user_id"],
    ).column("user_id")
    erased = sorted({u for u in users.to_pylist() if u})[:3]
    (raw_copy / "requests" / "erase.csv").write_text("\n".join(erased) + "\n")
    crashed = _run(raw_copy, out, "erasure:1")
    assert crashed.returncode == -signal.SIGKILL
    _assert_no_partial_state(out)
    assert _run(raw_copy, out).returncode == 0
    for path in (out / "bronze" / "app_events").glob("date=*/part-0.parquet"):
        assert not set(pq.read_table(path).column("user_id").to_pylist()) & set(erased)


def _ingest_and_deidentify(raw: str, out: str) -> None:
    from deidentify.field_policy import load_field_policy
    from deidentify.pseudonymize import PseudonymKey
    from lakehouse.deidentify_partition import deidentify_in_process
    from lakehouse.ingest.bronze import ingest_partition
    from lakehouse.ingest.sources import APP_EVENTS
    from lakehouse.storage import partition_file

    key = PseudonymKey(ENV["PSEUDONYMIZATION_KEY"].encode(), "c1")
    for _ in range(3):
        ingest_partition(APP_EVENTS, Path(raw), Path(out), "2026-10-01")
        deidentify_in_process(
            partition_file(Path(out), "bronze", "app_events", "2026-10-01"),
            partition_file(Path(out), "silver", "deidentified_events", "2026-10-01"),
            load_field_policy(),
            "app_events",
            key,
            workers=1,
            batch_rows=50,
        )


def test_two_overlapping_runs_of_one_partition_cannot_corrupt_it(
    raw_and_clean: tuple[Path, Path], tmp_path: Path
) -> None:
    raw, clean = raw_and_clean
    out = tmp_path / "out"
    with ProcessPoolExecutor(2) as pool:
        for done in [pool.submit(_ingest_and_deidentify, str(raw), str(out)) for _ in range(2)]:
            done.result()
    for layer, dataset in (("bronze", "app_events"), ("silver", "deidentified_events")):
        relative = f"{layer}/{dataset}/date=2026-10-01/part-0.parquet"
        assert pq.read_table(out / relative).equals(pq.read_table(clean / relative))
    assert not list(out.rglob("*.tmp"))


_DELIVER = """
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import ALL_ASSETS, EXPORT_ASSETS, RECIPIENTS
from pipelines.resources import default_resources

monthly = {r.name for r in RECIPIENTS if r.cadence == "monthly"}
result = dg.materialize(
    ALL_ASSETS,
    selection=[a.key for a in EXPORT_ASSETS if a.key.path[-1] in monthly],
    partition_key="2026-10-01",
    resources=default_resources(Path(sys.argv[1]), Path(sys.argv[2])),
    raise_on_error=False,
)
sys.exit(0 if result.success else 1)
"""


def _deliver(raw: Path, out: Path, crash_at: str | None) -> subprocess.CompletedProcess:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINES_", "DAGSTER_"))}
    env.update(ENV)
    if crash_at:
        env["PIPELINES_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-c", _DELIVER, str(raw), str(out)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "crash_at",
    ["delivery:1", "delivery:2", "delivery:3"],
    ids=["before the rename", "between rename and audit line", "before the journal is closed"],
)
def test_killed_between_delivery_and_audit_then_rerun_leaves_one_audited_delivery(
    raw_and_clean: tuple[Path, Path], tmp_path: Path, crash_at: str
) -> None:
    raw, clean = raw_and_clean
    out = tmp_path / "out"
    shutil.copytree(
        clean, out, ignore=shutil.ignore_patterns("exports", "exports.jsonl", "pending")
    )
    crashed = _deliver(raw, out, crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    assert list((out / "audit" / "pending").glob("*.json")), "the journal names the delivery"

    rerun = _deliver(raw, out, None)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    packages = _packages(out)
    clean_packages = [p for p in _packages(clean) if "-W" not in p.name]
    assert [p.relative_to(out) for p in packages] == [p.relative_to(clean) for p in clean_packages]
    audit = [
        json.loads(line) for line in (out / "audit" / "exports.jsonl").read_text().splitlines()
    ]
    assert sorted((a["recipient"], a["package"]) for a in audit) == sorted(
        (p.parent.name, p.name) for p in packages
    ), "exactly one audit line per delivered package"
    for line in audit:
        manifest = out / "exports" / line["recipient"] / line["package"] / "manifest.json"
        assert line["manifest_sha256"] == sha256_file(manifest)
    assert not list((out / "audit" / "pending").glob("*.json"))
    assert not list((out / "exports").glob("*/.staging-*"))
