"""``resilience demo``: two data centers on loopback, protected by the library, live.

Each center runs a gateway calling a backend (client -> gateway -> backend), every hop with the
resilience interceptors. A script of events hits the local center: backend errors at 5% then
40% (the adaptive breaker drops a share of the calls once too few succeed; failed reads fail over
to the remote center within the adaptive retry window, writes never do), a latency spike (slow
calls meet the dynamic timeout), and an overload at 3x the gateway's capacity (the tiered limit
sheds the least critical tiers first). A live view shows it second by second; a summary of what
was measured and a PNG timeline close it. ``--serve`` keeps both centers serving for
``resilience loadtest``; ``--simulated`` runs the algorithms alone on a manual clock.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from resilience.tools.cli._help import plain

DEFAULT_DURATION = 45.0
DEFAULT_PLOT = "demo-output/timeline.png"


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="watch two data centers on loopback survive errors, latency and overload",
        description=plain(__doc__),
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help=f"seconds the script of events lasts, 10 to 120 (default {DEFAULT_DURATION:g}); "
        "with --serve: seconds to serve (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="seed of the injected failures (default 7)"
    )
    parser.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help=f"where to draw the live demo's timeline (default {DEFAULT_PLOT}; '' for none)",
    )
    parser.add_argument(
        "--no-live", action="store_true", help="print one line a second instead of a live table"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve the metrics for Prometheus on http://127.0.0.1:PORT/metrics while the "
        "demo runs (0: a free port; needs the otel extra)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="only start both centers and keep them serving, for resilience loadtest",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="with --serve: the local gateway's port (0: free)"
    )
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="drive the algorithms on a manual clock instead, without servers (instant)",
    )
    parser.set_defaults(func=run_demo_command)


def _refusal(args: argparse.Namespace) -> str | None:
    """Why these arguments cannot run, or None."""
    if args.simulated and (args.metrics_port is not None or args.serve):
        return "--metrics-port and --serve need the live demo (not --simulated)"
    if args.serve and args.plot:
        return "--plot draws the timeline of the demo's script; --serve runs no script"
    if args.simulated and args.plot:
        return (
            "--plot draws the live demo's timeline; --simulated prints its scenarios as text "
            "and draws nothing (drop --plot, or drop --simulated to run the live demo)"
        )
    if args.duration is not None and not 10 <= args.duration <= 120 and not args.serve:
        return f"--duration must be 10 to 120 seconds, got {args.duration:g}"
    if args.serve and args.duration is not None and args.duration <= 0:
        return f"--duration must be > 0 seconds with --serve, got {args.duration:g}"
    if not 0 <= args.port <= 65535:
        return f"--port must be 0 to 65535, got {args.port}"
    return None


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo; exit code 0, 2 for arguments it cannot run with, 130 when interrupted
    (Ctrl-C, a closed terminal or SIGTERM: everything it started is stopped first)."""
    refusal = _refusal(args)
    if refusal is not None:
        print(f"resilience demo: {refusal}", file=sys.stderr)
        return 2
    if args.simulated:
        from resilience.tools.cli.demo_simulated import run_simulated_demo

        run_simulated_demo(sys.stdout)
        return 0
    metrics = None
    if args.metrics_port is not None:
        from resilience.errors import ConfigError, MissingExtraError
        from resilience.observability import serve_metrics

        try:  # before the interceptors are built, so their default observers export here
            metrics = serve_metrics(args.metrics_port)
        except (ConfigError, MissingExtraError, OSError) as error:
            print(f"resilience demo: --metrics-port {args.metrics_port}: {error}", file=sys.stderr)
            return 2
        print(f"metrics for Prometheus: {metrics.url}", flush=True)
    try:
        with _hangup_as_interrupt():
            return _run_live(args, observed=metrics is not None)
    except KeyboardInterrupt:
        print("resilience demo: interrupted; what it started is stopped")
        return 130
    finally:
        if metrics is not None:
            metrics.stop()


@contextlib.contextmanager
def _hangup_as_interrupt() -> Iterator[None]:
    """While inside, SIGHUP (the terminal closed) and SIGTERM raise KeyboardInterrupt, as
    Ctrl-C does, so the demo's ``with`` blocks stop its servers and its redis-server instead
    of leaving the redis-server running. Only in the main thread (where Python runs signal
    handlers); the previous handlers come back on leaving."""
    names = ("SIGHUP", "SIGTERM")
    signals = [getattr(signal, n) for n in names if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        signals = []
    previous = {number: signal.getsignal(number) for number in signals}

    def interrupt(number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for number in signals:
        signal.signal(number, interrupt)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run_live(args: argparse.Namespace, *, observed: bool) -> int:
    """The live demo, or with ``--serve`` both centers serving; exit code 0."""
    if args.serve:
        from resilience.tools.cli._demo_serve import serve_centers

        return serve_centers(
            sys.stdout, port=args.port, duration=args.duration, seed=args.seed, observed=observed
        )
    from resilience.tools.cli._demo_run import run_showcase

    plot = DEFAULT_PLOT if args.plot is None else args.plot or None
    run_showcase(
        sys.stdout,
        duration=args.duration or DEFAULT_DURATION,
        seed=args.seed,
        plot=plot,
        live=not args.no_live,
        observed=observed,
        profiles=None if plot is None else os.path.join(os.path.dirname(plot) or ".", "profiles"),
    )
    return 0
