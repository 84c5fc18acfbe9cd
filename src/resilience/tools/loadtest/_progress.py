"""The progress line a load run shows on stderr: a rich bar when rich is installed and stderr
is a terminal, a plain line otherwise (every few seconds when stderr is not a terminal)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from resilience.tools.loadtest._core import Dispatcher
from resilience.tools.loadtest.report import Results


class Progress:
    """A tick callback for the engines; call :meth:`close` when the run ends."""

    def __init__(
        self, total: int, *, stream: TextIO | None = None, plain_every: float = 5.0
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._total = total
        self._tty = self._stream.isatty()
        self._plain_every = 0.0 if self._tty else plain_every
        self._last = -self._plain_every
        self._rich: Any = None
        self._task: Any = None
        if self._tty:
            self._start_rich()

    def _start_rich(self) -> None:
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
            from rich.progress import Progress as Bar
        except ImportError:
            return
        self._rich = Bar(
            TextColumn("load"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=Console(file=self._stream),
            transient=True,
        )
        self._task = self._rich.add_task("", total=self._total)
        self._rich.start()

    def __call__(self, elapsed: float, dispatcher: Dispatcher, results: Results) -> None:
        done, failed = results.counts()
        summary = (
            f"{elapsed:6.1f} s  sent {dispatcher.claimed}/{self._total}  done {done}  "
            f"not OK {failed}"
        )
        if self._rich is not None:
            self._rich.update(self._task, completed=done, description=f"not OK {failed}")
        elif elapsed - self._last >= self._plain_every:
            self._last = elapsed
            end = "\r" if self._tty else "\n"
            self._stream.write(f"{summary}{end}")
            self._stream.flush()

    def close(self) -> None:
        """Remove the bar / end the line."""
        if self._rich is not None:
            self._rich.stop()
        elif self._tty:
            self._stream.write("\n")
