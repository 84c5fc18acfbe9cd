"""Fixtures for the failover tests: a local and a remote center, and sync/aio clients that
drive a dual-center channel through one small interface, so every scenario runs both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

import grpc
import grpc.aio
import pytest

from resilience.failover import AioDualCenterChannel, DualCenterChannel
from resilience.interceptors import AioClientInterceptor, ClientInterceptor
from resilience.policy import Policy

from .centers import CHAT, READ, READ_STREAM, UPLOAD, WRITE, Behavior, Center

READS = Policy.from_dict(
    {"methods": {"/test.Center/*": {"read": True}, "/test.Center/Write": {"read": False}}}
)
"""Every method of the test service is a read except Write."""

OK = grpc.StatusCode.OK


class Outcome(NamedTuple):
    code: grpc.StatusCode
    value: Any  # the response, or the stream messages received before the end


class Client(Protocol):
    channel: Any

    def read(
        self, payload: bytes, *, timeout: float | None = None, metadata: Any = None
    ) -> Outcome: ...
    def write(self, payload: bytes) -> Outcome: ...
    def read_stream(self, payload: bytes, *, timeout: float | None = None) -> Outcome: ...
    def upload(self, payloads: list[bytes]) -> Outcome: ...
    def chat(self, payloads: list[bytes]) -> Outcome: ...
    def close(self) -> None: ...


class SyncClient:
    def __init__(
        self,
        local: str,
        remote: str,
        *,
        local_policy: Policy | None = None,
        protected: bool = False,
        **options: Any,
    ) -> None:
        """``local_policy``: put a ClientInterceptor with that policy on the local channel
        (``protected``: with ``protect()`` instead of ``grpc.intercept_channel``)."""
        local_channel = grpc.insecure_channel(local)
        if local_policy is not None and protected:
            local_channel = ClientInterceptor(local_policy).protect(local_channel)
        elif local_policy is not None:
            local_channel = grpc.intercept_channel(local_channel, ClientInterceptor(local_policy))
        self.channel = DualCenterChannel(local_channel, grpc.insecure_channel(remote), **options)

    def _unary(self, method: str, payload: Any, **kwargs: Any) -> Outcome:
        try:
            return Outcome(OK, self.channel.unary_unary(method)(payload, **kwargs))
        except grpc.RpcError as error:
            return Outcome(error.code(), None)

    def read(
        self, payload: bytes, *, timeout: float | None = None, metadata: Any = None
    ) -> Outcome:
        return self._unary(READ, payload, timeout=timeout, metadata=metadata)

    def write(self, payload: bytes) -> Outcome:
        return self._unary(WRITE, payload)

    def _stream(self, call: Iterator[bytes]) -> Outcome:
        messages: list[bytes] = []
        try:
            for message in call:
                messages.append(message)
        except grpc.RpcError as error:
            return Outcome(error.code(), messages)
        return Outcome(OK, messages)

    def read_stream(self, payload: bytes, *, timeout: float | None = None) -> Outcome:
        return self._stream(self.channel.unary_stream(READ_STREAM)(payload, timeout=timeout))

    def upload(self, payloads: list[bytes]) -> Outcome:
        try:
            return Outcome(OK, self.channel.stream_unary(UPLOAD)(iter(payloads)))
        except grpc.RpcError as error:
            return Outcome(error.code(), None)

    def chat(self, payloads: list[bytes]) -> Outcome:
        return self._stream(self.channel.stream_stream(CHAT)(iter(payloads)))

    def close(self) -> None:
        self.channel.close()


class AioClient:
    """The same interface over AioDualCenterChannel, on an event loop of its own."""

    def __init__(
        self,
        local: str,
        remote: str,
        *,
        local_policy: Policy | None = None,
        protected: bool = False,
        **options: Any,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        interceptor = None if local_policy is None else AioClientInterceptor(local_policy)
        interceptors = [] if interceptor is None or protected else [*interceptor]

        async def open_channel() -> AioDualCenterChannel:
            local_channel = grpc.aio.insecure_channel(local, interceptors=interceptors)
            if interceptor is not None and protected:
                local_channel = interceptor.protect(local_channel)
            return AioDualCenterChannel(local_channel, grpc.aio.insecure_channel(remote), **options)

        self.channel = self._loop.run_until_complete(open_channel())

    async def _unary(self, method: str, payload: Any, **kwargs: Any) -> Outcome:
        try:
            return Outcome(OK, await self.channel.unary_unary(method)(payload, **kwargs))
        except grpc.RpcError as error:
            return Outcome(error.code(), None)

    def read(
        self, payload: bytes, *, timeout: float | None = None, metadata: Any = None
    ) -> Outcome:
        return self._loop.run_until_complete(
            self._unary(READ, payload, timeout=timeout, metadata=metadata)
        )

    def write(self, payload: bytes) -> Outcome:
        return self._loop.run_until_complete(self._unary(WRITE, payload))

    async def _stream(self, shape: str, request: Any, **kwargs: Any) -> Outcome:
        """Call READ_STREAM (``shape`` "unary_stream") or CHAT ("stream_stream") in the loop."""
        messages: list[bytes] = []
        method = READ_STREAM if shape == "unary_stream" else CHAT
        try:
            async for message in getattr(self.channel, shape)(method)(request, **kwargs):
                messages.append(message)
        except grpc.RpcError as error:
            return Outcome(error.code(), messages)
        return Outcome(OK, messages)

    def read_stream(self, payload: bytes, *, timeout: float | None = None) -> Outcome:
        run = self._stream("unary_stream", payload, timeout=timeout)
        return self._loop.run_until_complete(run)

    def upload(self, payloads: list[bytes]) -> Outcome:
        async def run() -> Outcome:
            try:
                return Outcome(OK, await self.channel.stream_unary(UPLOAD)(iter(payloads)))
            except grpc.RpcError as error:
                return Outcome(error.code(), None)

        return self._loop.run_until_complete(run())

    def chat(self, payloads: list[bytes]) -> Outcome:
        return self._loop.run_until_complete(self._stream("stream_stream", iter(payloads)))

    def close(self) -> None:
        self._loop.run_until_complete(self.channel.close())
        self._loop.close()


class Centers(NamedTuple):
    local: Behavior
    remote: Behavior
    local_address: str
    remote_address: str


@pytest.fixture
def centers() -> Iterator[Centers]:
    local, remote = Center(Behavior("local")), Center(Behavior("remote"))
    try:
        yield Centers(local.behavior, remote.behavior, local.address, remote.address)
    finally:
        local.stop()
        remote.stop()


class ClientFactory(Protocol):
    def __call__(self, local: str, remote: str, **options: Any) -> Client: ...


@pytest.fixture(params=["sync", "aio"])
def make_client(request: pytest.FixtureRequest) -> Iterator[ClientFactory]:
    """Builds clients of the parametrized flavour; closes them after the test."""
    made: list[Client] = []
    flavour = SyncClient if request.param == "sync" else AioClient

    def make(local: str, remote: str, **options: Any) -> Client:
        client: Client = flavour(local, remote, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
