"""A real redis-server for the backends tests: one per session on a free loopback port.

Started from Debian's ``redis-server`` with ``--save '' --appendonly no`` (nothing on disk);
outage tests stop it (SIGKILL) and start it again on the same port through :class:`RedisServer`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from interceptors.conftest import harness  # noqa: F401 (echo servers and clients, sync and aio)
from ports import free_port

from ._servers import REDIS_CLI, REDIS_SERVER, RedisClusterServers, RedisTlsServer

__all__ = ["REDIS_SERVER", "RedisServer", "free_port", "running_redis"]


class RedisServer:
    """One redis-server process on ``port`` (loopback only, no persistence)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 5.0) -> None:
        """Start the server and wait until it answers PING."""
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--enable-debug-command", "local"]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self._process.poll() is not None:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The running server process (for :func:`_servers.frozen`)."""
        assert self._process is not None, "the redis-server is not running"
        return self._process

    def kill(self) -> None:
        """Stop the server at once (SIGKILL), as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
            self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self) -> redis.Redis:
        """A fresh blocking client with generous timeouts (for test setup and inspection)."""
        return redis.Redis(port=self.port, socket_timeout=2.0)


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A redis-server of its own on a free port for the block, killed at its end; skips the
    test when redis-server is not installed."""
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's redis-server; restarted by whoever killed it."""
    with running_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of a running session server (restarted if an earlier test left it down)."""
    if not redis_server.running:
        redis_server.start()
    return redis_server.url


@pytest.fixture
def patient_redis_url(redis_url: str) -> str:
    """``redis_url`` with 2 s timeouts, for tests that count through the store: on a loaded
    host the default 50 ms may expire, and the limiter would rightly fall back to local
    counting, which is not what those tests are about."""
    return f"{redis_url}?socket_timeout=2&socket_connect_timeout=2"


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests sharing the server never share counts."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A 3-master Redis Cluster for the session (see tests/backends/_servers.py)."""
    if not (os.path.exists(REDIS_SERVER) and os.path.exists(REDIS_CLI)):
        pytest.skip("redis-server and redis-cli are not installed (Debian: redis-server)")
    cluster = RedisClusterServers(tmp_path_factory.mktemp("cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisTlsServer]:
    """A TLS-only redis-server for the session, its certificate signed by a test CA."""
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    pytest.importorskip("trustme", reason="trustme (the dev extra) makes the test CA")
    server = RedisTlsServer(tmp_path_factory.mktemp("tls"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """The URL of a TCP server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:  # timed out (or closed): look at stop again
                continue

    thread = threading.Thread(target=accept, name="silent-redis", daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for connection in held:
            connection.close()
