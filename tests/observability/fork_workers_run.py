"""Run in a subprocess by test_fork_workers.py: gRPC's multiprocessing server pattern.

The parent builds the protected server's interceptor (default observers: they wait for their
backends, so the backend watch thread runs in the parent), then forks ``WORKERS`` workers
before any server exists. Each worker installs a meter provider after the fork, builds its
server (``grpc.so_reuseport``, one port for all), protects it and serves; the parent, once
every worker is ready, makes ``CALLS`` calls over fresh channels (one connection each, so the
kernel spreads them), then asks each worker what it served and what its metrics recorded.
Prints ``calls served_total workers_that_served recorded_total`` and exits 1 on a worker's
mismatch. argv: the tests directory, then ``sync`` or ``aio``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import grpc
import grpc.aio

from resilience.interceptors import AioServerInterceptor, ServerInterceptor

sys.path.insert(0, sys.argv[1])
from ports import free_port

WORKERS = 2
CALLS = 40
WAKE = 2.5  # seconds for the backend watch (it looks every second) to wake the observers
METHOD = "/fork.Echo/Pid"
MODE = sys.argv[2]
PORT = free_port()
interceptor: Any = AioServerInterceptor() if MODE == "aio" else ServerInterceptor()


def recorded(reader: Any) -> int:
    data = reader.get_metrics_data()
    total = 0
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "rpc.server.call.duration":
                    total += sum(point.count for point in metric.data.data_points)
    return total


def set_up_metrics() -> Any:
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader


def handlers(served: list[int]) -> grpc.GenericRpcHandler:
    """The service answering its worker's pid (a coroutine on aio: a plain function there is
    run by gRPC's migration thread pool, unprotected, as docs/interceptors.md says)."""

    def pid(request: bytes, context: Any) -> bytes:
        served.append(1)
        return str(os.getpid()).encode()

    async def aio_pid(request: bytes, context: Any) -> bytes:
        return pid(request, context)

    handler: Any = grpc.unary_unary_rpc_method_handler(aio_pid if MODE == "aio" else pid)
    return grpc.method_handlers_generic_handler("fork.Echo", {"Pid": handler})


OPTIONS = [("grpc.so_reuseport", 1)]


def sync_worker(conn: Connection) -> None:
    reader = set_up_metrics()
    served: list[int] = []
    server = interceptor.protect(grpc.server(ThreadPoolExecutor(max_workers=4), options=OPTIONS))
    server.add_generic_rpc_handlers((handlers(served),))
    server.add_insecure_port(f"127.0.0.1:{PORT}")
    server.start()
    time.sleep(WAKE)
    conn.send("ready")
    conn.recv()
    conn.send((len(served), recorded(reader)))
    server.stop(None)


def aio_worker(conn: Connection) -> None:
    async def serve() -> None:
        reader = set_up_metrics()
        served: list[int] = []
        server = interceptor.protect(grpc.aio.server(options=OPTIONS))
        server.add_generic_rpc_handlers((handlers(served),))
        server.add_insecure_port(f"127.0.0.1:{PORT}")
        await server.start()
        await asyncio.sleep(WAKE)
        conn.send("ready")
        while not conn.poll():
            await asyncio.sleep(0.01)
        conn.recv()
        conn.send((len(served), recorded(reader)))
        await server.stop(None)

    asyncio.run(serve())


def main() -> None:
    context = multiprocessing.get_context("fork")
    target = aio_worker if MODE == "aio" else sync_worker
    pipes, workers = [], []
    for _ in range(WORKERS):
        mine, theirs = context.Pipe()
        worker = context.Process(target=target, args=(theirs,), daemon=True)
        worker.start()
        pipes.append(mine)
        workers.append(worker)
    try:
        for pipe in pipes:
            if not pipe.poll(30) or pipe.recv() != "ready":
                raise SystemExit("a worker did not start")
        pids: set[bytes] = set()
        for _ in range(CALLS):
            with grpc.insecure_channel(f"127.0.0.1:{PORT}") as channel:
                pid: Any = channel.unary_unary(METHOD)
                pids.add(pid(b"", timeout=10))
        reports = []
        for pipe in pipes:
            pipe.send("report")
            if not pipe.poll(30):
                raise SystemExit("a worker did not report")
            reports.append(pipe.recv())
    finally:
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
    served = sum(count for count, _ in reports)
    mismatched = [report for report in reports if report[0] != report[1]]
    print(CALLS, served, len(pids), sum(done for _, done in reports), flush=True)
    if mismatched:
        raise SystemExit(f"workers whose metrics missed calls (served, recorded): {mismatched}")


if __name__ == "__main__":
    main()
