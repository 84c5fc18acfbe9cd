"""``resilience demo``: the library protecting real gRPC services on loopback, live.

A client calls a gateway, which calls a backend; all three run the resilience interceptors.
The story: steady traffic; the backend slows down (the dynamic timeout tightens); it starts
failing (the gateway's breaker opens and fails calls locally); it recovers (the breaker lets
calls through again); then traffic triples and the gateway sheds by tier (tier 4 first). Each
second prints what happened. ``--simulated`` runs the algorithms alone on a manual clock.
``--metrics-port PORT`` also serves the services' metrics for Prometheus while the story runs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from typing import Any, TextIO

PHASES: tuple[tuple[str, float, str], ...] = (
    ("steady", 0.12, "steady traffic: every tier served"),
    ("slow", 0.15, "the backend slows to 100 ms: watch the dynamic timeout tighten"),
    ("failing", 0.18, "the backend fails 90% of calls: the gateway's breaker opens"),
    ("recovered", 0.30, "the backend recovers: probes get through, the breaker closes"),
    ("overload", 0.25, "traffic triples past the gateway's 150/s: tiers 4 and 3 are shed"),
)
STEADY = {1: 20.0, 2: 20.0, 3: 20.0, 4: 20.0}
OVERLOAD = {1: 60.0, 2: 60.0, 3: 60.0, 4: 60.0}


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="watch the interceptors protect live gRPC services on loopback",
        description=__doc__,
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=30.0,
        help="seconds the live story lasts, 10 to 120 (default 30)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the backend's failures")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve the metrics for Prometheus on http://127.0.0.1:PORT/metrics while the "
        "demo runs (0: a free port; needs the otel extra)",
    )
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="drive the algorithms on a manual clock instead, without servers (instant)",
    )
    parser.set_defaults(func=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo; exit code 0, or 2 for a bad ``--duration`` or ``--metrics-port``."""
    if args.simulated:
        if args.metrics_port is not None:
            print("--metrics-port needs the live demo (not --simulated)", file=sys.stderr)
            return 2
        from resilience._cli.demo_simulated import run_simulated_demo

        run_simulated_demo(sys.stdout)
        return 0
    if not 10 <= args.duration <= 120:
        print(f"--duration must be 10 to 120 seconds, got {args.duration:g}", file=sys.stderr)
        return 2
    metrics = None
    if args.metrics_port is not None:
        from resilience.errors import ConfigError, MissingExtraError
        from resilience.observability import serve_metrics

        try:  # before the interceptors are built, so their default observers export here
            metrics = serve_metrics(args.metrics_port)
        except (ConfigError, MissingExtraError, OSError) as error:
            print(f"--metrics-port {args.metrics_port}: {error}", file=sys.stderr)
            return 2
        print(f"metrics for Prometheus: {metrics.url}", flush=True)
    try:
        run_live_demo(sys.stdout, duration=args.duration, seed=args.seed, observed=bool(metrics))
    finally:
        if metrics is not None:
            metrics.stop()
    return 0


def run_live_demo(out: TextIO, *, duration: float, seed: int, observed: bool = False) -> None:
    """Start the services, play the story for ``duration`` seconds, stop everything.
    ``observed``: give the interceptors the default observers (metrics), else none."""
    from resilience._cli._demo_stack import GATEWAY_LIMIT, Backend, Callers, Gateway

    observers = None if observed else ()
    backend = Backend(random.Random(seed))
    backend.server.start()
    gateway = Gateway(backend.port, observers=observers)
    gateway.server.start()
    callers = Callers(gateway.port, STEADY, observers=observers)
    out.write(
        f"resilience live demo on loopback: client -> gateway :{gateway.port} -> backend "
        f":{backend.port}\n  gateway: tiered limit {GATEWAY_LIMIT}/s on /shop.Catalog/Browse; "
        "breaker and dynamic timeout on its calls to /shop.Inventory/Check\n"
        "  each line: one second of calls per tier (ok / refused by reason); the drop "
        "probability of the breakers client->gateway and gateway->backend; the gateway's "
        "dynamic timeout for the backend\n"
    )
    totals: Counter[tuple[int, str]] = Counter()
    try:
        callers.start()
        for name, share, headline in PHASES:
            out.write(f"\n== {headline}\n")
            _enter_phase(name, backend, callers)
            end = time.monotonic() + share * duration
            while time.monotonic() < end:
                time.sleep(min(1.0, max(0.0, end - time.monotonic())))
                counts = callers.take()
                totals.update(counts)
                gauges = {**gateway.gauges(), "caller p": callers.drop_probability()}
                out.write(_line(counts, gauges) + "\n")
                out.flush()
    finally:
        callers.stop()
        gateway.close()
        gateway.server.stop(None)
        backend.server.stop(None)
    out.write("\n" + _summary(totals) + "\n")


def _enter_phase(name: str, backend: Any, callers: Any) -> None:
    if name == "slow":
        backend.latency = 0.1
    elif name == "failing":
        backend.latency, backend.fail_rate = 0.005, 0.9
    elif name == "recovered":
        backend.fail_rate = 0.0
    elif name == "overload":
        callers.rates.update(OVERLOAD)


def _line(counts: Counter[tuple[int, str]], gauges: dict[str, float]) -> str:
    tiers = []
    for tier in range(1, 5):
        ok = counts[tier, "ok"]
        refused = {label: n for (t, label), n in counts.items() if t == tier and label != "ok"}
        extra = " ".join(f"{label} {n}" for label, n in sorted(refused.items()))
        tiers.append(f"t{tier} ok {ok:3d}" + (f" [{extra}]" if extra else ""))
    p = gauges.get("breaker.drop_probability", 0.0)
    caller_p = gauges.get("caller p", 0.0)
    timeout = gauges.get("timeout.seconds", 0.0)
    breakers = f"p {caller_p:.2f}/{p:.2f}"
    return "  " + " | ".join(tiers) + f" | {breakers} timeout {timeout * 1000:.0f} ms"


def _summary(totals: Counter[tuple[int, str]]) -> str:
    by_label: Counter[str] = Counter()
    for (_, label), n in totals.items():
        by_label[label] += n
    parts = ", ".join(f"{label} {n}" for label, n in by_label.most_common())
    return (
        f"done: {sum(by_label.values())} calls ({parts}). 'breaker' = failed locally by a "
        "breaker (the service behind it was spared); 'shed'/'rate_limit' = refused by the "
        "gateway's tiered limit; 'unavailable'/'deadline_exceeded' = failures from the backend."
    )
