"""A demo ended by a closed terminal (SIGHUP) or SIGTERM stops its private redis-server, as
Ctrl-C does, instead of leaving it running."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed"),
]


@pytest.mark.parametrize(
    ("argv", "sig", "code"),
    [
        (["--serve", "--duration", "60"], signal.SIGHUP, 0),
        (["--no-live", "--duration", "60", "--plot", ""], signal.SIGTERM, 130),
        (["--no-live", "--duration", "60", "--plot", ""], signal.SIGHUP, 130),
    ],
)
def test_the_private_redis_server_is_stopped(argv: list[str], sig: int, code: int) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "resilience", "demo", *argv], stdout=subprocess.PIPE, text=True
    )
    try:
        assert demo.stdout is not None
        port = None
        for _ in range(20):  # the header names the store's address
            found = re.search(r"redis://127\.0\.0\.1:(\d+)/", demo.stdout.readline())
            if found:
                port = int(found.group(1))
                break
        assert port is not None
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # it is up
        demo.send_signal(sig)
        demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    assert demo.returncode == code
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
