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


def run_demo(python: Path) -> int:
    """Generate the sample logs if missing, then materialize every asset on them."""
    if not (SAMPLE_RAW / "events").exists():
        subprocess.run(
            [str(python), "-m", "pipelines", "generate", "--out", str(SAMPLE_RAW)],
            check=True,
            cwd=PROJECT_ROOT,
        )
    environment = dict(os.environ)
    if not environment.get("PSEUDONYMIZATION_KEY"):
        print("[bootstrap] no PSEUDONYMIZATION_KEY set: demo mode, with the public demo key")
        environment["PIPELINES_DEMO_MODE"] = "1"
    return subprocess.call(
        [str(python), "-m", "pipelines", "run", "--raw", str(SAMPLE_RAW), "--out", str(SAMPLE_OUT)],
        cwd=PROJECT_ROOT,
        env=environment,
    )


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
