"""Metrics and Sentry set up after the protected server and channel were built: the default
observers hear every call once the backend watch sees them (it looks every second)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("late_backends_run.py")
TESTS = Path(__file__).parent.parent


@pytest.mark.e2e
@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["sync", "aio"])
def test_backends_set_up_after_building_get_every_later_call(mode: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(TESTS), mode],
        capture_output=True,
        timeout=50,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # 5 server-stream calls recorded, nothing left in flight, the one crash reported once.
    assert done.stdout.split() == [mode, "5", "0", "1"], done.stdout + done.stderr[-2000:]
