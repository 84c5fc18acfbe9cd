"""The demo's shared-limit store: a private redis-server on loopback when one is installed.

The gateway's tiered limit lives in Redis when ``redis-server`` is on PATH and the Python
package ``redis`` (the ``redis`` extra) is installed, so both instances of a real deployment
would share it; else in process memory, and the description says why. The demo's server never
touches disk (``--save '' --appendonly no``) and is stopped when the demo ends.

The store URL allows each Redis command :data:`SOCKET_TIMEOUT` seconds, more than the
library's default: the demo's limit syncs in periodic mode on a background thread, so a slow
answer delays no call, while on a loaded host (the demo shares the CPU with its own servers
and callers) a bound of a few milliseconds sent the limit into local fallback every few
seconds, each time with a warning.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from types import TracebackType

from resilience._base.optional import require
from resilience.errors import MissingExtraError

SOCKET_TIMEOUT = 0.5
"""Seconds each command to the demo's Redis may take before the limit falls back to local."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LimitStore:
    """Where the gateway's limit lives: ``url`` is a ``redis://`` URL or ``"memory"``;
    ``kind`` says which in a word (``Redis`` or ``memory``), ``description`` in a sentence.
    A context manager: leaving it stops the redis-server it started."""

    def __init__(self, *, use_redis: bool = True) -> None:
        self.url = "memory"
        self.kind = "memory"
        self.description = "in process memory (no redis-server on PATH)"
        self._process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server") if use_redis else None
        if binary is None:
            return
        try:
            require("redis", "redis")
        except MissingExtraError:
            self.description = (
                "in process memory (redis-server is installed but the Python package redis "
                "is not: pip install 'grpc-resilience[redis]' to share it through Redis)"
            )
            return
        self._start(binary)

    def _start(self, binary: str) -> None:
        port = free_port()
        command = [binary, "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _answers(port, process, timeout=5.0):
            _stop(process)
            self.description = "in process memory (redis-server did not start)"
            return
        self._process = process
        address = f"redis://127.0.0.1:{port}/0"
        self.url = f"{address}?socket_timeout={SOCKET_TIMEOUT:g}"
        self.kind = "Redis"
        self.description = f"in Redis ({address}, a private server stopped at the end)"

    @property
    def is_redis(self) -> bool:
        return self._process is not None

    def close(self) -> None:
        """Stop the redis-server this store started (idempotent)."""
        if self._process is not None:
            _stop(self._process)
            self._process = None

    def __enter__(self) -> LimitStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.close()


def _answers(port: int, process: subprocess.Popen[bytes], *, timeout: float) -> bool:
    """Whether the server on ``port`` answers PING within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.02)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
