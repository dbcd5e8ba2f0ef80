"""A bad configuration stops `python -m pipelines run` with one line naming the fix, exit 78,
before anything is read or written: no output folder, no lock, no bronze (issues 12, 24)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

POLICY = PROJECT_ROOT / "deidentify" / "policy" / "sharing_policy.yaml"
BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def _run(
    raw: Path, out: Path, env: dict[str, str], *extra: str, demo: bool = True
) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINES_", "DAGSTER_"))}
    clean = {k: v for k, v in clean.items() if not k.endswith(("_KEY", "_KEY_FILE"))}
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *extra, "run", "--raw", str(raw), "--out", str(out)],
        cwd=PROJECT_ROOT,
        env={**clean, **({"PIPELINES_DEMO_MODE": "1"} if demo else {}), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("policy_text", "expected"),
    [
        (POLICY.read_text().replace("\nversion:", "\nversoin:", 1), "did you mean `version`"),
        (BOMB, "anchors and aliases"),
        (POLICY.read_text().replace("\nclauses:", "\nclauses: []\nold_clauses:", 1), "clauses"),
    ],
    ids=["typo", "alias-bomb", "wrong-type"],
)
def test_a_bad_sharing_policy_gives_one_line_and_exit_78(
    tmp_path: Path, policy_text: str, expected: str
) -> None:
    (tmp_path / "raw" / "events").mkdir(parents=True)
    policy = tmp_path / "sharing_policy.yaml"
    policy.write_text(policy_text)
    out = tmp_path / "out"
    result = _run(tmp_path / "raw", out, {"PIPELINES_SHARING_POLICY": str(policy)})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 78, result.stdout + result.stderr
    assert lines[0].startswith("error: sharing_policy.yaml: ") and expected in lines[0], lines
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stdout + result.stderr
    assert not out.exists(), "nothing is written for a run that cannot start"


def test_debug_prints_the_traceback_on_the_terminal(tmp_path: Path) -> None:
    result = _run(
        tmp_path / "raw", tmp_path / "out", {"PIPELINES_MAX_COMPRESSION_RATIO": "lots"}, "--debug"
    )
    assert result.returncode == 1
    assert (
        "Traceback" in result.stderr and "PIPELINES_MAX_COMPRESSION_RATIO='lots'" in result.stderr
    )


def test_a_bad_limit_in_the_environment_is_a_configuration_error(tmp_path: Path) -> None:
    result = _run(tmp_path / "raw", tmp_path / "out", {"PIPELINES_MAX_DECOMPRESSED_BYTES": "5"})
    assert result.returncode == 78
    assert result.stderr.startswith("error: PIPELINES_MAX_DECOMPRESSED_BYTES='5': must be at least")


@pytest.mark.parametrize(
    ("unset", "expected"),
    [("PSEUDONYMIZATION_KEY", "PSEUDONYMIZATION_KEY is not set"),
     ("EXPORT_SIGNING_KEY", "EXPORT_SIGNING_KEY is not set")],
)  # fmt: skip
def test_a_missing_key_exits_78_before_bronze_exists(
    tmp_path: Path, unset: str, expected: str
) -> None:
    """Without a key the run stops at once: one line, exit 78, and no bronze (personal data)
    written by a run that could never have finished."""
    from pipelines.sample.generator import GeneratorConfig, generate

    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(GeneratorConfig(out=raw, days=1, users=10, seed=1, malformed_rate=0))
    keys = {"PSEUDONYMIZATION_KEY": "k" * 40, "EXPORT_SIGNING_KEY": "ab" * 32}
    keys.pop(unset)
    result = _run(raw, out, keys, demo=False)
    assert result.returncode == 78, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert result.stdout == ""
    assert not out.exists() and not (out / "bronze").exists()
