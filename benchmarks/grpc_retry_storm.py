"""The policy's ``retry`` section against a dependency failing 100%: attempts the server receives
per call offered, with the retry budget alone (breaker off) and with the breaker too.

One server on 127.0.0.1 answers every call UNAVAILABLE. ``--calls`` sequential unary calls of a
read method through a ``protect()``-ed sync channel with ``retry = {max_attempts = 3}`` (backoff
1-2 ms); the budget is 20% of the calls over 10 s plus a reserve of 10. Without a budget the
server would receive 3 attempts per call; with it, at most ``1.2 * calls + 10``. Counts, not
timings: the figures do not depend on the host's load (a run takes a few seconds). Writes
``benchmarks/results/grpc_retry_storm.json``.

Run: ``.venv/bin/python benchmarks/grpc_retry_storm.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc

from resilience import ClientInterceptor, Policy

METHOD = "/bench.Echo/Read"


def serve() -> tuple[grpc.Server, str, list[int]]:
    """A server refusing every call; the list counts the attempts it received."""
    received = [0]
    lock = threading.Lock()

    def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
        with lock:
            received[0] += 1
        context.abort(grpc.StatusCode.UNAVAILABLE, "down")  # raises: the call ends here

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Read": grpc.unary_unary_rpc_method_handler(refuse)}
    )
    server = grpc.server(ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}", received


def storm(address: str, received: list[int], calls: int, breaker: bool, budget: float) -> Any:
    retry = {"max_attempts": 3, "base_delay": 0.001, "max_delay": 0.002, "budget": budget}
    section: dict[str, Any] = {"read": True, "retry": retry, "breaker": breaker}
    policy = Policy.from_dict({"methods": {METHOD: section}})
    channel = ClientInterceptor(policy, observers=()).protect(grpc.insecure_channel(address))
    unary: Any = channel.unary_unary(METHOD)
    before = received[0]
    for i in range(calls):
        with contextlib.suppress(grpc.RpcError):  # every call fails: counted at the server
            unary(b"%d" % i, timeout=10)
    channel.close()
    attempts = received[0] - before
    return {"attempts_received": attempts, "per_call_offered": round(attempts / calls, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls offered per variant")
    args = parser.parse_args()
    if not 100 <= args.calls <= 20000:
        parser.error("--calls must be 100..20000 (a bounded run)")
    server, address, received = serve()
    rows = {}
    try:
        for name, breaker, budget in (
            ("budget 0.2, breaker off", False, 0.2),
            ("budget 0.2, breaker on (defaults)", True, 0.2),
            ("no budget to speak of (ratio 10), breaker off", False, 10.0),
        ):
            rows[name] = storm(address, received, args.calls, breaker, budget)
            print(f"{name:48} {rows[name]}")
    finally:
        server.stop(None)
    meta = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "grpc": grpc.__version__,
        "calls": args.calls,
        "max_attempts": 3,
        "bound_with_budget": round(1.2 * args.calls + 10),
    }
    out = Path(__file__).parent / "results" / "grpc_retry_storm.json"
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
