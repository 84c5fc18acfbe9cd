"""The judge of wall-clock bounds (tests/timing.py): it fails an overrun the host does not
explain and records, instead of failing, one it does."""

from __future__ import annotations

import pytest

import timing


@pytest.fixture
def tally(monkeypatch: pytest.MonkeyPatch) -> timing.Tally:
    fresh = timing.Tally()
    monkeypatch.setattr(timing, "TALLY", fresh)
    return fresh


def test_a_bound_that_held_is_judged(tally: timing.Tally) -> None:
    assert timing.judge("a call", elapsed=0.09, bound=0.1, lost=0.0)
    assert (tally.judged, tally.unmeasured) == (1, [])


def test_an_overrun_the_stall_explains_is_recorded_not_failed(tally: timing.Tally) -> None:
    assert not timing.judge("a call", elapsed=0.5, bound=0.1, lost=0.45)
    ((test, reason),) = tally.unmeasured
    assert test.endswith("test_an_overrun_the_stall_explains_is_recorded_not_failed")
    assert "a call: took 0.500 s against a bound of 0.100 s (over by 0.400 s)" in reason
    assert "0.450 s" in reason
    assert tally.judged == 0


def test_an_overrun_beyond_the_stall_fails_with_every_figure(tally: timing.Tally) -> None:
    with pytest.raises(AssertionError, match=r"took 0\.500 s .*over by 0\.400 s.* only 0\.100 s"):
        timing.judge("a call", elapsed=0.5, bound=0.1, lost=0.1)
    assert tally.unmeasured == []
