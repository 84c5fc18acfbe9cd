"""Streams fail over only before the first response message; request streams are replayed to
the remote center from a bounded log, and a stream beyond the bounds does not fail over."""

from __future__ import annotations

import grpc

from resilience.algorithms import AdaptiveRetryWindow
from resilience.testing import ManualClock

from .centers import CHAT, READ_STREAM, UPLOAD
from .conftest import OK, READS, Centers, Client, ClientFactory


def _client(centers: Centers, make_client: ClientFactory, **options: object) -> Client:
    window = AdaptiveRetryWindow(initial=100, clock=ManualClock())
    return make_client(
        centers.local_address, centers.remote_address, policy=READS, window=window, **options
    )


def test_an_error_before_the_first_message_fails_over(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every = 1
    outcome = _client(centers, make_client).read_stream(b"s")
    assert outcome == (OK, [b"remote:s:0", b"remote:s:1", b"remote:s:2"])
    assert [(r.method, r.marked) for r in centers.remote.received] == [(READ_STREAM, True)]


def test_an_error_after_the_first_message_is_returned_as_is(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every, centers.local.fail_after_first = 1, True
    client = _client(centers, make_client)
    outcome = client.read_stream(b"s")
    assert outcome == (grpc.StatusCode.UNAVAILABLE, [b"local:s:0"])
    assert centers.remote.received == []
    assert client.channel.stats().attempted == 0


def test_client_and_bidi_streams_replay_their_requests(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every = 1
    client = _client(centers, make_client)
    assert client.upload([b"a", b"b", b"c"]) == (OK, b"remote:a,b,c")
    assert client.chat([b"x", b"y"]) == (OK, [b"remote:x", b"remote:y"])
    assert [r.method for r in centers.remote.received] == [UPLOAD, CHAT]


def test_a_request_stream_beyond_the_bounds_does_not_fail_over(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every = 1
    by_count = _client(centers, make_client, max_replay_messages=2)
    assert by_count.upload([b"a", b"b", b"c"]).code == grpc.StatusCode.UNAVAILABLE
    assert by_count.upload([b"a", b"b"]).code == OK
    by_size = _client(centers, make_client, max_replay_bytes=5)
    assert by_size.upload([b"aaa", b"bbb"]).code == grpc.StatusCode.UNAVAILABLE
    assert by_count.channel.stats().unreplayable == 1
    assert by_size.channel.stats().unreplayable == 1
    assert [r.request for r in centers.remote.received] == [b"a,b"]
