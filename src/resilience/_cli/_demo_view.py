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
        f"  Gateways: local :{local_port}, remote :{remote_port}. Each admits {GATEWAY_LIMIT} "
        "calls/s, tier 1 (most critical) first;\n"
        f"  the limit is kept {store}.\n"
        "  The local gateway calls its backend through a breaker and a dynamic timeout. A read\n"
        "  that fails there is sent once to the remote center, if the adaptive retry window\n"
        "  admits it. Writes never fail over.\n"
        "  Traffic: reads in tiers 1-4 (10% colored 'loadtest', shown in their own row) and\n"
        "  tier-1 writes. A script of six phases hits the local center; watch per-row success,\n"
        "  the breaker, the dynamic timeout, the retry window and the failovers.\n"
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
    """Two tables redrawn in place (traffic rows; the local gateway's mechanisms); phase
    banners scroll above them."""

    def __init__(self, console: Any, title: str) -> None:
        from rich.live import Live

        self._console = console
        console.print(title, highlight=False)
        self._phase = ""
        self._totals: Counter[tuple[str, str]] = Counter()
        self._live = Live(console=console, refresh_per_second=4, transient=False)
        self._live.start()

    def phase(self, phase: Phase, number: int) -> None:
        self._phase = f"phase {number}/6: {phase.name}"
        self._console.print(
            f"\n[bold cyan]== {self._phase}.[/] {phase.banner}", highlight=False, soft_wrap=False
        )

    def sample(self, sample: Sample) -> None:
        from rich.table import Table

        self._totals.update(sample.counts)
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
        gateway.add_row("failovers sent", f"{sample.failovers} /s")
        gateway.add_row("failovers refused", f"{sample.refused} /s")
        grid = Table.grid(padding=(0, 3))
        grid.add_row(rows, gateway)
        self._live.update(grid)

    def close(self) -> None:
        self._live.stop()


def _colored(ok: int, calls: int) -> str:
    if not calls:
        return "-"
    style = "green" if ok == calls else ("red" if ok < calls / 2 else "yellow")
    return f"[{style}]{ok / calls:.0%}[/]"


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
