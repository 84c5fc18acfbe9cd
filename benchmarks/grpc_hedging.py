"""The policy's ``hedging`` section on a real gRPC server with a slow tail: p50/p99 latency and
attempts per call, without and with hedging, sync and aio ``protect()``-ed channels.

One server on 127.0.0.1 answers after ``--base`` ms; the first attempt of every 20th call (5%)
takes ``--slow`` ms instead (a slow replica, a GC pause: a second attempt of the same call is
fast), and ends early when the client cancels it. Each variant first makes ``--warmup`` fast
calls (the hedging delay is the p95 of observed latencies, learnt from at least 20 of them),
then ``--calls`` sequential calls, measured. Hedges draw from a budget of 10% of calls (plus
the section's reserve of 10 per 10 s). Writes ``benchmarks/results/grpc_hedging.json``.

Run: ``.venv/bin/python benchmarks/grpc_hedging.py [--calls N]``. Wall-clock latencies: on a
loaded host they carry its noise; the attempts per call do not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from resilience import AioClientInterceptor, ClientInterceptor, Policy

METHOD = "/bench.Echo/Read"


class Tail:
    """The server's handler: ``base`` seconds per answer, ``slow`` for the first attempt of
    every 20th call; counts attempts per payload."""

    def __init__(self, base: float, slow: float) -> None:
        self.base, self.slow = base, slow
        self.seen: Counter[bytes] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self.lock:
            self.seen[request] += 1
            first = self.seen[request] == 1
        index = request.split(b"-")[1] if request.startswith(b"call-") else b"1"
        slow = first and int(index) % 20 == 0
        gone = threading.Event()
        context.add_callback(gone.set)
        gone.wait(self.slow if slow else self.base)  # a cancelled attempt ends at once
        return request

    def attempts(self, tag: bytes) -> int:
        """Attempts the server saw of the measured calls tagged ``tag``."""
        with self.lock:
            return sum(
                n for key, n in self.seen.items() if key.startswith(b"call-") and key.endswith(tag)
            )


def serve(tail: Tail) -> tuple[grpc.Server, str]:
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Read": grpc.unary_unary_rpc_method_handler(tail)}
    )
    server = grpc.server(ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


def policy(hedging: bool) -> Policy:
    section: dict[str, Any] = {"read": True, "breaker": False}
    if hedging:
        section["hedging"] = {"percentile": 95, "budget": 0.1}
    return Policy.from_dict({"methods": {METHOD: section}})


def summary(latencies: list[float], attempts: int) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1e3, 2),
        "p99_ms": round(p99 * 1e3, 2),
        "attempts_per_call": round(attempts / len(ordered), 4),
    }


def run_sync(address: str, hedging: bool, args: argparse.Namespace, tag: str) -> Any:
    channel = ClientInterceptor(policy(hedging), observers=()).protect(
        grpc.insecure_channel(address)
    )
    unary: Callable[..., Any] = channel.unary_unary(METHOD)
    for i in range(args.warmup):
        unary(f"warm-{tag}-{i}".encode(), timeout=10)
    latencies = []
    for i in range(args.calls):
        started = time.perf_counter()
        unary(f"call-{i}".encode() + tag.encode(), timeout=10)
        latencies.append(time.perf_counter() - started)
    channel.close()
    return latencies


async def run_aio(address: str, hedging: bool, args: argparse.Namespace, tag: str) -> Any:
    interceptor = AioClientInterceptor(policy(hedging), observers=())
    async with interceptor.protect(grpc.aio.insecure_channel(address)) as channel:
        unary: Any = channel.unary_unary(METHOD)
        for i in range(args.warmup):
            await unary(f"warm-{tag}-{i}".encode(), timeout=10)
        latencies = []
        for i in range(args.calls):
            started = time.perf_counter()
            await unary(f"call-{i}".encode() + tag.encode(), timeout=10)
            latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="calls measured per variant")
    parser.add_argument("--warmup", type=int, default=40, help="fast calls before measuring")
    parser.add_argument("--base", type=float, default=2.0, help="ms per ordinary answer")
    parser.add_argument("--slow", type=float, default=200.0, help="ms of a slow first attempt")
    args = parser.parse_args()
    if not 20 <= args.calls <= 5000 or not 20 <= args.warmup <= 1000:
        parser.error("--calls must be 20..5000 and --warmup 20..1000 (a bounded run)")
    tail = Tail(args.base / 1e3, args.slow / 1e3)
    server, address = serve(tail)
    rows: dict[str, dict[str, float]] = {}
    try:
        for flavour in ("sync", "aio"):
            for hedging in (False, True):
                name = f"{flavour}, {'hedging p95, budget 0.1' if hedging else 'no hedging'}"
                tag = f"-{flavour}-{int(hedging)}"
                if flavour == "sync":
                    latencies = run_sync(address, hedging, args, tag)
                else:
                    latencies = asyncio.run(run_aio(address, hedging, args, tag))
                rows[name] = summary(latencies, tail.attempts(tag.encode()))
                print(f"{name:40} {rows[name]}")
    finally:
        server.stop(None)
    meta = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "grpc": grpc.__version__,
        "calls": args.calls,
        "warmup": args.warmup,
        "base_ms": args.base,
        "slow_ms": args.slow,
        "slow_share": 0.05,
    }
    out = Path(__file__).parent / "results" / "grpc_hedging.json"
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
