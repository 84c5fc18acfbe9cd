"""The runnable examples the getting-started page includes work against real servers.

The page shows docs/examples/*.py verbatim (pymdownx.snippets), so these tests keep it honest.
Each example starts its own server on 127.0.0.1 port 0.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def examples() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield
    finally:
        sys.path.remove(str(EXAMPLES))


def _load(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.usefixtures("examples")
def test_sync_quickstart_carries_color_and_tier_to_the_handler() -> None:
    reply = _load("quickstart").main()
    assert reply == "hello newcomer (color=loadtest, tier=2)"


@pytest.mark.usefixtures("examples")
def test_aio_quickstart_carries_color_and_tier_to_the_handler() -> None:
    reply = asyncio.run(_load("aio_quickstart").main())
    assert reply == "hello newcomer (color=loadtest, tier=2)"


@pytest.mark.usefixtures("examples")
def test_policy_example_refuses_the_calls_over_the_limit_with_a_reason() -> None:
    outcomes = _load("with_policy").main()
    assert outcomes.count("OK") == 5
    assert outcomes.count("RESOURCE_EXHAUSTED (rate_limit)") == 5
