"""The connect timeout a store URL's options give the connections it opens to a real
redis-server: ``?socket_timeout=`` alone bounds the connect too (redis-py's rule for a client it
builds), ``?socket_connect_timeout=`` and an explicit ``connect_timeout`` win over it."""

from __future__ import annotations

from typing import Any

import pytest

from resilience.backends import AioRedisStore, RedisStore


def _connect_timeouts(store: RedisStore | AioRedisStore) -> set[float]:
    """The connect timeout of every connection the store's pool opened."""
    pool: Any = store._client.connection_pool
    return {connection.socket_connect_timeout for connection in pool._available_connections}


@pytest.mark.parametrize(
    ("query", "arguments", "connect"),
    [
        ("socket_timeout=1.5", {}, 1.5),
        ("socket_timeout=1.5&socket_connect_timeout=0.75", {}, 0.75),
        ("socket_timeout=1.5", {"connect_timeout": 0.75}, 0.75),
        ("", {"socket_timeout": 1.25}, 1.25),
    ],
)
def test_the_connect_timeout_follows_the_urls_socket_timeout(
    redis_url: str, query: str, arguments: dict[str, Any], connect: float
) -> None:
    store = RedisStore.from_url(f"{redis_url}?{query}", **arguments)
    try:
        store.ping()
        assert _connect_timeouts(store) == {connect}
    finally:
        store.close()


@pytest.mark.asyncio
async def test_an_aio_store_opens_its_connections_with_the_urls_socket_timeout(
    redis_url: str,
) -> None:
    store = AioRedisStore.from_url(f"{redis_url}?socket_timeout=1.5")
    try:
        await store.ping()
        assert _connect_timeouts(store) == {1.5}
    finally:
        await store.aclose()


def test_a_tls_connect_takes_at_least_its_floor_under_a_short_url_socket_timeout() -> None:
    """No I/O: the connection is built, not opened."""
    store = RedisStore.from_url("rediss://127.0.0.1:1/0?socket_timeout=0.1")
    try:
        connection = store._client.connection_pool.make_connection()
        assert (connection.socket_timeout, connection.socket_connect_timeout) == (0.1, 0.25)
    finally:
        store.close()
