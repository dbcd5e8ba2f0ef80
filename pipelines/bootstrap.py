"""Set up the project on a fresh machine, then run the demo or the tests.

Standard library only: this is what a newcomer runs before anything is installed.

    python3 -m pipelines.bootstrap demo    # venv, install, sample logs, every asset
    python3 -m pipelines.bootstrap test    # venv, install, the whole test suite

The virtual environment lives in `.venv/` at the project root. The install step is
skipped when pyproject.toml has not changed since the last successful install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = PROJECT_ROOT / ".venv"
INSTALL_STAMP = VENV_DIR / ".installed-pyproject.sha256"
SAMPLE_RAW = PROJECT_ROOT / "data" / "raw"
SAMPLE_OUT = PROJECT_ROOT / "data" / "warehouse"
SAMPLE_DAGSTER_HOME = PROJECT_ROOT / "data" / "dagster_home"
SAMPLE_START = "2026-10-01"
# The Monday of the sample's first ISO week: the week around its first day must exist as a
# partition, since a month's traffic release is cut from the weeks that touch it.
SAMPLE_FIRST_PARTITION = "2026-09-28"
# The sample covers October 2026. The ISO week around its first day starts on 28 September,
# and its last sessions spill into 1 November: the demo records, as an operator would, that
# those edge days are complete as they are (`python -m pipelines record-quiet`, audited).
SAMPLE_EDGES = (
    ("2026-09-28", "2026-09-30", "the sample's logs begin on 2026-10-01"),
    ("2026-11-01", "2026-11-01", "the sample ends with October; only its last sessions spill over"),
)
# What `python -m pipelines run` returns when periods wait for input (pipelines/errors.py).
EXIT_WAITING = 3
DAGSTER_YAML = "telemetry:\n  enabled: false\n"
DOTENV = PROJECT_ROOT / ".env"
DOTENV_MARK = "# Written by `python3 -m pipelines.bootstrap demo`"


def venv_python() -> Path:
    """Path of the virtual environment's interpreter."""
    return VENV_DIR / "bin" / "python"


def ensure_environment() -> Path:
    """Create `.venv` if missing and install the project into it when pyproject.toml changed."""
    if not venv_python().exists():
        print(f"[bootstrap] creating virtual environment in {VENV_DIR}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV_DIR)
    wanted = hashlib.sha256((PROJECT_ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if INSTALL_STAMP.exists() and INSTALL_STAMP.read_text().strip() == wanted:
        return venv_python()
    print("[bootstrap] installing the project and its dependencies", flush=True)
    pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{PROJECT_ROOT}[dev]"], check=True)
    INSTALL_STAMP.write_text(wanted)
    return venv_python()


def demo_settings(environment: dict[str, str]) -> dict[str, str]:
    """The settings the demo runs with, and that `dg dev` needs to show the demo's history.

    The folders are not among them: the demo's are the defaults (pipelines/locations.py), and
    `dg` lets `.env` override the shell, so a folder written there would redirect every later
    `dg` command in the project, whatever its environment says.
    """
    settings = {
        "PIPELINES_FIRST_DATE": environment.get("PIPELINES_FIRST_DATE", SAMPLE_FIRST_PARTITION)
    }
    if not environment.get("PSEUDONYMIZATION_KEY"):
        settings["PIPELINES_DEMO_MODE"] = "1"
    return settings


def write_dagster_yaml(home: Path) -> None:
    """The demo's Dagster home gets a `dagster.yaml` (telemetry off), so Dagster prints no
    warning and no banner among the demo's lines; one already there is left as it is."""
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")


def write_dotenv(settings: dict[str, str]) -> bool:
    """Write `.env` for `dg dev` (Dagster loads it from the folder it starts in).

    A `.env` the demo did not write is left alone: it may hold somebody's own settings.
    """
    if DOTENV.exists() and not DOTENV.read_text(encoding="utf-8").startswith(DOTENV_MARK):
        print(f"[bootstrap] {DOTENV} is not the demo's: left as it is")
        return False
    lines = [DOTENV_MARK, *(f"{name}={value}" for name, value in settings.items())]
    DOTENV.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True


def run_demo(python: Path) -> int:
    """Generate the sample logs if missing, then materialize every asset on them.

    The runs are recorded in `data/dagster_home`, so `dg dev` afterwards shows their
    materializations, checks and metadata.
    """
    if not (SAMPLE_RAW / "events").exists():
        generate = [str(python), "-m", "pipelines", "generate"]
        subprocess.run(
            [*generate, "--out", str(SAMPLE_RAW), "--start", SAMPLE_START],
            check=True,
            cwd=PROJECT_ROOT,
        )
    environment = dict(os.environ)
    settings = demo_settings(environment)
    if settings.get("PIPELINES_DEMO_MODE"):
        print("[bootstrap] no PSEUDONYMIZATION_KEY set: demo mode, with the public demo key")
    environment.update(settings)
    SAMPLE_DAGSTER_HOME.mkdir(parents=True, exist_ok=True)
    environment.setdefault("DAGSTER_HOME", str(SAMPLE_DAGSTER_HOME))
    write_dotenv(settings)
    write_dagster_yaml(SAMPLE_DAGSTER_HOME)
    for first, last, reason in SAMPLE_EDGES:
        quiet = ["record-quiet", "--out", str(SAMPLE_OUT), "--start", first, "--end", last]
        subprocess.run(
            [str(python), "-m", "pipelines", *quiet, "--reason", reason, "--by", "bootstrap demo"],
            check=True,
            cwd=PROJECT_ROOT,
            env=environment,
        )
    code = subprocess.call(
        [str(python), "-m", "pipelines", "run", "--raw", str(SAMPLE_RAW), "--out", str(SAMPLE_OUT)],
        cwd=PROJECT_ROOT,
        env=environment,
    )
    if code == EXIT_WAITING:
        print(
            "[bootstrap] as expected: the sample's logs end on 2026-11-01, so November waits for "
            "logs that will never come; October and its weeks were published"
        )
        code = 0
    print(
        "[bootstrap] the runs are recorded in data/dagster_home; to browse them:\n"
        f"  DAGSTER_HOME={environment['DAGSTER_HOME']} .venv/bin/dg dev"
    )
    return code


def run_tests(python: Path, pytest_args: list[str]) -> int:
    """Run the whole test suite; pytest's 'no tests collected' (exit 5) counts as a failure."""
    code = subprocess.call([str(python), "-m", "pytest", *pytest_args], cwd=PROJECT_ROOT)
    if code == 5:
        print("[bootstrap] pytest collected no tests: failing on purpose", file=sys.stderr)
        return 1
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point: `demo` or `test`, extra arguments are passed on to pytest."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in {"demo", "test"}:
        print(__doc__)
        return 2
    os.chdir(PROJECT_ROOT)
    python = ensure_environment()
    if args[0] == "demo":
        return run_demo(python)
    return run_tests(python, args[1:])


if __name__ == "__main__":
    sys.exit(main())
