"""``resilience policy check FILE [FILE ...]``: load policy files as a service would.

Each file is read and validated by ``Policy.from_file``, as a service loading it (or the
policy watcher reloading it) would: every key and value is checked. A file that fails prints
the error, which names the file, the key path and what to change (an unknown key with the
nearest known one, a value out of range with its bounds). Nothing is contacted: a Redis store
named by a rate limit is checked for its form, not reached.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from resilience.errors import ConfigError
from resilience.policy import Policy
from resilience.tools.cli._help import plain


def register(subparsers: Any) -> None:
    """Add the ``policy`` subcommand and its ``check`` action."""
    parser = subparsers.add_parser(
        "policy",
        help="check policy files",
        description="Policy files (TOML, YAML or JSON; see docs/policy.md). One action: "
        "'check FILE' loads each file as the interceptors would and prints what is wrong.",
    )
    actions = parser.add_subparsers(dest="policy_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate policy files", description=plain(__doc__))
    check.add_argument(
        "files",
        metavar="FILE",
        nargs="+",
        help="a policy file: .toml, .yaml/.yml (needs the yaml extra) or .json",
    )
    check.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``resilience policy check``: one line per file; exit code 0 when every file
    loads, 1 when one does not."""
    failed = 0
    for name in args.files:
        try:
            policy = Policy.from_file(name)
        except ConfigError as exc:
            print(f"resilience policy: {exc}", file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:
            print(f"resilience policy: {name}: cannot read: {exc.strerror}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: valid; method patterns: {', '.join(policy.patterns)}")
    return 1 if failed else 0
