"""The demo's script of events and the signals it samples once a second.

Each :class:`Phase` takes a share of the run and changes one thing (the local backend's faults
or the traffic); :func:`play` applies them in order and, every second, takes a :class:`Sample`
of what the callers saw and what the local gateway's mechanisms are doing.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import grpc

from resilience.chaos import FaultRule
from resilience.tools.cli._demo_services import BREAKER, CHECK, GATEWAY_LIMIT, RESERVE
from resilience.tools.cli._demo_topology import Centers
from resilience.tools.cli._demo_traffic import Callers

STEADY_PER_TIER = 10.0
WRITES = 4.0
OVERLOAD_PER_TIER = (3 * GATEWAY_LIMIT - WRITES) / 4
"""Reads per tier during the overload: with the writes, three times the gateway's limit."""
SPIKE = (0.05, 0.15)
"""Seconds the local backend takes during the latency spike (uniform)."""


def _errors(percentage: float) -> list[FaultRule]:
    return [
        FaultRule(
            method=method,
            percentage=percentage,
            abort=grpc.StatusCode.UNAVAILABLE,
            message="inventory: database errors (injected)",
            name=f"errors {percentage:g}%",
        )
        for method in (CHECK, RESERVE)
    ]


@dataclass(frozen=True)
class Phase:
    """One act of the script: ``share`` of the run; ``faults`` for the local backend; ``rate``
    per tier of the local reads; ``banner`` says what the script does and what the mechanisms
    are built to do about it (conditionally: what they did is measured, not promised)."""

    name: str
    share: float
    banner: str
    faults: tuple[FaultRule, ...] = ()
    rate: float = STEADY_PER_TIER


_K = Fraction(1 / BREAKER["k"]).limit_denominator(10)
_SUCCEED = f"{_K.numerator} call{'s' if _K.numerator > 1 else ''} in {_K.denominator}"
"""The breaker's threshold in words: it drops nothing while more than this many succeed."""
PHASES: tuple[Phase, ...] = (
    Phase("steady", 0.12, "No faults injected: the baseline."),
    Phase(
        "errors 5%",
        0.14,
        "The local backend fails 5% of calls. The breaker drops nothing while more than "
        f"{_SUCCEED} succeed; a failed read fails over to the remote center if the retry "
        "window admits it.",
        tuple(_errors(5)),
    ),
    Phase(
        "errors 40%",
        0.18,
        f"The local backend fails 40% of calls. Once fewer than {_SUCCEED} succeed, the "
        "breaker drops a share of the calls locally (half-open: it never drops all); failed "
        "and dropped reads fail over as far as the retry window allows; writes never do.",
        tuple(_errors(40)),
    ),
    Phase(
        "latency spike",
        0.16,
        f"No more errors, but the local backend takes {SPIKE[0] * 1000:.0f}-"
        f"{SPIKE[1] * 1000:.0f} ms a call.",
        (FaultRule(method="/shop.Inventory/*", delay=SPIKE, name="latency spike"),),
    ),
    Phase(
        "overload 3x",
        0.22,
        f"The backend is well again, but callers send {3 * GATEWAY_LIMIT} calls/s, 3x what "
        f"the gateway admits ({GATEWAY_LIMIT}/s, the most critical tier first). Tier 1 asks "
        f"for {OVERLOAD_PER_TIER + WRITES:.0f}/s ({OVERLOAD_PER_TIER:.0f} reads, "
        f"{WRITES:.0f} writes), the other tiers {OVERLOAD_PER_TIER:.0f} each.",
        rate=OVERLOAD_PER_TIER,
    ),
    Phase(
        "recovered",
        0.18,
        f"Back to {STEADY_PER_TIER:.0f} reads/s per tier, no faults.",
    ),
)


def phase_seconds(duration: float) -> list[int]:
    """Whole seconds each phase lasts: its share of ``duration`` rounded so that the phases
    add up to ``round(duration)`` (at least one second each)."""
    total = max(len(PHASES), round(duration))
    bounds, shared = [0], 0.0
    for phase in PHASES:
        shared += phase.share
        bounds.append(max(bounds[-1] + 1, round(shared * total)))
    bounds[-1] = max(bounds[-1], total)
    return [b - a for a, b in itertools.pairwise(bounds)]


@dataclass
class Sample:
    """One second of the run, as the local center saw it."""

    at: float
    """Seconds since the script started, a whole number: the end of the sampled second."""
    phase: str
    counts: Counter[tuple[str, str]]
    """Calls that ended in the interval, by (row, outcome label)."""
    drop_probability: float
    """The local gateway's breaker toward its backend (0 = closed)."""
    timeout: float
    """The local gateway's dynamic timeout toward its backend, seconds."""
    window: int
    """Failovers the AdaptiveRetryWindow admits per second."""
    failovers: int
    """Failovers the local gateway sent to the remote center in the interval."""
    refused: int
    """Failovers the retry window refused in the interval."""
    fallback: bool = False
    """The gateway's Redis-backed limit was deciding locally (its store had failed)."""
    remote: Counter[str] = field(default_factory=Counter)
    """Calls of the remote center's own callers, by outcome label."""


def play(
    centers: Centers,
    local: Callers,
    remote: Callers,
    *,
    duration: float,
    on_phase: Callable[[Phase, Sample | None], None],
    on_sample: Callable[[Sample], None],
    on_phase_end: Callable[[Phase, list[Sample], Sample | None], None],
) -> list[Sample]:
    """Play :data:`PHASES` over ``duration`` seconds, whole seconds each (see
    :func:`phase_seconds`). Calls ``on_phase(phase, last sample)`` as each begins,
    ``on_sample`` at the end of every second, and ``on_phase_end(phase, its samples, the
    sample before it)`` as it ends. Returns every sample."""
    samples: list[Sample] = []
    start = time.monotonic()
    stats = centers.local.channel.stats()
    for phase, seconds in zip(PHASES, phase_seconds(duration), strict=True):
        centers.local_backend.injector.replace_rules(phase.faults)
        for stream in local.streams.values():
            if stream.method.endswith("/Browse"):
                stream.rate = phase.rate
        before = samples[-1] if samples else None
        on_phase(phase, before)
        for _ in range(seconds):
            tick = len(samples) + 1
            time.sleep(max(0.0, start + tick - time.monotonic()))
            now = centers.local.channel.stats()
            gauges = centers.local.gauges()
            sample = Sample(
                at=float(tick),
                phase=phase.name,
                counts=local.take(),
                drop_probability=gauges.get("breaker.drop_probability", 0.0),
                timeout=gauges.get("timeout.seconds", 0.0),
                window=now.window,
                failovers=now.admitted - stats.admitted,
                refused=now.refused - stats.refused,
                remote=Counter({label: n for (_, label), n in remote.take().items()}),
                fallback=gauges.get("limiter.fallback", 0.0) > 0,
            )
            stats = now
            samples.append(sample)
            on_sample(sample)
        on_phase_end(phase, samples[len(samples) - seconds :], before)
    centers.local_backend.injector.replace_rules(())
    return samples
