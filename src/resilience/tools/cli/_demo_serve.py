"""``resilience demo --serve``: both centers, healthy, serving until Ctrl-C or ``--duration``.

For load tests from outside (``resilience loadtest`` against the demo server): it
prints the local gateway's address and a ready-to-paste command with the shipped flow file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TextIO

from resilience.tools.cli._demo_redis import LimitStore
from resilience.tools.cli._demo_services import LOADTEST
from resilience.tools.cli._demo_topology import Centers

FLOW_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_flow.toml")
"""The crafted flow shipped with the package for load-testing the demo's gateway."""


def serve_centers(
    out: TextIO,
    *,
    port: int,
    duration: float | None,
    seed: int,
    observed: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Serve both centers until ``stop`` is set, ``duration`` seconds pass or Ctrl-C; exit code
    0. ``port``: the local gateway's (0: a free one)."""
    stop = stop if stop is not None else threading.Event()
    with (
        LimitStore() as store,
        Centers(
            store=store.url, seed=seed, observers=None if observed else (), local_port=port
        ) as centers,
    ):
        # Ctrl-C (or SIGHUP/SIGTERM, made interrupts by the caller) from the first line on:
        # stop serving and clean up, exit code 0.
        with contextlib.suppress(KeyboardInterrupt):
            target = f"127.0.0.1:{centers.local.port}"
            out.write(
                f"resilience demo --serve: two centers on loopback; gateway limit kept "
                f"{store.description}.\n"
                f"local gateway (shop.Catalog/Browse, /Order): {target}\n"
                f"remote gateway: 127.0.0.1:{centers.remote.port}\n"
                "load-test it (in another terminal):\n"
                f"  resilience loadtest --target {target} --flow {FLOW_FILE} --rate 40 "
                "--duration 10 --plot loadtest.png\n"
                + ("serving until Ctrl-C\n" if duration is None else f"serving {duration:g} s\n")
            )
            out.flush()
            stop.wait(duration)
        served = centers.local_backend.served
        colored = sum(n for (row, _), n in served.items() if row == LOADTEST)
        out.write(
            f"stopped; the local backend served {sum(served.values())} calls, {colored} of "
            f"them colored {LOADTEST!r}\n"
        )
    return 0
