"""Progress bars of `python -m pipelines run`, on stderr and only when stderr is a terminal.

rich is imported here, when a run starts, never for `--help`. The bars are redrawn after each
step (no refresh thread: the run forks NER workers, and a fork copies no thread), and vanish
when the run ends, leaving the run's own lines and summary as they always were.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RunProgress:
    """One bar per stage of a run (indexing, days, gold periods, ...), added as each is known."""

    def __init__(self, console: Console | None = None) -> None:
        console = console or Console(stderr=True)
        shown = console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not shown,
            auto_refresh=False,
            transient=True,
            # Lines printed meanwhile go above the bars, when they share the terminal.
            redirect_stdout=shown and sys.stdout.isatty(),
            redirect_stderr=shown,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(self, *_) -> None:
        self._progress.stop()

    def add(self, stage: str, total: int) -> None:
        """Show `stage` with `total` steps, or give it `total` more if it is shown already."""
        if stage in self._tasks:
            task = self._progress.tasks[self._tasks[stage]]
            self._progress.update(self._tasks[stage], total=(task.total or 0) + total)
        else:
            self._tasks[stage] = self._progress.add_task(stage, total=total)
        self._progress.refresh()

    def advance(self, stage: str, steps: int = 1) -> None:
        """`steps` more of `stage` done (nothing when the stage has no bar)."""
        if stage in self._tasks:
            self._progress.advance(self._tasks[stage], steps)
            self._progress.refresh()

    def advancer(self, stage: str) -> Callable[[int], None]:
        """A callback for code below the runner: called with the steps just done."""
        return lambda steps: self.advance(stage, steps)
