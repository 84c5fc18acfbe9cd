"""A policy file rewritten while streams are open (the watcher's reload, sync and aio, both
sides protected): each stream that started under the old policy ends once, is counted once by
the observers, and frees its place in the old bulkhead; calls after the reload use the new
one."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience import Policy, PolicyWatcher
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.testing import ECHO_METHODS, AioEchoServer, EchoServer

from .harness import Recorder

pytestmark = pytest.mark.e2e

BIDI, UNARY = ECHO_METHODS["stream_stream"], ECHO_METHODS["unary_unary"]


def write_policy(path: Path, places: int) -> None:
    path.write_text(
        '[methods."/resilience.testing.Echo/*"]\n'
        f'bulkhead = {{ max_concurrent = {places}, side = "both" }}\n'
        "rate_limit = { limit = 1000 }\n"
    )


def bulkhead(interceptor: Any) -> Any:
    return interceptor._pipeline.registry.state(BIDI).bulkhead


def both(server: Any, client: Any) -> Any:
    """The watcher's callback: the new policy to the server's and the client's interceptor."""

    def on_change(policy: Policy) -> None:
        server.update_policy(policy)
        client.update_policy(policy)

    return on_change


def reload(watcher: PolicyWatcher, path: Path) -> None:
    write_policy(path, 2)
    assert watcher.check() is not None  # the new content was loaded and handed on


def test_sync_stream_open_across_a_reload_ends_once(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    write_policy(path, 1)
    server_seen, client_seen = Recorder(), Recorder()
    server = ServerInterceptor(Policy.from_file(path), observers=[server_seen])
    client = ClientInterceptor(Policy.from_file(path), observers=[client_seen])
    watcher = PolicyWatcher(path, both(server, client))
    with EchoServer(protection=server) as echo:
        channel: Any = client.protect(grpc.insecure_channel(echo.address))
        sent: queue.Queue[bytes | None] = queue.Queue()

        def requests() -> Iterator[bytes]:
            while (message := sent.get(timeout=10)) is not None:
                yield message

        stream = channel.stream_stream(BIDI)(requests(), timeout=10)
        sent.put(b"before")
        assert next(stream) == b"before"
        old = bulkhead(server), bulkhead(client)
        assert [b.active for b in old] == [1, 1]
        reload(watcher, path)
        assert channel.unary_unary(UNARY)(b"during", timeout=10) == b"during"  # new bulkhead
        sent.put(b"after")
        assert next(stream) == b"after"
        sent.put(None)
        assert list(stream) == []
        channel.close()
    assert [b.active for b in old] == [0, 0]
    for seen in (server_seen, client_seen):
        ended = [info.method for info, _ in seen.wait_ended(2)]
        assert sorted(ended) == sorted([BIDI, UNARY])
        assert seen.codes() == [grpc.StatusCode.OK] * 2
    server.close()


def test_aio_stream_open_across_a_reload_ends_once(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    write_policy(path, 1)
    server_seen, client_seen = Recorder(), Recorder()
    server = AioServerInterceptor(Policy.from_file(path), observers=[server_seen])
    client = AioClientInterceptor(Policy.from_file(path), observers=[client_seen])
    watcher = PolicyWatcher(path, both(server, client))
    old: list[Any] = []

    async def scenario() -> None:
        async with AioEchoServer(protection=server) as echo:
            channel: Any = client.protect(grpc.aio.insecure_channel(echo.address))
            stream: Any = channel.stream_stream(BIDI)(timeout=10)
            await stream.write(b"before")
            assert await stream.read() == b"before"
            old.extend([bulkhead(server), bulkhead(client)])
            assert [b.active for b in old] == [1, 1]
            reload(watcher, path)
            assert await channel.unary_unary(UNARY)(b"during", timeout=10) == b"during"
            await stream.write(b"after")
            assert await stream.read() == b"after"
            await stream.done_writing()
            assert await stream.read() is grpc.aio.EOF
            assert await stream.code() is grpc.StatusCode.OK
            await channel.close()

    asyncio.run(scenario())
    assert [b.active for b in old] == [0, 0]
    for seen in (server_seen, client_seen):
        ended = [info.method for info, _ in seen.wait_ended(2)]
        assert sorted(ended) == sorted([BIDI, UNARY])
        assert seen.codes() == [grpc.StatusCode.OK] * 2
    server.close()
