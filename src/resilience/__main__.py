"""The ``resilience`` command line: ``resilience demo``, ``resilience simulate``, ..."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from resilience._version import __version__
from resilience.tools.cli import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per module in ``resilience.tools.cli.COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="resilience", description="Resilience for Python gRPC services."
    )
    parser.add_argument("--version", action="version", version=f"resilience {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"resilience.tools.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
