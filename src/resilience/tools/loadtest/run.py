"""One entry point over both engines, used by ``resilience loadtest`` and ``resilience chaos``."""

from __future__ import annotations

import asyncio
from typing import Literal

from resilience.tools.loadtest._core import LoadSettings
from resilience.tools.loadtest.aio_engine import Tick, aio_run_calls
from resilience.tools.loadtest.engine import run_calls
from resilience.tools.loadtest.flow import CallSource
from resilience.tools.loadtest.report import Results

Engine = Literal["sync", "aio"]


def run_load(
    target: str,
    source: CallSource,
    settings: LoadSettings,
    *,
    engine: Engine = "sync",
    results: Results | None = None,
    on_tick: Tick | None = None,
) -> Results:
    """Run the load on the chosen engine (``"aio"`` starts its own event loop) and return the
    results; after a KeyboardInterrupt ``results`` (when passed) holds what completed."""
    results = results if results is not None else Results()
    if engine == "aio":
        return asyncio.run(
            aio_run_calls(target, source, settings, results=results, on_tick=on_tick)
        )
    if engine == "sync":
        return run_calls(target, source, settings, results=results, on_tick=on_tick)
    raise ValueError(f"engine: must be 'sync' or 'aio', got {engine!r}")
