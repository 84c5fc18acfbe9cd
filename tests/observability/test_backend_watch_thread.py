"""The backend watch's thread: it runs while an observer waits for its backend, wakes it when
the backend appears, then ends; a forked child gets its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

WAKE_AND_END = """
import threading, time
from resilience._base import backend_watch, interest_watch

class Gated:
    opened = False
    def backend_ready(self):
        return self.opened

class Holder:
    def __init__(self):
        self.told = []
    def reread_interest(self, observer):
        self.told.append(observer)

def watching():
    return [t for t in threading.enumerate() if t.name == "resilience-backend-watch"]

gated, holder = Gated(), Holder()
interest_watch.watch(holder)
backend_watch.wait_for_backend(gated)
print("waiting", len(watching()))
gated.opened = True
give_up = time.monotonic() + backend_watch.RECHECK * 5
while (not holder.told or watching()) and time.monotonic() < give_up:
    time.sleep(0.02)
print("told", holder.told == [gated], "left", len(watching()))
"""


@pytest.mark.timeout(60)
def test_the_watch_wakes_a_waiting_observer_within_its_period_then_ends() -> None:
    """In a process of its own: the test process has observers that wait for ever."""
    done = subprocess.run(
        [sys.executable, "-c", WAKE_AND_END],
        capture_output=True,
        timeout=50,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["waiting", "1", "told", "True", "left", "0"]


FORK_CHILD = """
import os, threading
from resilience._base import backend_watch

class Waiting:
    def backend_ready(self):
        return False

observer = Waiting()
backend_watch.wait_for_backend(observer)
pid = os.fork()
if pid == 0:
    names = [t.name for t in threading.enumerate()]
    print("child", names.count("resilience-backend-watch"), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
@pytest.mark.timeout(60)
def test_a_forked_child_watches_for_the_observers_still_waiting() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORK_CHILD], capture_output=True, timeout=50, check=False, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["child", "1"]
