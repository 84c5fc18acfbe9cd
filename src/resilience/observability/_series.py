"""One bounded (side, method, color) series of the call metrics, and which status codes are
errors on which side (the ``error.type`` rule of the RPC conventions)."""

from __future__ import annotations

import itertools

import grpc

from resilience.observability._bounds import RPC_SYSTEM, RPC_SYSTEM_NAME

SERVER_ERROR_CODES: frozenset[grpc.StatusCode] = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
"""Codes that are the server's errors per the gRPC conventions; on the client every non-OK code
is an error (a RESOURCE_EXHAUSTED rejection is the caller's problem, not the server's fault)."""


def is_error(side: str, code: grpc.StatusCode) -> bool:
    """Whether ``code`` ends a call in error on ``side`` (the ``error.type`` rule)."""
    return code in SERVER_ERROR_CODES if side == "server" else code != grpc.StatusCode.OK


Attributes = dict[str, str]


class Series:
    """The calls of one bounded (side, method, color): how many started and ended, and the
    attribute dicts its metrics carry, built once and reused.

    The counts are ``itertools.count`` objects: taking the next value is one atomic step under
    the GIL, so a call start or end needs no lock. The collector reads both the same way, which
    advances each by one, so their difference (the calls in flight) is unchanged by reading."""

    __slots__ = ("base", "by_code", "ended", "started")

    def __init__(self, method: str, color: str) -> None:
        self.base: Attributes = {
            RPC_SYSTEM_NAME: RPC_SYSTEM,
            "rpc.method": method,
            "resilience.color": color,
        }
        self.by_code: dict[grpc.StatusCode, Attributes] = {}
        self.started = itertools.count()
        self.ended = itertools.count()

    def in_flight(self) -> int:
        """Calls started and not ended. The end count is read first: a call that ends while
        this reads was started before it, so the result is never below zero."""
        ended = next(self.ended)
        return next(self.started) - ended

    def ended_attributes(self, side: str, code: grpc.StatusCode) -> Attributes:
        """The attributes of a call on ``side`` that ended with ``code`` (kept per code)."""
        attributes = {**self.base, "rpc.response.status_code": code.name}
        if is_error(side, code):
            attributes["error.type"] = code.name
        self.by_code[code] = attributes
        return attributes
