"""Subcommands of the ``resilience`` command line, one module each.

Each module listed in :data:`COMMANDS` exposes ``register(subparsers)``, which adds its parser
and sets ``func`` (taking the parsed namespace, returning an exit code) as a default.
"""

from __future__ import annotations

COMMANDS: tuple[str, ...] = ("demo", "loadtest", "simulate", "chaos", "profile", "policy")
"""Modules of resilience.tools.cli that provide a subcommand, in help order."""
