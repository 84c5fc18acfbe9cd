"""The local center's process is killed mid-run: reads keep succeeding within the window's
capacity (each period, exactly as many as the window admits), and the remote center receives
no more than that."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from resilience.algorithms import AdaptiveRetryWindow
from resilience.testing import ManualClock

from .conftest import OK, READS, Centers, ClientFactory

TRAFFIC = 50


@pytest.fixture
def local_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A local center in a process of its own, killed (if still alive) after the test."""
    script = Path(__file__).with_name("centers.py")
    process = subprocess.Popen(
        [sys.executable, str(script), "local"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield process, f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


def test_reads_keep_succeeding_within_the_window(
    centers: Centers,
    make_client: ClientFactory,
    local_process: tuple[subprocess.Popen[str], str],
) -> None:
    process, address = local_process
    clock = ManualClock()
    window = AdaptiveRetryWindow(growth_ratio=0.1, clock=clock)
    client = make_client(address, centers.remote_address, policy=READS, window=window)
    for index in range(TRAFFIC):  # healthy: nothing to fail over
        assert client.read(b"%d" % index, timeout=5).code == OK
    clock.advance(1.0)

    process.kill()
    process.wait(timeout=10)
    served, capacity = [], []
    for period in range(6):
        capacity.append(window.window)
        outcomes = [client.read(b"%d.%d" % (period, i), timeout=5) for i in range(TRAFFIC)]
        served.append(sum(outcome.code == OK for outcome in outcomes))
        assert {o.code for o in outcomes} <= {OK, grpc.StatusCode.UNAVAILABLE}
        clock.advance(1.0)
    assert served == capacity  # every admitted failover succeeded, no more were sent
    assert capacity == [1, 2, 4, 8, 13, 18]  # doubling, then +10% of 50 a period
    assert len(centers.remote.received) == sum(capacity)
