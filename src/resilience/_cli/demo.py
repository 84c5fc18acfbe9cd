"""``resilience demo``: watch the library decide, in under a minute."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="watch every algorithm decide through a traffic scenario",
        description=__doc__,
    )
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="drive the algorithms on a manual clock, without servers (the only mode for now)",
    )
    parser.set_defaults(func=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo; exit code 0."""
    from resilience._cli.demo_simulated import run_simulated_demo

    run_simulated_demo(sys.stdout)
    return 0
