"""The command line: every option says what it does, and --help stays light (issue: a CLI that
respects its user). How fast --help is gets measured by `python -m pipelines bench`, not here."""

from __future__ import annotations

import argparse
import subprocess
import sys

from pipelines.cli import build_parser
from tests.conftest import PROJECT_ROOT


def _parsers(parser: argparse.ArgumentParser, name: str):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {command}")


def test_every_option_and_command_has_help_text() -> None:
    missing = []
    for name, parser in _parsers(build_parser(), "python -m pipelines"):
        if not parser.description:
            missing.append(f"{name}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name}: {'/'.join(action.option_strings) or action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not (choice.help or "").strip():
                        missing.append(f"{name} {choice.dest}: no help in the command list")
    assert not missing, "options or commands without help text:\n" + "\n".join(missing)


def test_help_imports_no_heavy_library() -> None:
    """--help loads argparse and the default folders only: not Dagster, rich or filelock."""
    probe = (
        "import sys\n"
        "from pipelines.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'dagster', 'rich', 'filelock', 'boto3', 'pyarrow', 'presidio_analyzer'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout
