"""Calls with the same method, color and tier share one CallInfo; the cache is bounded."""

from __future__ import annotations

import pytest

from resilience._base.clock import ManualClock
from resilience.interceptors import _pipeline
from resilience.interceptors._client_pipeline import ClientPipeline


def test_equal_calls_share_one_call_info_and_the_cache_stops_growing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_pipeline, "MAX_CALL_INFOS", 2)
    pipeline = ClientPipeline(None, (), ManualClock())
    first = pipeline.call_info("/a.B/C", None, 2)
    assert pipeline.call_info("/a.B/C", None, 2) is first
    assert (first.side, first.method, first.color, first.tier) == ("client", "/a.B/C", None, 2)
    pipeline.call_info("/a.B/C", "loadtest", 2)
    beyond = pipeline.call_info("/a.B/C", "shadow", 1)  # past the bound: built, not kept
    assert (beyond.color, beyond.tier) == ("shadow", 1)
    assert pipeline.call_info("/a.B/C", "shadow", 1) is not beyond
    assert len(pipeline._infos) == 2
