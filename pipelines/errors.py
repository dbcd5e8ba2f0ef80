"""Errors for people: one line on the terminal, the traceback in a log file."""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from deidentify.configuration import ConfigurationError
from lakehouse.locks import RunInProgress

# sysexits.h: EX_TEMPFAIL (try again later), EX_CONFIG (fix the configuration).
EXIT_BUSY = 75
EXIT_CONFIG = 78
# Everything ran, but a period the input touches has days waiting for input or suspect: it was
# not published (the run names the days and the fix).
EXIT_WAITING = 3


def log_traceback(exc: BaseException, out: Path | None) -> Path:
    """Append `exc`'s traceback to `<out>/logs/errors.log` (or a temporary folder when the
    output folder cannot take it); returns the file written."""
    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for folder in ([out / "logs"] if out else []) + [Path(tempfile.gettempdir())]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / ("errors.log" if folder.name == "logs" else "pipelines-errors.log")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as log:
                log.write(f"--- {stamp}\n{text}\n")
            return path
        except OSError:
            continue
    return Path("(nowhere: no writable folder)")


def exit_code_for(exc: BaseException) -> int:
    """1 for a failure, 75 when another run holds the folder, 78 for a configuration error."""
    if isinstance(exc, RunInProgress):
        return EXIT_BUSY
    if isinstance(exc, ConfigurationError):
        return EXIT_CONFIG
    return 1
