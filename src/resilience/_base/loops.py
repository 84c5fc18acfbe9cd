"""Handing work to an asyncio event loop from any thread, when that loop may have closed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def call_soon_threadsafe_if_open(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any
) -> bool:
    """Schedule ``callback(*args)`` on ``loop`` from any thread, as
    :meth:`asyncio.AbstractEventLoop.call_soon_threadsafe` does; return False, and do nothing,
    when the loop is closed, also when it closes between the check and the call (the
    ``RuntimeError`` asyncio raises then). What was meant for a closed loop cannot run any
    more: a server or caller that lived on it is gone, so there is nothing left to tell."""
    if loop.is_closed():
        return False
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # closed meanwhile, by the thread that runs it
        if loop.is_closed():
            return False
        raise
    return True


def outside_any_loop() -> bool:
    """Whether the caller runs outside a running event loop. Inside a coroutine that means it
    is being closed by the garbage collector after its loop closed with it pending (asyncio
    reports that as "Task was destroyed but it is pending!"): an error it meets then, such as a
    client library's ``RuntimeError: no running event loop`` while it cleans up, says nothing
    about the service it was talking to."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False
