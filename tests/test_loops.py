"""Handing work to an event loop that may have closed (resilience._base.loops)."""

from __future__ import annotations

import asyncio

import pytest

from resilience._base.loops import call_soon_threadsafe_if_open


def test_work_for_an_open_loop_runs_there() -> None:
    loop = asyncio.new_event_loop()
    ran: list[int] = []
    try:
        assert call_soon_threadsafe_if_open(loop, ran.append, 1)
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert ran == [1]


def test_work_for_a_closed_loop_is_dropped() -> None:
    loop = asyncio.new_event_loop()
    loop.close()

    assert not call_soon_threadsafe_if_open(loop, print, "never")


def test_a_loop_closing_between_the_check_and_the_call_drops_the_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    answers = iter([False, True])  # open when checked, closed by the time of the call
    monkeypatch.setattr(loop, "is_closed", lambda: next(answers))

    assert not call_soon_threadsafe_if_open(loop, print, "never")


def test_other_runtime_errors_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.new_event_loop()

    def refuse(*args: object) -> None:
        raise RuntimeError("not about closing")

    monkeypatch.setattr(loop, "call_soon_threadsafe", refuse)
    try:
        with pytest.raises(RuntimeError, match="not about closing"):
            call_soon_threadsafe_if_open(loop, print, "never")
    finally:
        loop.close()
