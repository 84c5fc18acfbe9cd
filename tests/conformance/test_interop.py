"""gRPC's interop behaviours through the library: each case of gRPC's interop test descriptions
(doc/interop-test-descriptions.md in grpc/grpc, cases written for this suite) runs sync and aio
through eight routes and must give what bare gRPC gives:

- ``bare``: a plain channel to a plain server (the reference, checked against the description);
- ``default``: the client and server interceptors with the default policy;
- ``full``: both interceptors with every part of a policy on (breaker, dynamic timeout with
  streams, tiered rate limit, overload guard, retries, hedging of UnaryCall, fault injection
  enabled, traffic recording, trusted peers);
- ``protected_default``, ``protected_full``: the same two policies without interception: the
  client interceptor's protected channel and a server protected at registration (``protect``);
- ``dual_up``: a dual-center channel whose policy marks every method a read, both centers up;
- ``dual_down``: the same with nothing listening at the local center's address;
- ``stack_down``: the whole library: the dual channel over inner channels with the full
  client interceptor, the local center down, the remote one behind the full server interceptor;
- ``protected_stack_down``: the same with protected inner channels and a protected server.

Outcomes that differ from bare gRPC by design are listed in :data:`DOCUMENTED` with the page
that states them (docs/failover.md, docs/interceptors.md). Servers and channels are shared per
module and flavour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from resilience.testing import ManualClock
from timing import TICK, Stopwatch

from . import _interop_service as svc
from ._interop_clients import Outcome
from ._interop_world import World

Driver = Any
Case = Callable[[Driver], Outcome]
OK, CANCELLED = grpc.StatusCode.OK, grpc.StatusCode.CANCELLED

SLEEPING_TIMEOUT = 0.2
"""Seconds: timeout_on_sleeping_server's deadline. With the local center down, the refusal must
come back and the failover start within it; a host that kept this process from running past it
leaves the outcome unjudged (see :func:`test_the_library_gives_what_bare_grpc_gives`)."""
UNSEEN_STALL = TICK
"""Seconds: the longest stall the Stopwatch's ticker can miss (it only sees the stalls that
cover one of its wake-ups, one every TICK). With the local center up, the call waits out its
deadline on the sleeping server like bare gRPC's, and may end no later than bare gRPC's same
call timed in the same test plus this; anything longer must be a stall the ticker saw."""
NON_ASCII = "test status message: ünïcödé ✓ 测试 \t\n%"
REQUEST_SIZES = (27182, 8, 1828, 45904)
RESPONSE_SIZES = (31415, 9, 2653, 58979)
DUPLEX_REQUESTS = [
    svc.encode(request, size=response)
    for request, response in zip(REQUEST_SIZES, RESPONSE_SIZES, strict=True)
]
TOKEN = "conformance-token"
ECHO_METADATA = (
    (svc.ECHO_INITIAL, "test_initial_metadata_value"),
    (svc.ECHO_TRAILING, b"\xab\xab\xab"),
)


def _status(code: str, message: str, **params: Any) -> bytes:
    return svc.encode(status=[code, message], **params)


CASES: dict[str, Case] = {
    "empty_unary": lambda d: d.unary(svc.EMPTY, b""),
    "large_unary": lambda d: d.unary(svc.UNARY, svc.encode(271828, size=314159)),
    "large_unary_future": lambda d: d.unary_future(svc.UNARY, svc.encode(271828, size=314159)),
    "status_unavailable_future": lambda d: d.unary_future(
        svc.UNARY, _status("UNAVAILABLE", NON_ASCII), metadata=ECHO_METADATA
    ),
    "client_streaming": lambda d: d.client_stream(
        svc.INPUT, [bytes(size) for size in REQUEST_SIZES]
    ),
    "server_streaming": lambda d: d.server_stream(
        svc.OUTPUT, svc.encode(sizes=list(RESPONSE_SIZES))
    ),
    "bidi_streaming": lambda d: d.bidi(svc.DUPLEX, DUPLEX_REQUESTS),
    "ping_pong": lambda d: d.ping_pong(svc.DUPLEX, DUPLEX_REQUESTS),
    "empty_stream": lambda d: d.bidi(svc.DUPLEX, []),
    "empty_stream_async_iterator": lambda d: d.bidi(svc.DUPLEX, [], style="async"),
    "empty_stream_done_writing": lambda d: d.bidi(svc.DUPLEX, [], style="writes"),
    "empty_client_stream": lambda d: d.client_stream(svc.INPUT, []),
    "empty_server_stream": lambda d: d.server_stream(svc.OUTPUT, svc.encode(sizes=[])),
    "cancel_after_begin": lambda d: d.cancel_after_begin(svc.INPUT),
    "cancel_after_first_response": lambda d: d.cancel_after_first_response(
        svc.DUPLEX, svc.encode(27182, size=31415)
    ),
    "timeout_on_sleeping_server": lambda d: d.bidi(
        svc.DUPLEX, [svc.encode(27182, sleep=svc.MAX_SLEEP)], timeout=SLEEPING_TIMEOUT
    ),
    "status_code_and_message": lambda d: d.unary(
        svc.UNARY, _status("UNKNOWN", "test status message")
    ),
    "status_code_and_message_bidi": lambda d: d.bidi(
        svc.DUPLEX, [_status("UNKNOWN", "test status message")]
    ),
    "status_non_ascii": lambda d: d.unary(svc.UNARY, _status("INVALID_ARGUMENT", NON_ASCII)),
    "status_unavailable": lambda d: d.unary(svc.UNARY, _status("UNAVAILABLE", NON_ASCII)),
    "unimplemented_method": lambda d: d.unary(svc.UNIMPLEMENTED_METHOD, b""),
    "unimplemented_service": lambda d: d.unary(svc.UNIMPLEMENTED_SERVICE, b""),
    "custom_metadata_unary": lambda d: d.unary(
        svc.UNARY, svc.encode(271828, size=314159), metadata=ECHO_METADATA
    ),
    "custom_metadata_bidi": lambda d: d.bidi(
        svc.DUPLEX, [svc.encode(271828, size=314159)], metadata=ECHO_METADATA
    ),
    "custom_metadata_on_error": lambda d: d.unary(
        svc.UNARY, _status("NOT_FOUND", "missing"), metadata=ECHO_METADATA
    ),
    "rich_status_details": lambda d: d.unary(
        svc.UNARY, _status("FAILED_PRECONDITION", NON_ASCII, rich=True)
    ),
    "rich_status_details_bidi": lambda d: d.bidi(
        svc.DUPLEX, [_status("RESOURCE_EXHAUSTED", "quota", rich=True)], metadata=ECHO_METADATA
    ),
    "client_compressed_unary": lambda d: d.unary(
        svc.UNARY, svc.encode(271828, size=314159), compression=grpc.Compression.Gzip
    ),
    "server_compressed_unary": lambda d: d.unary(
        svc.UNARY, svc.encode(271828, size=314159, compress=True)
    ),
    "server_compressed_streaming": lambda d: d.server_stream(
        svc.OUTPUT,
        svc.encode(sizes=[31415, 92653], compress=True),
        compression=grpc.Compression.Gzip,
    ),
    "wait_for_ready": lambda d: d.unary(
        svc.UNARY, svc.encode(size=1), wait_for_ready=True, timeout=3
    ),
}

SECURE_CASES: dict[str, Case] = {
    "per_rpc_creds": lambda d: d.unary(
        svc.UNARY,
        svc.encode(size=1, echo_auth=True),
        credentials=grpc.access_token_call_credentials(TOKEN),
    ),
    "per_rpc_creds_streaming": lambda d: d.bidi(
        svc.DUPLEX,
        [svc.encode(size=1, echo_auth=True)],
        credentials=grpc.access_token_call_credentials(TOKEN),
    ),
}

ROUTES = (
    "default",
    "full",
    "protected_default",
    "protected_full",
    "dual_up",
    "dual_down",
    "stack_down",
    "protected_stack_down",
)

AIO_INTERCEPTED_CANCEL = (
    "docs/interceptors.md, Known gRPC behaviours: on grpc.aio, a call made through any client "
    "interceptor reads cancelled() and done() False right after a cancel() that returned True"
)
WAIT_FOR_READY_LOCAL_DOWN = (
    "docs/failover.md, Per-call options: wait_for_ready applies to the local "
    "attempt, which waits for the local center until the deadline, leaving no time to fail over"
)


def _settled_later(o: Outcome) -> bool:
    return (o.raised, o.code, o.value) == ("CancelledError", CANCELLED, (True, False, False, True))


def _waited_out(o: Outcome) -> bool:
    return (o.raised, o.code) == ("RpcError", grpc.StatusCode.DEADLINE_EXCEEDED)


NO_FAILOVER = {"cancel_after_begin", "wait_for_ready"}
"""Cases whose local attempt ends without a failover when the local center is down: cancelled
by the caller, or waiting for the local center until the deadline."""

DOCUMENTED: dict[tuple[str, str, str], tuple[str, Callable[[Outcome], bool]]] = {
    ("aio", "default", "cancel_after_begin"): (AIO_INTERCEPTED_CANCEL, _settled_later),
    ("aio", "full", "cancel_after_begin"): (AIO_INTERCEPTED_CANCEL, _settled_later),
    ("*", "dual_down", "wait_for_ready"): (WAIT_FOR_READY_LOCAL_DOWN, _waited_out),
    ("*", "stack_down", "wait_for_ready"): (WAIT_FOR_READY_LOCAL_DOWN, _waited_out),
    ("*", "protected_stack_down", "wait_for_ready"): (WAIT_FOR_READY_LOCAL_DOWN, _waited_out),
}
"""(flavour or "*", route, case) -> (where the docs state why that route differs from bare
gRPC, what it gives instead)."""


# -- what the descriptions ask of bare gRPC -----------------------------------------------------


def _ok(value: Any, **fields: Any) -> Callable[[Outcome], bool]:
    return lambda o: (
        o.raised == ""
        and o.code == OK
        and o.value == value
        and all(getattr(o, name) == wanted for name, wanted in fields.items())
    )


def _failed(code: grpc.StatusCode, details: str | None = None) -> Callable[[Outcome], bool]:
    return lambda o: (
        o.raised == "RpcError" and o.code == code and (details is None or o.details == details)
    )


ECHOED = {"initial": ECHO_METADATA[:1], "trailing": ECHO_METADATA[1:]}
DESCRIBED: dict[str, Callable[[Outcome], bool]] = {
    "empty_unary": _ok(0),
    "large_unary": _ok(314159),
    "large_unary_future": _ok(314159),
    "status_unavailable_future": lambda o: (
        _failed(grpc.StatusCode.UNAVAILABLE, NON_ASCII)(o) and o.trailing == ECHO_METADATA[1:]
    ),
    "client_streaming": _ok(b"74922"),
    "server_streaming": _ok(RESPONSE_SIZES),
    "bidi_streaming": _ok(RESPONSE_SIZES),
    "ping_pong": _ok(RESPONSE_SIZES),
    "empty_stream": _ok(()),
    "empty_stream_async_iterator": _ok(()),
    "empty_stream_done_writing": _ok(()),
    "empty_client_stream": _ok(b"0"),
    "empty_server_stream": _ok(()),
    "timeout_on_sleeping_server": _failed(grpc.StatusCode.DEADLINE_EXCEEDED),
    "status_code_and_message": _failed(grpc.StatusCode.UNKNOWN, "test status message"),
    "status_code_and_message_bidi": _failed(grpc.StatusCode.UNKNOWN, "test status message"),
    "status_non_ascii": _failed(grpc.StatusCode.INVALID_ARGUMENT, NON_ASCII),
    "status_unavailable": _failed(grpc.StatusCode.UNAVAILABLE, NON_ASCII),
    "unimplemented_method": _failed(grpc.StatusCode.UNIMPLEMENTED),
    "unimplemented_service": _failed(grpc.StatusCode.UNIMPLEMENTED),
    "custom_metadata_unary": _ok(314159, **ECHOED),
    "custom_metadata_bidi": _ok((314159,), **ECHOED),
    "custom_metadata_on_error": lambda o: (
        _failed(grpc.StatusCode.NOT_FOUND, "missing")(o) and o.trailing == ECHO_METADATA[1:]
    ),
    "rich_status_details": lambda o: (
        _failed(grpc.StatusCode.FAILED_PRECONDITION, NON_ASCII)(o)
        and o.rich is not None
        and o.rich[2] == ("type.googleapis.com/google.rpc.ErrorInfo",)
    ),
    "rich_status_details_bidi": lambda o: (
        _failed(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")(o)
        and o.rich is not None
        and o.rich[:2] == (grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], "quota")
    ),
    "client_compressed_unary": _ok(314159),
    "server_compressed_unary": _ok(314159),
    "server_compressed_streaming": _ok((31415, 92653)),
    "wait_for_ready": _ok(1),
    "per_rpc_creds": _ok(1, trailing=((svc.ECHO_AUTH, f"Bearer {TOKEN}"),)),
    "per_rpc_creds_streaming": _ok((1,), trailing=((svc.ECHO_AUTH, f"Bearer {TOKEN}"),)),
    "cancel_after_begin": lambda o: o.code == CANCELLED and o.value[:3] == (True, True, True),
    "cancel_after_first_response": lambda o: (
        o.code == CANCELLED
        and o.value[:4]
        == (
            31415,
            True,
            True,
            True,
        )
    ),
}


# -- the matrix ----------------------------------------------------------------------------------

ALL_CASES = {**CASES, **SECURE_CASES}


@pytest.fixture(scope="module", params=["sync", "aio"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = World(request.param, Path(tmp_path_factory.mktemp("interop")), ManualClock())
    try:
        yield made
    finally:
        made.close()


def _run(world: World, route: str, name: str) -> Outcome:
    driver = world.driver(route, secure=name in SECURE_CASES)
    return ALL_CASES[name](driver)


@pytest.mark.parametrize("name", ALL_CASES)
def test_bare_grpc_does_what_the_description_says(world: World, name: str) -> None:
    outcome = world.reference(name, lambda: _run(world, "bare", name))
    assert DESCRIBED[name](outcome), outcome


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", ALL_CASES)
def test_the_library_gives_what_bare_grpc_gives(world: World, route: str, name: str) -> None:
    bare = world.reference(name, lambda: _run(world, "bare", name))
    secure = name in SECURE_CASES
    before, expired = world.failovers(route, secure), world.failovers(route, secure, "expired")
    with Stopwatch() as watch:
        outcome = _run(world, route, name)
    ran_out = world.failovers(route, secure, "expired") > expired
    if name == "timeout_on_sleeping_server" and ran_out and route.endswith("_down"):
        # A failover that found the deadline gone returns the local refusal: the refusal and
        # the failover must both come within the deadline, which a host stall longer than the
        # time past it can prevent; such a run is not judged (an overrun the stall does not
        # explain is).
        what = f"{route} {name}: the failover found no time left ({outcome})"
        if not watch.within(SLEEPING_TIMEOUT, what):
            return
    elif name == "timeout_on_sleeping_server" and ran_out:
        # The local center is up: its attempt waits out the whole deadline and the failover
        # finds none left by design. gRPC itself reports DEADLINE_EXCEEDED a few ms past the
        # deadline (more on a loaded host), so the bound is bare gRPC's own call, timed now.
        with Stopwatch() as reference:
            _run(world, "bare", name)
        bound = max(reference.elapsed, SLEEPING_TIMEOUT) + UNSEEN_STALL
        watch.within(bound, f"{route} {name}: held past the deadline longer than bare gRPC")
    if route.endswith("_down") and name not in NO_FAILOVER:
        assert world.failovers(route, secure) > before, "no failover was tried"
    documented = DOCUMENTED.get((world.flavour, route, name)) or DOCUMENTED.get(("*", route, name))
    if documented is not None:
        where, expected = documented
        assert expected(outcome), f"{where}; it gives {outcome} (bare: {bare})"
        return
    assert outcome == bare, f"{route}: {outcome}\nbare: {bare}"
