"""The demo keeps the gateways' limit in a private redis-server when one is installed."""

from __future__ import annotations

import shutil
import socket

import pytest

from resilience._cli._demo_redis import LimitStore


def test_without_redis_the_limit_is_kept_in_memory() -> None:
    with LimitStore(use_redis=False) as store:
        assert (store.url, store.kind, store.is_redis) == ("memory", "memory", False)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_a_redis_server_is_started_on_loopback_and_stopped_at_the_end() -> None:
    with LimitStore() as store:
        assert store.kind == "Redis"
        assert store.url.startswith("redis://127.0.0.1:")
        port = int(store.url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            assert connection.recv(16).startswith(b"+PONG")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
