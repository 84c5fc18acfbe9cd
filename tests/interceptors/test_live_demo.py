"""``resilience demo`` runs the live story on loopback and shows each mechanism act."""

from __future__ import annotations

import io

import pytest

from resilience.__main__ import main
from resilience._cli.demo import run_live_demo


def test_the_live_demo_shows_breaker_timeout_and_shedding() -> None:
    out = io.StringIO()

    run_live_demo(out, duration=10.0, seed=1)

    text = out.getvalue()
    for headline in ("steady traffic", "slows", "fails", "recovers", "triples"):
        assert headline in text
    assert "[breaker" in text  # calls failed locally while the backend was down
    assert "shed" in text  # less critical tiers refused under overload
    assert "timeout 300 ms" in text  # the dynamic timeout at rest ...
    assert "timeout 150 ms" in text  # ... and cut to t_hwm while the backend failed
    assert text.rstrip().splitlines()[-1].startswith("done: ")


def test_a_bad_duration_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--duration", "5"]) == 2
    assert "--duration must be 10 to 120 seconds" in capsys.readouterr().err
