"""The simulated demo tells each algorithm's story with the figures the docs promise."""

from __future__ import annotations

import io

import pytest

from resilience.__main__ import main
from resilience.tools.cli.demo_simulated import run_simulated_demo


def test_the_demo_shows_every_worked_example() -> None:
    out = io.StringIO()
    run_simulated_demo(out)
    text = out.getvalue()
    assert "t=0.0s  25 requests -> 10 admitted, 15 rejected, retry after 1.00s" in text
    assert "50/40/40/100          50/40/10/0" in text
    assert "150/40/40/100         100/0/0/0" in text
    assert "half_open" in text
    assert text.rstrip().count("closed") >= 3  # closed before, and closed again after recovery
    assert "failovers admitted per second: 1, 2, 4, 8, 16, 26, 36, 46*, 23" in text
    assert "97%   SHED    SHED    SHED    SHED" in text


def test_resilience_demo_simulated_runs_from_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--simulated"]) == 0
    assert "SlidingWindowLimiter" in capsys.readouterr().out
