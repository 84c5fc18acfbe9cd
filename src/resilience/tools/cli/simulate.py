"""``resilience simulate``: deterministic simulations of the library's algorithms."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from resilience.errors import ConfigError, MissingExtraError
from resilience.tools.cli._help import plain

COLUMNS = """\
columns: t = period start (s); f = the retry window at the period's start (failovers the
period may send); traffic = local requests; wanted = local failures that would fail over;
admitted / refused = failovers the window let through / turned away; ok = admitted failovers
that the remote center answered; health = the remote center's success rate in force;
success = requests answered end to end, locally or by a failover; ampl = attempts sent to
either center per request (1 + admitted / traffic)."""

EXAMPLES = """\
examples:
  resilience simulate failover --scenario worked-trace
  resilience simulate failover --scenario my-scenario.toml --seed 3 --plot failover.png
  resilience simulate failover --list
"""


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand and its ``failover`` simulation."""
    parser = subparsers.add_parser(
        "simulate",
        help="run a deterministic simulation (failover) and print a table per period",
        description=plain(__doc__),
    )
    simulations = parser.add_subparsers(dest="simulation", metavar="SIMULATION", required=True)
    failover = simulations.add_parser(
        "failover",
        help="the cross-center retry window under a scenario",
        description="Run a failover scenario (TOML) on a manual clock: one table row per "
        "period with the window size, failovers wanted/admitted and end-to-end success.",
        epilog=COLUMNS + "\n\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    failover.add_argument(
        "--scenario", metavar="FILE", help="a scenario TOML file or a standard name (see --list)"
    )
    failover.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    failover.add_argument("--plot", metavar="PNG", help="also draw the run to this PNG file")
    failover.add_argument("--list", action="store_true", help="list the standard scenarios")
    failover.set_defaults(func=run_failover_command)


def run_failover_command(args: argparse.Namespace) -> int:
    """Run ``simulate failover``; exit code 0 on success, 2 on a bad scenario or option."""
    from resilience.tools.simulate import (
        format_table,
        load_scenario,
        plot_failover,
        run_failover,
        standard_scenarios,
    )

    if args.list:
        for name, path in sorted(standard_scenarios().items()):
            print(f"{name}\t{path}")
        return 0
    if not args.scenario:
        print(
            "resilience simulate failover: --scenario FILE (or --list) is required", file=sys.stderr
        )
        return 2
    standard = standard_scenarios()
    if args.scenario not in standard and not Path(args.scenario).exists():
        print(
            f"resilience simulate failover: --scenario {args.scenario!r} is neither a file nor "
            f"a standard scenario; the standard ones: {', '.join(sorted(standard))}",
            file=sys.stderr,
        )
        return 2
    try:
        result = run_failover(load_scenario(args.scenario), seed=args.seed)
    except ConfigError as exc:
        print(f"resilience simulate failover: {exc}", file=sys.stderr)
        return 2
    print(format_table(result))
    print("\n" + COLUMNS)
    if args.plot:
        try:
            path = plot_failover(result, args.plot)
        except MissingExtraError as exc:
            print(f"resilience simulate failover: {exc}", file=sys.stderr)
            return 2
        print(f"plot written to {path}", file=sys.stderr)
    return 0
