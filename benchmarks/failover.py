"""What a DualCenterChannel costs a healthy call: sequential unary calls, bare vs wrapped.

One echo server on 127.0.0.1 (bytes in and out). Per round, in interleaved order: a bare
channel, a DualCenterChannel on a read method (failover possible, nothing failing), and a
DualCenterChannel on a write (never fails over), sync and aio. Reports median microseconds per
call and the ratio to the bare channel of the same round; writes
``benchmarks/results/failover.json``.

Run: ``.venv/bin/python benchmarks/failover.py [--rounds N] [--calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from resilience.failover import AioDualCenterChannel, DualCenterChannel
from resilience.policy import Policy

READ, WRITE = "/bench.Echo/Read", "/bench.Echo/Write"
POLICY = Policy.from_dict({"methods": {READ: {"read": True}}})


def _server() -> tuple[grpc.Server, str]:
    def reply(request: bytes, context: grpc.ServicerContext) -> bytes:
        return request

    echo: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(reply)
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Read": echo, "Write": echo})
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


def _sync_variants(address: str) -> dict[str, Callable[[int], float]]:
    bare = grpc.insecure_channel(address)
    dual = DualCenterChannel(
        grpc.insecure_channel(address), grpc.insecure_channel(address), policy=POLICY
    )

    def timed(call: Any) -> Callable[[int], float]:
        def run(calls: int) -> float:
            start = time.perf_counter()
            for _ in range(calls):
                call(b"x")
            return (time.perf_counter() - start) / calls * 1e6

        return run

    return {
        "sync bare": timed(bare.unary_unary(READ)),
        "sync dual, read": timed(dual.unary_unary(READ)),
        "sync dual, write": timed(dual.unary_unary(WRITE)),
    }


def _aio_variants(
    address: str, loop: asyncio.AbstractEventLoop
) -> dict[str, Callable[[int], float]]:
    async def channels() -> tuple[grpc.aio.Channel, AioDualCenterChannel]:
        bare = grpc.aio.insecure_channel(address)
        local, remote = grpc.aio.insecure_channel(address), grpc.aio.insecure_channel(address)
        return bare, AioDualCenterChannel(local, remote, policy=POLICY)

    bare, dual = loop.run_until_complete(channels())

    def timed(call: Any) -> Callable[[int], float]:
        async def calls_of(calls: int) -> float:
            start = time.perf_counter()
            for _ in range(calls):
                await call(b"x")
            return (time.perf_counter() - start) / calls * 1e6

        return lambda calls: loop.run_until_complete(calls_of(calls))

    return {
        "aio bare": timed(bare.unary_unary(READ)),
        "aio dual, read": timed(dual.unary_unary(READ)),
        "aio dual, write": timed(dual.unary_unary(WRITE)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    server, address = _server()
    loop = asyncio.new_event_loop()
    variants = {**_sync_variants(address), **_aio_variants(address, loop)}
    for run in variants.values():
        run(200)  # warm up connections and caches
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            samples[name].append(run(args.calls))
    server.stop(None)
    rows = []
    for name, values in samples.items():
        bare = samples[f"{name.split()[0]} bare"]
        ratio = statistics.median(v / b for v, b in zip(values, bare, strict=True))
        rows.append({"variant": name, "median_us": statistics.median(values), "x_bare": ratio})
        print(f"{name:18} {statistics.median(values):8.1f} us   {ratio:5.2f}x bare")
    out = Path(__file__).parent / "results" / "failover.json"
    out.parent.mkdir(exist_ok=True)
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "rounds": args.rounds,
        "calls": args.calls,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
