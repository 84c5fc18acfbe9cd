"""The demo's two data centers on loopback, started and stopped together.

    LOCAL center                              REMOTE center
    client -> gateway -> backend              client -> gateway -> backend
                  \\______ failed reads ______________________/^

Each gateway calls its own center's backend and fails reads over to the other center's
backend; both gateways keep their tiered limit in the same store (Redis or memory).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from resilience.tools.cli._demo_services import Backend, Gateway


class Centers:
    """Both centers, serving once :meth:`start` returns; :meth:`stop` (or leaving the ``with``
    block) stops every server and closes every channel. ``observers`` None: the interceptors'
    default observers (metrics); ``()``: none. ``local_port``: the local gateway's port
    (0: a free one)."""

    def __init__(
        self,
        *,
        store: str,
        seed: int,
        observers: Sequence[Any] | None = (),
        local_port: int = 0,
    ) -> None:
        self.local_backend = Backend("local", random.Random(seed), observers)
        self.remote_backend = Backend("remote", random.Random(seed + 1), observers)
        self.local = Gateway(
            "local",
            local_port=self.local_backend.port,
            remote_port=self.remote_backend.port,
            store=store,
            observers=observers,
            port=local_port,
        )
        self.remote = Gateway(
            "remote",
            local_port=self.remote_backend.port,
            remote_port=self.local_backend.port,
            store=store,
            observers=observers,
        )

    def start(self) -> Centers:
        for server in self._servers():
            server.start()
        return self

    def stop(self) -> None:
        for gateway in (self.local, self.remote):
            gateway.close()
        for server in self._servers():
            server.stop(None)

    def _servers(self) -> list[Any]:
        return [
            self.local_backend.server,
            self.remote_backend.server,
            self.local.server,
            self.remote.server,
        ]

    def __enter__(self) -> Centers:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.stop()
