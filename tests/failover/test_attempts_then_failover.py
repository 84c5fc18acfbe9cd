"""In-center retries and hedges compose with cross-center failover: the local center's attempts
(retries, hedges) stay in the local center, within their budget, and the failover decision sees
only the call's final outcome, so the remote center gets one attempt per call, not one per
local attempt. Both installation forms of the local channel's interceptor."""

from __future__ import annotations

from typing import Any

import pytest

from resilience.algorithms import AdaptiveRetryWindow
from resilience.policy import Policy
from resilience.testing import ManualClock

from .conftest import OK, Centers, ClientFactory

pytestmark = pytest.mark.e2e

READS = {"/test.Center/*": {"read": True}, "/test.Center/Write": {"read": False}}


def local(**section: Any) -> Policy:
    """The local channel's policy: the reads with ``section``."""
    return Policy.from_dict({"methods": {**READS, "/test.Center/*": {"read": True, **section}}})


@pytest.mark.parametrize("protected", [False, True])
def test_retries_stay_local_and_the_failover_sees_the_last(
    centers: Centers, make_client: ClientFactory, protected: bool
) -> None:
    centers.local.fail_every = 1  # the local center refuses everything (UNAVAILABLE)
    retry = {"retry": {"max_attempts": 3, "base_delay": 0.001, "max_delay": 0.002}}
    client = make_client(
        centers.local_address,
        centers.remote_address,
        policy=Policy.from_dict({"methods": READS}),
        local_policy=local(**retry),
        protected=protected,
        window=AdaptiveRetryWindow(initial=1000, clock=ManualClock()),
    )
    outcomes = [client.read(b"%d" % index, timeout=30) for index in range(4)]
    assert [outcome.code for outcome in outcomes] == [OK] * 4
    assert len(centers.local.received) == 4 * 3  # every attempt, each in the local center
    assert len(centers.remote.received) == 4  # one failover per call


@pytest.mark.parametrize("protected", [False, True])
def test_a_hedged_read_that_fails_locally_fails_over_once(
    centers: Centers, make_client: ClientFactory, protected: bool
) -> None:
    centers.local.fail_every = 1
    # Delay far off: each UNAVAILABLE (non-fatal) sends the next hedge at once, up to 3.
    hedging = {"hedging": {"max_attempts": 3, "delay": "10m"}}
    client = make_client(
        centers.local_address,
        centers.remote_address,
        policy=Policy.from_dict({"methods": READS}),
        local_policy=local(**hedging),
        protected=protected,
        window=AdaptiveRetryWindow(initial=1000, clock=ManualClock()),
    )
    outcomes = [client.read(b"%d" % index, timeout=30) for index in range(4)]
    assert [outcome.code for outcome in outcomes] == [OK] * 4
    assert len(centers.local.received) == 4 * 3
    assert len(centers.remote.received) == 4
