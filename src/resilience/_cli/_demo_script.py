"""The demo's script of events and the signals it samples once a second.

Each :class:`Phase` takes a share of the run and changes one thing (the local backend's faults
or the traffic); :func:`play` applies them in order and, every second, takes a :class:`Sample`
of what the callers saw and what the local gateway's mechanisms are doing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from resilience._cli._demo_services import CHECK, GATEWAY_LIMIT, RESERVE
from resilience._cli._demo_topology import Centers
from resilience._cli._demo_traffic import Callers
from resilience.chaos import FaultRule

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
    per tier of the local reads; ``banner`` says what to watch."""

    name: str
    share: float
    banner: str
    faults: tuple[FaultRule, ...] = ()
    rate: float = STEADY_PER_TIER


PHASES: tuple[Phase, ...] = (
    Phase("steady", 0.12, "All healthy: every tier is served by the local center."),
    Phase(
        "errors 5%",
        0.14,
        "The local backend fails 5% of calls. The breaker tolerates it (stays closed); "
        "each failed read fails over to the remote center.",
        tuple(_errors(5)),
    ),
    Phase(
        "errors 40%",
        0.18,
        "The local backend fails 40% of calls. The gateway's breaker opens and drops calls "
        "locally; reads fail over as far as the retry window allows; writes never fail over.",
        tuple(_errors(40)),
    ),
    Phase(
        "latency spike",
        0.16,
        f"No more errors, but the local backend takes {SPIKE[0] * 1000:.0f}-"
        f"{SPIKE[1] * 1000:.0f} ms. The dynamic timeout tightens; reads that time out fail "
        "over.",
        (FaultRule(method="/shop.Inventory/*", delay=SPIKE, name="latency spike"),),
    ),
    Phase(
        "overload 3x",
        0.22,
        f"The backend is well again, but callers send 3x the gateway's {GATEWAY_LIMIT}/s. The "
        "tiered limit sheds tier 4 first, then tier 3; tier 1 keeps its calls.",
        rate=OVERLOAD_PER_TIER,
    ),
    Phase("recovered", 0.18, "Back to normal: every tier served, breaker closed again."),
)


@dataclass
class Sample:
    """One second of the run, as the local center saw it."""

    at: float
    """Seconds since the script started (end of the sampled interval)."""
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
    remote: Counter[str] = field(default_factory=Counter)
    """Calls of the remote center's own callers, by outcome label."""


def play(
    centers: Centers,
    local: Callers,
    remote: Callers,
    *,
    duration: float,
    on_phase: Callable[[Phase], None],
    on_sample: Callable[[Sample], None],
) -> list[Sample]:
    """Play :data:`PHASES` over ``duration`` seconds; call ``on_phase`` as each begins and
    ``on_sample`` once a second (and at each phase's end). Returns every sample."""
    samples: list[Sample] = []
    start = time.monotonic()
    stats = centers.local.channel.stats()
    for phase in PHASES:
        centers.local_backend.injector.replace_rules(phase.faults)
        for stream in local.streams.values():
            if stream.method.endswith("/Browse"):
                stream.rate = phase.rate
        on_phase(phase)
        end = time.monotonic() + phase.share * duration
        while (left := end - time.monotonic()) > 0.05:
            time.sleep(min(1.0, left))
            now = centers.local.channel.stats()
            gauges = centers.local.gauges()
            sample = Sample(
                at=time.monotonic() - start,
                phase=phase.name,
                counts=local.take(),
                drop_probability=gauges.get("breaker.drop_probability", 0.0),
                timeout=gauges.get("timeout.seconds", 0.0),
                window=now.window,
                failovers=now.admitted - stats.admitted,
                refused=now.refused - stats.refused,
                remote=Counter({label: n for (_, label), n in remote.take().items()}),
            )
            stats = now
            samples.append(sample)
            on_sample(sample)
    centers.local_backend.injector.replace_rules(())
    return samples
