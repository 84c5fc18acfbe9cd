"""``resilience chaos run EXPERIMENT.toml``: faults on for a bounded time under colored load.

The faults are applied through the target service's admin service
(``resilience.admin.v1.Admin``, see docs/chaos.md), authenticated with the token in the
environment variable named by ``experiment.token_env`` (default RESILIENCE_ADMIN_TOKEN).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import grpc

from resilience.errors import ConfigError
from resilience.tools.cli._help import plain
from resilience.tools.experiments._experiment import Experiment
from resilience.tools.experiments._run import AdminSwitch, load_source, run_experiment
from resilience.tools.loadtest._progress import Progress


def register(subparsers: Any) -> None:
    """Add the ``chaos`` subcommand and its ``run`` action."""
    parser = subparsers.add_parser(
        "chaos",
        help="run fault-injection experiments",
        description="Fault-injection experiments against a running service. One action: "
        "'run EXPERIMENT.toml' switches the experiment's faults on through the service's admin "
        "service for a bounded time, under colored load, and reports what changed.",
    )
    actions = parser.add_subparsers(dest="chaos_action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="run an experiment file", description=plain(__doc__))
    run.add_argument(
        "experiment",
        metavar="EXPERIMENT.toml",
        help="the experiment: admin address, faults, duration and load (a TOML file)",
    )
    run.add_argument("--json", metavar="PATH", help="write the report as JSON")
    run.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    run.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``resilience chaos run``; exit code 0, 2 on a bad file or setting, 1 if the admin
    service refused."""
    try:
        experiment = Experiment.load_file(args.experiment)
        source = load_source(experiment)
        token = os.environ.get(experiment.token_env, "")
        if not token:
            raise ConfigError(
                f"experiment.token_env: set the admin token in ${experiment.token_env}"
            )
    except ConfigError as exc:
        print(f"resilience chaos: {exc}", file=sys.stderr)
        return 2
    switch = AdminSwitch(experiment.admin, experiment.injector, token)
    progress = None if args.no_progress else Progress(experiment.load.total_calls)
    try:
        report = run_experiment(experiment, switch, source=source, on_tick=progress)
    except grpc.RpcError as exc:
        failed: Any = exc
        print(
            f"resilience chaos: the admin service at {experiment.admin} refused: "
            f"{failed.code().name}: {failed.details()}",
            file=sys.stderr,
        )
        return 1
    finally:
        if progress is not None:
            progress.close()
    print(report.to_text())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(report.to_dict(), file, indent=2)
    return 0
