"""Two small "centers" for the failover tests: bytes-in/bytes-out servers on 127.0.0.1.

Each center serves reads of every shape and one write, records what reached its handlers
(method, request, whether the call carried the failover mark, time remaining) and fails on
command: every Nth call, all calls, or a stream after its first message. ``python centers.py
NAME`` runs one in a process of its own (for the kill test) and prints its port.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc

SERVICE = "test.Center"
READ = f"/{SERVICE}/Read"
WRITE = f"/{SERVICE}/Write"
READ_STREAM = f"/{SERVICE}/ReadStream"
UPLOAD = f"/{SERVICE}/Upload"
CHAT = f"/{SERVICE}/Chat"
FAILOVER_MARK = "x-resilience-failover"


@dataclass(frozen=True)
class Received:
    method: str
    request: bytes
    marked: bool
    time_remaining: float | None
    user: str | None = None
    """The call's ``x-user`` header, if it had one (what a caller's own metadata looks like)."""


@dataclass
class Behavior:
    """What a center does; fields are read per call, so a test may change them at any time.

    ``fail_every``: fail the Nth, 2Nth, ... call (1 = every call, 0 = none), with ``fail_code``.
    ``delay``: seconds before answering. ``fail_after_first``: streams fail after one message.
    ``gate``: when set, a call answers only once the test sets the event (or the call ends).
    """

    name: str
    fail_every: int = 0
    fail_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    delay: float = 0.0
    stream_items: int = 3
    fail_after_first: bool = False
    gate: threading.Event | None = None
    calls: int = 0
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def enter(self, method: str, request: bytes, context: grpc.ServicerContext) -> bool:
        """Record the call; return whether it must fail (after the configured delay)."""
        metadata = dict(context.invocation_metadata())
        marked = FAILOVER_MARK in metadata
        user = metadata.get("x-user")
        assert user is None or isinstance(user, str)
        with self._lock:
            self.calls += 1
            number = self.calls
            received = Received(method, request, marked, context.time_remaining(), user)
            self.received.append(received)
        if self.delay:
            end = time.monotonic() + self.delay
            while context.is_active() and time.monotonic() < end:
                time.sleep(0.005)
        gate = self.gate
        while gate is not None and context.is_active() and not gate.wait(0.005):
            pass
        return self.fail_every > 0 and number % self.fail_every == 0

    def of(self, method: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == method]


def _handlers(behavior: Behavior) -> grpc.GenericRpcHandler:
    name = behavior.name.encode()

    def unary(method: str) -> Any:
        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            if behavior.enter(method, request, context):
                context.abort(behavior.fail_code, f"{behavior.name} failed")
            return name + b":" + request

        return grpc.unary_unary_rpc_method_handler(handle)

    def read_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        fail = behavior.enter(READ_STREAM, request, context)
        if fail and not behavior.fail_after_first:
            context.abort(behavior.fail_code, f"{behavior.name} failed")
        for index in range(behavior.stream_items):
            yield name + b":" + request + b":" + str(index).encode()
            if fail:
                context.abort(behavior.fail_code, f"{behavior.name} failed mid-stream")

    def upload(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        joined = b",".join(requests)
        if behavior.enter(UPLOAD, joined, context):
            context.abort(behavior.fail_code, f"{behavior.name} failed")
        return name + b":" + joined

    def chat(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        if behavior.enter(CHAT, b"", context):
            context.abort(behavior.fail_code, f"{behavior.name} failed")
        for request in requests:
            yield name + b":" + request

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Read": unary(READ),
            "Write": unary(WRITE),
            "ReadStream": grpc.unary_stream_rpc_method_handler(read_stream),
            "Upload": grpc.stream_unary_rpc_method_handler(upload),
            "Chat": grpc.stream_stream_rpc_method_handler(chat),
        },
    )


class Center:
    """One center's server on 127.0.0.1 and a free port; ``stop()`` ends it."""

    def __init__(self, behavior: Behavior) -> None:
        self.behavior = behavior
        self.server = grpc.server(ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((_handlers(behavior),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None)


if __name__ == "__main__":
    center = Center(Behavior(sys.argv[1]))
    print(center.port, flush=True)
    center.server.wait_for_termination()
