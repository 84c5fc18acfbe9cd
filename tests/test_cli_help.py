"""The command line's help, as a newcomer reads it: plain text, every option explained."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from resilience.__main__ import build_parser

_REST = re.compile(r"``|:(?:class|func|meth|data|attr|mod|exc|obj):`")


def _parsers(
    parser: argparse.ArgumentParser, name: str = "resilience"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the command line, with its command path, the top-level one first."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


PARSERS = dict(_parsers(build_parser()))


def test_the_walk_reaches_every_subcommand() -> None:
    assert {
        "resilience demo",
        "resilience loadtest",
        "resilience simulate failover",
        "resilience chaos run",
        "resilience policy check",
    } <= set(PARSERS)


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_help_has_no_rest_markup(command: str) -> None:
    text = PARSERS[command].format_help()
    assert not _REST.findall(text), text


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_and_subcommand_has_help(command: str) -> None:
    parser = PARSERS[command]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f"{command} {choice.dest}: no help"
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            name = "/".join(action.option_strings) or action.dest
            assert action.help, f"{command} {name}: no help"
            assert action.help != argparse.SUPPRESS, f"{command} {name}: help suppressed"


def test_chaos_describes_itself_not_its_run_action() -> None:
    chaos, run = PARSERS["resilience chaos"], PARSERS["resilience chaos run"]
    assert chaos.description != run.description
    assert "run EXPERIMENT.toml" in (chaos.description or "")


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_with_a_default_says_it(command: str) -> None:
    # A newcomer reads --help to learn what happens without the option.
    for action in PARSERS[command]._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        if action.required or action.default in (None, False, [], argparse.SUPPRESS):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert "default" in (action.help or ""), f"{command} {name}: default {action.default!r}"
