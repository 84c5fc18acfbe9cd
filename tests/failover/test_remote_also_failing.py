"""Local and remote both failing: failovers shrink to the window, which halves each bad period,
and attempts stay <= 1.1x the traffic; each call makes at most one extra attempt."""

from __future__ import annotations

import pytest

from resilience.testing import ManualClock

from .conftest import READS, Centers, ClientFactory

TRAFFIC = 200
WANTED = TRAFFIC // 20


@pytest.mark.parametrize("shape", ["unary", "server_stream"])
def test_failovers_halve_per_bad_period_and_amplification_stays_low(
    centers: Centers, make_client: ClientFactory, shape: str
) -> None:
    centers.local.fail_every = 20
    clock = ManualClock()
    client = make_client(centers.local_address, centers.remote_address, policy=READS, clock=clock)
    call = client.read if shape == "unary" else client.read_stream

    calls = 0

    def period() -> tuple[int, int]:
        """Run one period; return (window at its start, failovers admitted in it)."""
        nonlocal calls
        calls += TRAFFIC
        window, admitted = client.channel.window.window, client.channel.stats().admitted
        for index in range(TRAFFIC):
            call(b"%d" % index)
        clock.advance(1.0)
        return window, client.channel.stats().admitted - admitted

    while period()[0] < WANTED:  # healthy remote: ramp up
        pass
    centers.remote.fail_every = 1  # the remote center now fails everything
    bad = [period() for _ in range(5)]
    windows = [window for window, _ in bad]
    assert [admitted for _, admitted in bad] == [min(WANTED, w) for w in windows]
    assert windows[1:] == [max(1, w // 2) for w in windows[:-1]]
    assert windows[-1] == 1

    attempts = len(centers.local.received) + len(centers.remote.received)
    assert attempts <= 1.1 * calls
    # at most one extra attempt per call: remote attempts never exceed local failures
    assert len(centers.remote.received) <= len(centers.local.received) // 20
