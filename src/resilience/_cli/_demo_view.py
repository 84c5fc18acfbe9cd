"""What the demo prints while it runs: a header, phase banners and one view of every second.

:class:`RichView` redraws a table in place (rich, the ``demo`` extra); :class:`PlainView` prints
one line a second, used when the output is not a terminal, rich is missing or ``--no-live``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol, TextIO

from resilience._cli._demo_script import Phase, Sample
from resilience._cli._demo_services import GATEWAY_LIMIT

ROWS = ("tier 1", "tier 2", "tier 3", "tier 4", "loadtest", "writes")
SHED_LABELS = frozenset({"rate_limit", "shed", "overload"})


def header(store: str, local_port: int, remote_port: int) -> str:
    """The few lines that tell a newcomer what they are watching."""
    return (
        "resilience demo: two data centers on 127.0.0.1, each client -> gateway -> backend,\n"
        "every hop running the resilience interceptors.\n"
        f"  local gateway :{local_port}, remote gateway :{remote_port}; each gateway admits "
        f"{GATEWAY_LIMIT} calls/s, tier 1 (most critical) first; its limit is kept {store}.\n"
        "  The local gateway calls its backend through a breaker and a dynamic timeout; a read "
        "that fails\n  there is sent once to the remote center if the adaptive retry window "
        "admits it. Writes never fail over.\n"
        "  Traffic: reads in tiers 1-4, 10% of them colored 'loadtest' (their own row), and "
        "tier-1 writes.\n"
        "  Watch: per-row success, the breaker's drop probability, the dynamic timeout, the "
        "retry window and failovers.\n"
    )


def split(counts: Counter[tuple[str, str]], row: str) -> tuple[int, int, int, int, int]:
    """(calls, ok, shed by the limit, dropped by a breaker, failed otherwise) of one row."""
    ok = shed = breaker = failed = 0
    for (name, label), n in counts.items():
        if name != row:
            continue
        if label == "ok":
            ok += n
        elif label in SHED_LABELS:
            shed += n
        elif label == "breaker":
            breaker += n
        else:
            failed += n
    return ok + shed + breaker + failed, ok, shed, breaker, failed


def breaker_state(p: float) -> str:
    return "closed" if p <= 0 else f"OPEN, drops {p:.0%}"


class View(Protocol):
    def phase(self, phase: Phase, number: int) -> None: ...
    def sample(self, sample: Sample) -> None: ...
    def close(self) -> None: ...


class PlainView:
    """One line a second: success per row, then the local gateway's mechanisms."""

    def __init__(self, out: TextIO, title: str) -> None:
        self._out = out
        out.write(title + "\n")
        out.flush()

    def phase(self, phase: Phase, number: int) -> None:
        self._out.write(f"\n== phase {number}/6: {phase.name}. {phase.banner}\n")
        self._out.flush()

    def sample(self, sample: Sample) -> None:
        cells = []
        for row in ROWS:
            calls, ok, _, _, _ = split(sample.counts, row)
            short = row.replace("tier ", "t")
            cells.append(f"{short} {ok}/{calls}")
        self._out.write(
            f"  {sample.at:4.0f}s ok/calls " + " ".join(cells) + f" | breaker "
            f"{breaker_state(sample.drop_probability)} | timeout {sample.timeout * 1000:.0f} ms"
            f" | window {sample.window}/s, failovers {sample.failovers}"
            + (f" (refused {sample.refused})" if sample.refused else "")
            + "\n"
        )
        self._out.flush()

    def close(self) -> None:
        pass


class RichView:
    """A table redrawn in place; phase banners scroll above it."""

    def __init__(self, console: Any, title: str) -> None:
        from rich.live import Live

        self._console = console
        console.print(title, highlight=False)
        self._phase = ""
        self._live = Live(console=console, refresh_per_second=4, transient=False)
        self._live.start()

    def phase(self, phase: Phase, number: int) -> None:
        self._phase = f"phase {number}/6: {phase.name}"
        self._console.print(
            f"[bold cyan]== {self._phase}[/] {phase.banner}", highlight=False, soft_wrap=True
        )

    def sample(self, sample: Sample) -> None:
        from rich.table import Table

        table = Table(title=f"{sample.at:.0f}s  {self._phase}  (last second)", title_justify="left")
        for column in ("row", "calls", "ok", "shed", "breaker", "failed"):
            table.add_column(column, justify="left" if column == "row" else "right")
        for row in ROWS:
            calls, ok, shed, dropped, failed = split(sample.counts, row)
            percent = f"{ok / calls:.0%}" if calls else "-"
            style = (
                "green"
                if calls and ok == calls
                else ("red" if calls and ok < calls / 2 else "yellow")
            )
            table.add_row(
                row, str(calls), f"[{style}]{percent}[/]", str(shed), str(dropped), str(failed)
            )
        table.caption = (
            f"breaker {breaker_state(sample.drop_probability)} | dynamic timeout "
            f"{sample.timeout * 1000:.0f} ms | retry window {sample.window}/s | failovers "
            f"{sample.failovers}" + (f", refused {sample.refused}" if sample.refused else "")
        )
        self._live.update(table)

    def close(self) -> None:
        self._live.stop()


def make_view(out: TextIO, title: str, *, live: bool) -> View:
    """A :class:`RichView` when ``live`` and ``out`` is a terminal with rich installed, else a
    :class:`PlainView`."""
    if live and out.isatty():
        try:
            from rich.console import Console
        except ImportError:
            return PlainView(out, title)
        return RichView(Console(file=out), title)
    return PlainView(out, title)
