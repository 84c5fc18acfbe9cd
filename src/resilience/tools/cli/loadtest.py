"""``resilience loadtest``: send recorded or crafted calls, colored, and report what happened."""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

from resilience.errors import ConfigError
from resilience.tools.cli._help import plain
from resilience.tools.loadtest._core import LoadSettings
from resilience.tools.loadtest._progress import Progress
from resilience.tools.loadtest.flow import CallSource, Flow, ReplaySource, WeightedPicker
from resilience.tools.loadtest.report import Results
from resilience.tools.loadtest.run import run_load

EXAMPLES = """\
examples:
  resilience loadtest --target 127.0.0.1:50051 --flow flow.toml --rate 200 --ramp 5 --duration 30
  resilience loadtest --target 127.0.0.1:50051 --replay traffic.jsonl.1 traffic.jsonl \\
      --rate 50 --duration 60 --engine aio --json report.json --plot load.png
"""


def register(subparsers: Any) -> None:
    """Add the ``loadtest`` subcommand."""
    parser = subparsers.add_parser(
        "loadtest",
        help="send recorded or crafted calls to a gRPC server and report latency and status",
        description=plain(__doc__),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_load_arguments(parser, require_source=True)
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--csv", metavar="PATH", help="write one row per call as CSV")
    parser.add_argument("--plot", metavar="PNG", help="draw latency and throughput over time")
    parser.set_defaults(func=main)


def add_load_arguments(parser: argparse.ArgumentParser, *, require_source: bool) -> None:
    """The options shared with ``resilience chaos run`` (which may take them from its file)."""
    parser.add_argument(
        "--target", required=require_source, metavar="HOST:PORT", help="the gRPC server to call"
    )
    source = parser.add_mutually_exclusive_group(required=require_source)
    source.add_argument("--replay", nargs="+", metavar="FILE", help="recordings, oldest first")
    source.add_argument("--flow", metavar="FILE", help="a TOML flow of crafted calls")
    parser.add_argument("--rate", type=float, default=10.0, help="calls per second (default 10)")
    parser.add_argument(
        "--ramp", type=float, default=0.0, help="seconds to reach --rate (default 0: at once)"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="calls in flight at most (default 16)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call (default 10)")
    parser.add_argument(
        "--color",
        default="loadtest",
        help='traffic color sent as W3C baggage (default loadtest; "" for none)',
    )
    parser.add_argument(
        "--engine",
        choices=("sync", "aio"),
        default="sync",
        help="the gRPC client sending the calls: sync (grpc, threads) or aio (grpc.aio) "
        "(default sync)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the flow's call picker")
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


def build_source(args: argparse.Namespace) -> CallSource:
    """The call source the options describe."""
    if args.replay:
        return ReplaySource.load(args.replay)
    return WeightedPicker(Flow.load(args.flow), rng=random.Random(args.seed))


def build_settings(args: argparse.Namespace) -> LoadSettings:
    """The load settings the options describe."""
    return LoadSettings(
        rate=args.rate,
        duration=args.duration,
        ramp=args.ramp,
        concurrency=args.concurrency,
        timeout=args.timeout,
        color=args.color or None,
    )


def run_with_progress(
    target: str, source: CallSource, settings: LoadSettings, *, engine: Any, quiet: bool
) -> tuple[Results, bool]:
    """Run the load; returns the results and whether it was interrupted (Ctrl-C)."""
    results = Results()
    progress = None if quiet else Progress(settings.total_calls)
    try:
        run_load(target, source, settings, engine=engine, results=results, on_tick=progress)
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if progress is not None:
            progress.close()
    return results, interrupted


def prepare_outputs(*paths: str | None) -> None:
    """Create the folders of the output files before the run, so that a long load test is not
    lost to a missing folder at the end; raise ConfigError naming a path that cannot be made."""
    for path in paths:
        if path:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create the folder for {path!r}: {exc}") from exc


def main(args: argparse.Namespace) -> int:
    """Run ``resilience loadtest``; exit code 0, 2 on a bad option or file, 130 on Ctrl-C."""
    try:
        source = build_source(args)
        settings = build_settings(args)
        prepare_outputs(args.json, args.csv, args.plot)
    except ConfigError as exc:
        print(f"resilience loadtest: {exc}", file=sys.stderr)
        return 2
    results, interrupted = run_with_progress(
        args.target, source, settings, engine=args.engine, quiet=args.no_progress
    )
    report = results.report()
    print(report.to_text())
    if args.json:
        report.write_json(args.json)
    if args.csv:
        results.write_csv(args.csv)
    if args.plot:
        from resilience.tools.loadtest.plot import write_plot

        write_plot(results, args.plot, title=f"{args.target} at {args.rate:g}/s")
    if interrupted:
        print("interrupted: the report covers the calls completed so far", file=sys.stderr)
        return 130
    return 0
