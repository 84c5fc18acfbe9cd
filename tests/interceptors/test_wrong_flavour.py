"""An interceptor of the wrong flavour: ``AioServerInterceptor`` on a sync ``grpc.server``
(which, unlike the other three mix-ups, gRPC accepts without a word) fails each call at once
with a log that says what to use, instead of leaving every call without an answer."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest

from resilience.interceptors import AioServerInterceptor
from resilience.testing import EchoServer, echo_call

pytestmark = pytest.mark.e2e  # a real server on 127.0.0.1


def test_an_aio_interceptor_on_a_sync_server_fails_each_call_saying_what_to_use(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong: Any = AioServerInterceptor()  # what the type checker would have refused
    with (
        caplog.at_level(logging.ERROR),
        EchoServer(interceptors=[wrong]) as server,
        grpc.insecure_channel(server.address) as channel,
        pytest.raises(grpc.RpcError) as failed,
    ):
        echo_call(channel, "unary_unary", timeout=5)
    # Before, the sync server's thread died on the coroutine the aio interceptor returned and
    # the call had no answer: DEADLINE_EXCEEDED after its 5 s (and never, without a timeout).
    assert failed.value.code() is grpc.StatusCode.UNKNOWN
    assert "AioServerInterceptor is for grpc.aio servers" in caplog.text
    assert "ServerInterceptor(policy)" in caplog.text
