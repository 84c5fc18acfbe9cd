"""Local fails 5% of reads at a steady rate: once the window has ramped up (as fast as the
recurrence says), end-to-end read success is >= 99.9%.

Measured calls: 5,000 unary reads and 2,000 server-streaming reads per flavour (the streaming
count is scaled down from 5,000 to keep the sync stream run, ~2.5 ms a call here, short).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from resilience.testing import ManualClock
from resilience.tools.simulate import window_recurrence

from .conftest import OK, READS, Centers, Client, ClientFactory, Outcome

TRAFFIC = 200
"""Reads per period; the local center fails every 20th, so 10 failovers are wanted a period."""


def _ramp(client: Client, clock: ManualClock, call: Callable[[bytes], Outcome]) -> list[int]:
    """Run periods until one admits every failover it wants; return the window of each."""
    windows = []
    for _ in range(20):
        windows.append(client.channel.window.window)
        refused = client.channel.stats().refused
        for index in range(TRAFFIC):
            call(b"%d" % index)
        clock.advance(1.0)
        if client.channel.stats().refused == refused:
            return windows
    raise AssertionError(f"the window never ramped up: {windows}")


@pytest.mark.parametrize("shape", ["unary", "server_stream"])
def test_reads_succeed_once_the_window_has_ramped(
    centers: Centers, make_client: ClientFactory, shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    centers.local.fail_every = 20
    clock = ManualClock()
    client = make_client(centers.local_address, centers.remote_address, policy=READS, clock=clock)
    call = client.read if shape == "unary" else client.read_stream
    windows = _ramp(client, clock, call)
    wanted = TRAFFIC // 20
    assert windows == window_recurrence(TRAFFIC, len(windows), wanted=wanted)
    with capsys.disabled():
        print(f"\n[{shape}] window ramped in {len(windows)} periods: f = {windows}")

    measured = 5000 if shape == "unary" else 2000
    succeeded = 0
    for period in range(measured // TRAFFIC):
        for index in range(TRAFFIC):
            succeeded += call(b"m%d.%d" % (period, index)).code == OK
        clock.advance(1.0)
    assert succeeded / measured >= 0.999
    stats = client.channel.stats()
    assert stats.failed == 0
    assert stats.succeeded == len(centers.remote.received)
