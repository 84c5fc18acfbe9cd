"""What the demo prints while it runs: a header, phase banners and one view of every second.

:class:`RichView` redraws a table in place (rich, the ``demo`` extra); :class:`PlainView` prints
one line a second, used when the output is not a terminal, rich is missing or ``--no-live``.
Both show the library's log warnings themselves (a count in the live table, a line in the
plain view), as nothing else may write to the terminal while the view runs.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import Any, Protocol, TextIO

from resilience.tools.cli._demo_logs import LogNotes
from resilience.tools.cli._demo_script import Phase, Sample
from resilience.tools.cli._demo_services import GATEWAY_LIMIT
from resilience.tools.cli._demo_words import ROWS, breaker_state, split


def header(store: str, local_port: int, remote_port: int) -> str:
    """The few lines that tell a newcomer what they are watching."""
    return (
        "resilience demo: two data centers on 127.0.0.1, each client -> gateway -> backend,\n"
        "every hop running the resilience interceptors.\n"
        f"  Gateways: local :{local_port}, remote :{remote_port}. Each admits {GATEWAY_LIMIT} "
        "calls/s, tier 1 (most critical) first;\n"
        + textwrap.fill(
            f"the limit is kept {store}.", 88, initial_indent="  ", subsequent_indent="  "
        )
        + "\n"
        "  The local gateway calls its backend through a breaker and a dynamic timeout. A read\n"
        "  that fails there is sent once to the remote center, if the adaptive retry window\n"
        "  admits it. Writes never fail over.\n"
        "  Traffic: reads in tiers 1-4 (10% colored 'loadtest', shown in their own row) and\n"
        "  tier-1 writes. A script of six phases hits the local center; watch per-row success,\n"
        "  the breaker, the dynamic timeout, the retry window and the failovers.\n"
    )


def store_state(store: str, sample: Sample) -> str:
    """Where the gateway's limit was decided in the sampled second."""
    return "local fallback (store failed)" if sample.fallback else store


class View(Protocol):
    def phase(self, phase: Phase, number: int, banner: str) -> None: ...
    def sample(self, sample: Sample, notes: LogNotes) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class PlainView:
    """One line a second: success per row, then the local gateway's mechanisms."""

    def __init__(self, out: TextIO, title: str, store: str) -> None:
        self._out = out
        self._store = store
        out.write(title + "\n")
        out.flush()

    def phase(self, phase: Phase, number: int, banner: str) -> None:
        self._out.write(f"\n== phase {number}/6: {phase.name}. {banner}\n")
        self._out.flush()

    def note(self, text: str) -> None:
        self._out.write(f"   {text}\n")
        self._out.flush()

    def sample(self, sample: Sample, notes: LogNotes) -> None:
        warnings = notes.take()
        cells = []
        for row in ROWS:
            calls, ok, _, _, _ = split(sample.counts, row)
            short = row.replace("tier ", "t")
            cells.append(f"{short} {ok}/{calls}")
        self._out.write(
            f"  {sample.at:3.0f}s ok/calls " + " ".join(cells) + f" | breaker "
            f"{breaker_state(sample.drop_probability)} | timeout {sample.timeout * 1000:.0f} ms"
            f" | window {sample.window}/s, failovers {sample.failovers}"
            + (f" (refused {sample.refused})" if sample.refused else "")
            + (f" | limit: {store_state(self._store, sample)}" if sample.fallback else "")
            + "\n"
            + "".join(f"        log warning: {message}\n" for message in warnings)
        )
        self._out.flush()

    def close(self) -> None:
        pass


class RichView:
    """Two tables redrawn in place (traffic rows; the local gateway's mechanisms); phase
    banners scroll above them."""

    def __init__(self, console: Any, title: str, store: str) -> None:
        from rich.live import Live

        self._console = console
        self._store = store
        console.print(title, highlight=False, markup=False)
        self._phase = ""
        self._totals: Counter[tuple[str, str]] = Counter()
        self._warnings = 0
        self._live = Live(console=console, refresh_per_second=4, transient=False)
        self._live.start()

    def phase(self, phase: Phase, number: int, banner: str) -> None:
        from rich.text import Text

        self._phase = f"phase {number}/6: {phase.name}"
        text = Text.assemble(("\n== " + self._phase + ".", "bold cyan"), " " + banner)
        self._console.print(text, highlight=False)

    def note(self, text: str) -> None:
        self._console.print("   " + text, highlight=False, markup=False, style="dim")

    def sample(self, sample: Sample, notes: LogNotes) -> None:
        from rich.table import Table

        self._totals.update(sample.counts)
        self._warnings += len(notes.take())
        rows = Table(title=f"{sample.at:3.0f} s  {self._phase}", title_justify="left")
        for column in ("row", "calls", "ok", "shed", "breaker", "failed", "ok so far"):
            rows.add_column(column, justify="left" if column == "row" else "right")
        for row in ROWS:
            calls, ok, shed, dropped, failed = split(sample.counts, row)
            so_far, so_far_ok, *_ = split(self._totals, row)
            rows.add_row(
                row,
                str(calls),
                _colored(ok, calls),
                str(shed),
                str(dropped),
                str(failed),
                _colored(so_far_ok, so_far),
            )
        gateway = Table(title="local gateway -> backend", title_justify="left")
        gateway.add_column("mechanism")
        gateway.add_column("now", justify="right")
        gateway.add_row("breaker", breaker_state(sample.drop_probability))
        gateway.add_row("dynamic timeout", f"{sample.timeout * 1000:.0f} ms")
        gateway.add_row("retry window", f"{sample.window} /s")
        gateway.add_row("failovers /s", f"{sample.failovers} sent, {sample.refused} refused")
        store = store_state(self._store, sample)
        gateway.add_row(
            "limit decided in",
            (f"[red]{store}[/]" if sample.fallback else store)
            + f" ({notes.store_failures} store failures)" * (self._store != "memory"),
        )
        gateway.add_row("log warnings", f"{self._warnings} (quoted in the summary)")
        self._live.update(_side_by_side(rows, gateway, self._console.width))

    def close(self) -> None:
        self._live.stop()


def _side_by_side(left: Any, right: Any, width: int) -> Any:
    """The two tables side by side when the terminal is wide enough, else one above the other
    (squeezed side by side into 80 columns, the traffic table's cells are cut to one letter)."""
    from rich.console import Group
    from rich.table import Table

    if width < WIDE:
        return Group(left, right)
    grid = Table.grid(padding=(0, 3))
    grid.add_row(left, right)
    return grid


WIDE = 120
"""Terminal columns from which both tables of the live view fit side by side."""


def _colored(ok: int, calls: int) -> str:
    if not calls:
        return "-"
    style = "green" if ok == calls else ("red" if ok < calls / 2 else "yellow")
    return f"[{style}]{ok / calls:.0%}[/]"


def make_view(out: TextIO, title: str, store: str, *, live: bool) -> View:
    """A :class:`RichView` when ``live`` and ``out`` is a terminal with rich installed, else a
    :class:`PlainView`. ``store``: where the limit is kept, in a word (Redis or memory)."""
    if live and out.isatty():
        try:
            from rich.console import Console
        except ImportError:
            return PlainView(out, title, store)
        return RichView(Console(file=out), title, store)
    return PlainView(out, title, store)
