"""Helpers of the profiling tests: the independent reader (``go tool pprof``)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from resilience.profiling import _calls
from resilience.profiling._shared import close_shared_profiler


def go_pprof(*args: str) -> str:
    """The output of ``go tool pprof ARGS`` (Debian's golang-go; ``make test`` installs it)."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("go tool pprof is missing: install Debian's golang-go (make test does)")
    done = subprocess.run(
        [go, "tool", "pprof", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    """Every test starts and ends with no profiler armed."""
    yield
    close_shared_profiler()
    _calls.disarm()
