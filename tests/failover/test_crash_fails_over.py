"""A read whose local handler crashed (UNKNOWN, gRPC's answer to a handler exception, with or
without the server interceptor) fails over by default, as the docs choose."""

from __future__ import annotations

import grpc

from resilience.testing import ManualClock

from .conftest import OK, READS, Centers, ClientFactory


def test_a_crashed_local_handler_sends_the_read_to_the_remote_center(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every = 1
    centers.local.fail_code = grpc.StatusCode.UNKNOWN
    client = make_client(
        centers.local_address, centers.remote_address, policy=READS, clock=ManualClock()
    )

    outcome = client.read(b"order-17")

    assert outcome.code == OK
    assert client.channel.stats().admitted == 1
    assert [seen.request for seen in centers.remote.received] == [b"order-17"]
