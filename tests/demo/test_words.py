"""What the demo says is computed from what it measured (no run needed: samples by hand)."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from resilience.tools.cli._demo_logs import collected
from resilience.tools.cli._demo_script import PHASES, Sample
from resilience.tools.cli._demo_services import TIMEOUT
from resilience.tools.cli._demo_summary import DemoResult, summary
from resilience.tools.cli._demo_words import breaker_state, measured, opening

SPIKE = next(phase for phase in PHASES if phase.name == "latency spike")


def _sample(
    at: float, *, p: float = 0.0, timeout: float = 0.3, window: int = 1, sent: int = 0
) -> Sample:
    counts: Counter[tuple[str, str]] = Counter({("tier 1", "ok"): 9, ("tier 1", "rate_limit"): 1})
    return Sample(at, "x", counts, p, timeout, window, sent, 0)


def test_the_breaker_is_closed_or_half_open_never_open() -> None:
    assert breaker_state(0.0) == "closed"
    assert breaker_state(0.42) == "half-open, drops 42%"


def test_the_spike_banner_does_not_promise_a_tightening_from_the_floor() -> None:
    at_floor = opening(SPIKE, _sample(1, timeout=TIMEOUT["t_hwm"]))
    assert "already sits at its floor, 120 ms" in at_floor
    assert "tightens toward" not in at_floor
    from_top = opening(SPIKE, _sample(1, timeout=0.3))
    assert "now 300 ms, tightens toward its floor of 120 ms" in from_top


def test_measured_reports_the_figures_of_the_phase() -> None:
    before = _sample(0, window=4)
    samples = [_sample(1, p=0.3, timeout=0.2, window=8, sent=4), _sample(2, timeout=0.15, window=8)]
    text = measured(samples, before)
    assert "ok t1 90%" in text
    assert "shed t1 2" in text
    assert "breaker half-open 1 of 2 s, dropping up to 30%, closed at the end" in text
    assert "timeout 300 ms -> 150 ms" in text
    assert "retry window 4 -> 8/s, 4 failovers sent" in text


def test_a_window_that_keeps_its_size_is_explained() -> None:
    samples = [_sample(1, window=54, sent=30), _sample(2, window=54, sent=10)]
    text = measured(samples, _sample(0, window=54))
    assert "the window kept its size: it grows only in a second whose failovers use it" in text
    assert "all up, here at most 30 a second" in text


def test_library_warnings_are_collected_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("resilience.backends")
    with collected() as notes:
        logger.warning("limit %r: store %s failed (%s); deciding locally", "k", "redis://x", "E")
        logger.warning("limit %r: store %s answers again", "k", "redis://x")
    assert notes.store_failures == 1
    assert notes.take() == [
        "limit 'k': store redis://x failed (E); deciding locally",
        "limit 'k': store redis://x answers again",
    ]
    assert notes.take() == []
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""
    assert logging.getLogger("resilience").propagate  # as it was


def test_the_summary_counts_store_failures_and_quotes_warnings() -> None:
    result = DemoResult([_sample(1)], Counter(), "Redis", 1.0, ["store x failed"] * 2, 2)
    text = summary(result)
    assert "store failures: 2" in text
    assert "log warnings of the library during the run: 2\n    store x failed\n" in text
