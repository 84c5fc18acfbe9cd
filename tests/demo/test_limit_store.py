"""The demo keeps the gateways' limit in a private redis-server when one is installed."""

from __future__ import annotations

import shutil
import socket
import sys

import pytest

from resilience.tools.cli._demo_redis import SOCKET_TIMEOUT, LimitStore
from resilience.tools.cli._demo_topology import Centers


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


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_without_the_redis_package_the_demo_falls_back_to_memory_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo extra alone is enough: redis-server on PATH, the redis package missing."""
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis raises ImportError
    with LimitStore() as store:
        assert (store.url, store.kind, store.is_redis) == ("memory", "memory", False)
        assert "the Python package redis is not" in store.description
        assert "grpc-resilience[redis]" in store.description
        with Centers(store=store.url, seed=1) as centers:  # the gateways build their limits
            assert centers.local.port > 0


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_the_demo_store_allows_a_loaded_host_time_to_answer() -> None:
    with LimitStore() as store:
        assert f"socket_timeout={SOCKET_TIMEOUT:g}" in store.url
        assert SOCKET_TIMEOUT >= 0.25
        assert "socket_timeout" not in store.description
