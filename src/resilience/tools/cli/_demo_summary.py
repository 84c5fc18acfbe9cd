"""The demo's closing summary: what each row of traffic got, what each phase did, and why.

Plain text (a fixed-width table) so it reads the same in a terminal, a log or a test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from resilience.tools.cli._demo_script import PHASES, Sample
from resilience.tools.cli._demo_traffic import REMOTE_ROW
from resilience.tools.cli._demo_words import ROWS, split


@dataclass
class DemoResult:
    """Everything the run measured: ``samples`` (one a second), ``served_remotely`` (calls of
    the local center's rows that the remote backend served as failovers), ``store`` (where the
    limit was kept: ``Redis`` or ``memory``), the run's wall time in ``seconds`` and the
    library's log ``warnings`` during the run, of which ``store_failures`` said that the
    limit's store failed (the limit then decided locally until it answered again)."""

    samples: list[Sample]
    served_remotely: Counter[str]
    store: str
    seconds: float
    warnings: list[str] = field(default_factory=list)
    store_failures: int = 0

    def totals(self, phase: str | None = None) -> Counter[tuple[str, str]]:
        """Outcomes by (row, label), of one phase or of the whole run."""
        total: Counter[tuple[str, str]] = Counter()
        for sample in self.samples:
            if phase is None or sample.phase == phase:
                total.update(sample.counts)
        return total

    def peak_drop(self, phase: str) -> float:
        return max((s.drop_probability for s in self.samples if s.phase == phase), default=0.0)

    def failovers(self, phase: str | None = None) -> int:
        return sum(s.failovers for s in self.samples if phase is None or s.phase == phase)


def _percent(ok: int, calls: int) -> str:
    return f"{ok / calls:4.0%}" if calls else "   -"


def summary(result: DemoResult) -> str:
    """The closing summary: two tables and the legend of their columns."""
    lines = [f"summary of {result.seconds:.0f} s (the gateways' limit kept in {result.store}):", ""]
    lines.append(
        f"  {'row':13s} {'calls':>6s} {'ok':>5s} {'shed':>6s} {'breaker':>8s} "
        f"{'failed':>7s} {'via remote':>11s}"
    )
    totals = result.totals()
    for row in ROWS:
        calls, ok, shed, dropped, failed = split(totals, row)
        lines.append(
            f"  {row:13s} {calls:6d} {_percent(ok, calls):>5s} {shed:6d} {dropped:8d} "
            f"{failed:7d} {result.served_remotely[row]:11d}"
        )
    remote: Counter[str] = Counter()
    for sample in result.samples:
        remote.update(sample.remote)
    remote_calls = sum(remote.values())
    lines.append(
        f"  {REMOTE_ROW:13s} {remote_calls:6d} {_percent(remote['ok'], remote_calls):>5s}"
        "   (the remote center's own callers, tier 2)"
    )
    lines += [
        "",
        f"  {'phase':14s} {'t1':>5s} {'t2':>5s} {'t3':>5s} {'t4':>5s} {'loadt':>5s} "
        f"{'writes':>6s} {'breaker p':>9s} {'timeout':>8s} {'window':>6s} {'failovers':>9s}",
    ]
    for phase in PHASES:
        counts = result.totals(phase.name)
        cells = []
        for row in ROWS:
            calls, ok, *_ = split(counts, row)
            cells.append(f"{_percent(ok, calls):>{6 if row == 'writes' else 5}s}")
        samples = [s for s in result.samples if s.phase == phase.name]
        timeout = min((s.timeout for s in samples), default=0.0)
        window = max((s.window for s in samples), default=0)
        lines.append(
            f"  {phase.name:14s} "
            + " ".join(cells)
            + f" {result.peak_drop(phase.name):9.2f} {timeout * 1000:6.0f}ms {window:6d}"
            f" {result.failovers(phase.name):9d}"
        )
    lines += ["", *_health(result), "", *LEGEND]
    return "\n".join(lines)


def _health(result: DemoResult) -> list[str]:
    """How the store and the library fared: store fallback seconds and the log warnings."""
    lines = [f"  limit store: {result.store}"]
    if result.store != "memory" and not result.store_failures:
        lines[0] += "; store failures: none"
    elif result.store != "memory":
        lines[0] += (
            f"; store failures: {result.store_failures} (each time, the gateway's limit "
            "decided locally until the store answered again)"
        )
    if not result.warnings:
        return [*lines, "  log warnings of the library during the run: none"]
    lines.append(f"  log warnings of the library during the run: {len(result.warnings)}")
    distinct = list(dict.fromkeys(result.warnings))
    lines += [f"    {message}" for message in distinct[:3]]
    if len(distinct) > 3:
        lines.append(f"    ... and {len(distinct) - 3} other messages")
    return lines


LEGEND: Sequence[str] = (
    "What the columns mean:",
    "  row: tiers 1-4 are reads (tier 1 most critical); loadtest = the 10% of reads colored",
    "    'loadtest' (kept apart, as full-link load tests are); writes = tier-1 orders.",
    "  ok: share of calls that succeeded, end to end (client -> gateway -> backend).",
    "  shed: refused by the gateway's tiered rate limit (less critical tiers go first).",
    "  breaker: dropped locally by a breaker, sparing the failing service behind it.",
    "  failed: errors the caller saw (backend failures no failover could hide, timeouts).",
    "  via remote: reads the local gateway failed over and the remote center served.",
    "  breaker p: the local gateway's peak drop probability toward its backend (0 = closed).",
    "  timeout: the lowest dynamic timeout of the phase (it tightens as the backend's",
    "    average latency rises, failed calls counting as slow, down to a floor).",
    "  window / failovers: the retry window's largest size (failovers per second allowed)",
    "    and the failovers actually sent to the remote center in the phase. The window grows",
    "    only in a second whose failovers use it all up and halves after failovers fail, so",
    "    it keeps its size while fewer failovers are needed.",
)
