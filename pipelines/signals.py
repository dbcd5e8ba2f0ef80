"""Stop a run on SIGINT (Ctrl-C) or SIGTERM, at once and without publishing anything after.

Dagster installs its own handlers while it executes a run: the step under way fails with
an interrupt error and the run returns. The signal still reaches the wakeup pipe installed
here, so the runner learns of it as soon as Dagster returns, and stops before the next
step. Outside Dagster, the handlers here raise `Interrupted` directly.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The operator (SIGINT) or the system (SIGTERM) asked the run to stop.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it.
    """

    def __init__(self, signum: int, where: str | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.where = where

    @property
    def name(self) -> str:
        """SIGINT or SIGTERM."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 plus the signal number (130, 143)."""
        return 128 + self.signum


class StopSignals:
    """Within the block, SIGINT and SIGTERM raise `Interrupted`, or are noticed by `check`."""

    def __init__(self) -> None:
        self.where: str | None = None
        self._active = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> StopSignals:
        if not self._active:
            return self
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._previous = {s: signal.signal(s, self._handle) for s in _STOP_SIGNALS}
        return self

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self._drain()
        raise Interrupted(signum, self.where)

    def _drain(self) -> bytes:
        try:
            return os.read(self._read, 256)
        except BlockingIOError:
            return b""

    def check(self) -> None:
        """Raise `Interrupted` when a stop signal arrived while Dagster held the handlers."""
        if not self._active:
            return
        received = [b for b in self._drain() if b in {int(s) for s in _STOP_SIGNALS}]
        if received:
            raise Interrupted(received[0], self.where)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self._active:
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._read)
        os.close(self._write)
