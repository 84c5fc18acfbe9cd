"""The conformance fixtures themselves: a closed address refuses, the loop thread runs."""

from __future__ import annotations

import asyncio
import socket

import pytest

from .support import LoopThread, closed_address, wait_until


def test_closed_address_refuses_connections() -> None:
    host, port = closed_address().rsplit(":", 1)
    with socket.socket() as client, pytest.raises(ConnectionRefusedError):
        client.connect((host, int(port)))


def test_loop_thread_runs_coroutines_and_raises_their_errors(loop_thread: LoopThread) -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fail() -> None:
        raise ValueError("boom")

    assert loop_thread.run(answer()) == 42
    with pytest.raises(ValueError, match="boom"):
        loop_thread.run(fail())


def test_wait_until_reports_the_condition() -> None:
    assert wait_until(lambda: True)
    assert not wait_until(lambda: False, timeout=0.05)
