"""What the demo says about its mechanisms, computed from what it measured.

A phase's banner (:data:`~resilience.tools.cli._demo_script.PHASES`) says what the script does and
what the mechanisms are built to do, conditionally; :func:`opening` adds what the state at the
phase's start makes of it, and :func:`measured` says, as the phase ends, what actually
happened. The breaker's words follow the algorithm's two states: ``closed`` (p = 0) and
``half-open`` (dropping a share p of the calls); it has no open state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from resilience.tools.cli._demo_script import Phase, Sample
from resilience.tools.cli._demo_services import TIMEOUT

ROWS = ("tier 1", "tier 2", "tier 3", "tier 4", "loadtest", "writes")
SHED_LABELS = frozenset({"rate_limit", "shed", "overload"})
TIMEOUT_FLOOR = TIMEOUT["t_hwm"]
"""Seconds: the dynamic timeout never goes below its ``t_hwm``."""


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
    """The breaker's state for drop probability ``p``: closed, or half-open and its drop rate."""
    return "closed" if p <= 0 else f"half-open, drops {p:.0%}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def opening(phase: Phase, last: Sample | None) -> str:
    """The banner of ``phase``, with what the dynamic timeout can do from where it stands
    (``last``: the latest sample, None before the first) when the phase slows the backend."""
    if not any(rule.delay for rule in phase.faults):
        return phase.banner
    now = last.timeout if last is not None and last.timeout > 0 else TIMEOUT["t_max"]
    if now <= TIMEOUT_FLOOR * 1.005:
        timeout = (
            f"The dynamic timeout already sits at its floor, {_ms(TIMEOUT_FLOOR)} (failed calls "
            "count as slow ones in its average), so it cannot tighten further; it loosens if "
            "the average latency falls."
        )
    else:
        timeout = (
            f"The dynamic timeout, now {_ms(now)}, tightens toward its floor of "
            f"{_ms(TIMEOUT_FLOOR)} as the average latency rises."
        )
    return f"{phase.banner} {timeout} Calls that outlast it time out; reads among them fail over."


def _percent(ok: int, calls: int) -> str:
    return f"{ok / calls:.0%}" if calls else "-"


def _short(row: str) -> str:
    return row.replace("tier ", "t")


def measured(samples: Sequence[Sample], before: Sample | None) -> str:
    """What one phase did, from its ``samples`` (``before``: the sample before the phase):
    success and shedding per row, the breaker, the dynamic timeout and the retry window."""
    if not samples:
        return "measured: nothing (the phase had no whole second)"
    totals: Counter[tuple[str, str]] = Counter()
    for sample in samples:
        totals.update(sample.counts)
    rows = [split(totals, row) for row in ROWS]
    parts = [
        "ok "
        + ", ".join(f"{_short(r)} {_percent(c[1], c[0])}" for r, c in zip(ROWS, rows, strict=True))
    ]
    shed = [f"{_short(r)} {c[2]}" for r, c in zip(ROWS, rows, strict=True) if c[2]]
    if shed:
        parts.append("shed " + ", ".join(shed))
    parts.append(_breaker(samples))
    parts.append(_timeout(samples, before))
    parts.append(_window(samples, before))
    fallback = sum(s.fallback for s in samples)
    if fallback:
        parts.append(f"the limit decided locally (store fallback) in {fallback} s")
    return "measured: " + "; ".join(parts) + "."


def _breaker(samples: Sequence[Sample]) -> str:
    peak = max(s.drop_probability for s in samples)
    if peak <= 0:
        return "breaker closed throughout"
    dropping = sum(s.drop_probability > 0 for s in samples)
    text = f"breaker half-open {dropping} of {len(samples)} s, dropping up to {peak:.0%}"
    end = samples[-1].drop_probability
    return text + (", closed at the end" if end <= 0 else f", {end:.0%} at the end")


def _timeout(samples: Sequence[Sample], before: Sample | None) -> str:
    first = before.timeout if before is not None else samples[0].timeout
    last = samples[-1].timeout
    low = min(s.timeout for s in samples)
    high = max(s.timeout for s in samples)
    if high - low < 0.0015 and abs(first - last) < 0.0015:
        floor = " (its floor)" if last <= TIMEOUT_FLOOR * 1.005 else ""
        return f"timeout {_ms(last)} throughout{floor}"
    text = f"timeout {_ms(first)} -> {_ms(last)}"
    if low < min(first, last) - 0.0015:
        text += f" (lowest {_ms(low)})"
    return text


def _window(samples: Sequence[Sample], before: Sample | None) -> str:
    first = before.window if before is not None else samples[0].window
    last = samples[-1].window
    sent = sum(s.failovers for s in samples)
    refused = sum(s.refused for s in samples)
    text = f"retry window {first} -> {last}/s, {sent} failovers sent, {refused} refused"
    busiest = max(s.failovers for s in samples)
    if last == first and sent and busiest < last:
        text += (
            f" (the window kept its size: it grows only in a second whose failovers use it "
            f"all up, here at most {busiest} a second, and halves only after failovers fail)"
        )
    return text
