"""Servers as users build them: the standard health service (grpcio-health-checking) and
server reflection (grpcio-reflection, a bidi stream) beside a service of their own, registered
through generated code (``_registered_method=True`` stubs) or ``method_handlers_generic_handler``,
on a protected server, sync and aio, ``protect()`` and interceptor forms. Each is served and
protected (its own rate limit applies). And gRPC's own ``maximum_concurrent_rpcs`` refusal
passes through the layers as what it is."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import _async as aio_health
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from resilience._base.keys import REJECT
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.policy import Policy

from .harness import Recorder

pytestmark = pytest.mark.e2e  # real servers on 127.0.0.1

HEALTH = "/grpc.health.v1.Health/*"
REFLECTION = f"/{reflection.SERVICE_NAME}/*"
OWN = "/my.Own/*"
LIMITED = Policy.from_dict(
    {
        "methods": {
            p: {"rate_limit": {"limit": 2, "window": 60.0}} for p in (HEALTH, REFLECTION, OWN)
        }
    }
)
"""Two calls a minute for each service: the third is refused if the service is protected."""
FORMS = ("protect", "interceptors")


def _echo(request: bytes, context: Any) -> bytes:
    return request


async def _aio_echo(request: bytes, context: Any) -> bytes:
    return request


def _own_handlers(echo: Callable[..., Any]) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    return {"Say": grpc.unary_unary_rpc_method_handler(echo)}


SERVICES = {health.SERVICE_NAME, reflection.SERVICE_NAME}
PROTECTED = {name: ["ok", "ok", "RESOURCE_EXHAUSTED"] for name in ("health", "reflection", "own")}
"""Each service answers twice, then its own rate limit refuses it."""


def _three_of_each(channel: Any) -> dict[str, list[str]]:
    """Call each service three times on a sync ``channel``: "ok" or the status code's name."""
    checked = health_pb2_grpc.HealthStub(channel)  # generated: _registered_method=True
    reflected = reflection_pb2_grpc.ServerReflectionStub(channel)
    listed = reflection_pb2.ServerReflectionRequest(list_services="")
    asked = health_pb2.HealthCheckRequest(service="my.Own")

    def services() -> object:
        (answer,) = reflected.ServerReflectionInfo(iter([listed]), timeout=5)
        return {s.name for s in answer.list_services_response.service} == SERVICES

    def check() -> object:
        return checked.Check(asked, timeout=5).status == health_pb2.HealthCheckResponse.SERVING

    def own() -> object:
        return channel.unary_unary("/my.Own/Say")(b"a", timeout=5) == b"a"

    return _outcomes({"health": check, "reflection": services, "own": own})


def _outcomes(calls: dict[str, Callable[[], object]]) -> dict[str, list[str]]:
    outcomes: dict[str, list[str]] = {}
    for name, call in calls.items():
        outcomes[name] = []
        for _ in range(3):
            try:
                assert call() is True, name
            except grpc.RpcError as error:
                outcomes[name].append(error.code().name)
            else:
                outcomes[name].append("ok")
    return outcomes


@pytest.mark.parametrize("form", FORMS)
def test_health_and_reflection_beside_your_service_are_served_and_protected_sync(
    form: str,
) -> None:
    interceptor = ServerInterceptor(LIMITED)
    pool = ThreadPoolExecutor(8)
    if form == "protect":
        server = interceptor.protect(grpc.server(pool))
    else:
        server = grpc.server(pool, interceptors=[interceptor])
    servicer = health.HealthServicer()
    servicer.set("my.Own", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    reflection.enable_server_reflection((health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("my.Own", _own_handlers(_echo)),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as raw:
            client = ClientInterceptor()
            channel = (
                client.protect(raw) if form == "protect" else grpc.intercept_channel(raw, client)
            )
            assert _three_of_each(channel) == PROTECTED
    finally:
        server.stop(None).wait()
        pool.shutdown(wait=False)


@pytest.mark.parametrize("form", FORMS)
def test_health_and_reflection_beside_your_service_are_served_and_protected_aio(
    form: str,
) -> None:
    async def scenario() -> dict[str, list[str]]:
        interceptor = AioServerInterceptor(LIMITED)
        if form == "protect":
            server = interceptor.protect(grpc.aio.server())
        else:
            server = grpc.aio.server(interceptors=[interceptor])
        servicer = aio_health.HealthServicer()
        await servicer.set("my.Own", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        reflection.enable_server_reflection((health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        server.add_registered_method_handlers("my.Own", _own_handlers(_aio_echo))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            address = f"127.0.0.1:{port}"
            client = AioClientInterceptor()
            if form == "protect":
                channel: Any = client.protect(grpc.aio.insecure_channel(address))
            else:
                channel = grpc.aio.insecure_channel(address, interceptors=client)
            async with channel:
                return await _aio_three_of_each(channel)
        finally:
            await server.stop(None)

    assert asyncio.run(scenario()) == PROTECTED


async def _aio_three_of_each(channel: Any) -> dict[str, list[str]]:
    """:func:`_three_of_each` on a grpc.aio ``channel``."""
    checked = health_pb2_grpc.HealthStub(channel)
    reflected = reflection_pb2_grpc.ServerReflectionStub(channel)
    say = channel.unary_unary("/my.Own/Say", _registered_method=True)

    async def requests() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async def services() -> object:
        names = set()
        async for answer in reflected.ServerReflectionInfo(requests(), timeout=5):
            names |= {s.name for s in answer.list_services_response.service}
        return names == SERVICES

    async def check() -> object:
        answer = await checked.Check(health_pb2.HealthCheckRequest(service="my.Own"), timeout=5)
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    async def own() -> object:
        return await say(b"a", timeout=5) == b"a"

    outcomes: dict[str, list[str]] = {}
    for name, call in {"health": check, "reflection": services, "own": own}.items():
        outcomes[name] = []
        for _ in range(3):
            try:
                assert await call() is True, name
            except grpc.RpcError as error:
                outcomes[name].append(error.code().name)
            else:
                outcomes[name].append("ok")
    return outcomes


GRPC_LIMIT = "Concurrent RPC limit exceeded!"
"""gRPC Python's details for a call past ``maximum_concurrent_rpcs``."""
EAGER_BREAKER = Policy.from_dict({"methods": {OWN: {"breaker": {"min_requests": 5}}}})
"""A client breaker that drops nothing of the test's 5 calls, and drops once 3 of them failed
(``k=2``: 5 requests for 2 accepted)."""


def _drop(client: Any) -> float:
    """The client breaker's drop probability for ``/my.Own/Say``."""
    readings = client.gauge_readings()
    return max(float(r.value) for r in readings if r.name == "breaker.drop_probability")


@pytest.mark.parametrize("form", FORMS)
def test_grpcs_own_concurrency_refusal_passes_through_as_it_is_sync(form: str) -> None:
    """A sync server built with ``maximum_concurrent_rpcs=2`` and 5 calls at once: gRPC refuses
    3 with RESOURCE_EXHAUSTED before any interceptor runs. The client sees gRPC's status and
    details, no rejection mark of ours; its observers record RESOURCE_EXHAUSTED, not a
    rejection of ours, and its breaker counts them as the callee's failures (a saturated
    server); the server's observers hear only of the 2 calls that ran."""
    entered, release = threading.Semaphore(0), threading.Event()

    def held(request: bytes, context: Any) -> bytes:
        entered.release()
        release.wait(30)
        return request

    server_seen, client_seen = Recorder(), Recorder()
    interceptor = ServerInterceptor(observers=[server_seen])
    pool = ThreadPoolExecutor(8)
    if form == "protect":
        server = interceptor.protect(grpc.server(pool, maximum_concurrent_rpcs=2))
    else:
        server = grpc.server(pool, interceptors=[interceptor], maximum_concurrent_rpcs=2)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("my.Own", _own_handlers(held)),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    calls = ThreadPoolExecutor(5)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as raw:
            client = ClientInterceptor(EAGER_BREAKER, observers=[client_seen])
            channel = (
                client.protect(raw) if form == "protect" else grpc.intercept_channel(raw, client)
            )
            say: Any = channel.unary_unary("/my.Own/Say")
            running = [calls.submit(say, b"a", timeout=30) for _ in range(2)]
            assert entered.acquire(timeout=30)
            assert entered.acquire(timeout=30)
            refused = [_failure(lambda: say(b"b", timeout=30)) for _ in range(3)]
            release.set()
            assert [future.result(30) for future in running] == [b"a", b"a"]
    finally:
        release.set()
        server.stop(None).wait()
        pool.shutdown(wait=False)
        calls.shutdown(wait=False)
    assert refused == [(grpc.StatusCode.RESOURCE_EXHAUSTED, GRPC_LIMIT, None)] * 3
    ended = client_seen.wait_ended(5)
    assert (
        sorted(o.code.name for _, o in ended if o.code) == ["OK"] * 2 + ["RESOURCE_EXHAUSTED"] * 3
    )
    assert [o.reject_reason for _, o in ended] == [None] * 5
    assert _drop(client) > 0
    assert [o.code for _, o in server_seen.wait_ended(2)] == [grpc.StatusCode.OK] * 2


def _failure(call: Callable[[], object]) -> tuple[grpc.StatusCode, str, str | None]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    error: Any = raised.value
    return error.code(), error.details(), dict(error.trailing_metadata() or ()).get(REJECT)


@pytest.mark.parametrize("form", FORMS)
def test_grpcs_own_concurrency_refusal_passes_through_as_it_is_aio(form: str) -> None:
    async def scenario() -> list[tuple[grpc.StatusCode, str, str | None]]:
        entered, release = asyncio.Semaphore(0), asyncio.Event()

        async def held(request: bytes, context: Any) -> bytes:
            entered.release()
            await asyncio.wait_for(release.wait(), 30)
            return request

        interceptor = AioServerInterceptor()
        if form == "protect":
            server = interceptor.protect(grpc.aio.server(maximum_concurrent_rpcs=2))
        else:
            server = grpc.aio.server(interceptors=[interceptor], maximum_concurrent_rpcs=2)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("my.Own", _own_handlers(held)),)
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            address, client = f"127.0.0.1:{port}", AioClientInterceptor(EAGER_BREAKER)
            if form == "protect":
                channel: Any = client.protect(grpc.aio.insecure_channel(address))
            else:
                channel = grpc.aio.insecure_channel(address, interceptors=client)
            async with channel:
                say = channel.unary_unary("/my.Own/Say")
                running = [asyncio.ensure_future(say(b"a", timeout=30)) for _ in range(2)]
                for _ in range(2):
                    await asyncio.wait_for(entered.acquire(), 30)
                refused = []
                for _ in range(3):
                    try:
                        await say(b"b", timeout=30)
                    except grpc.aio.AioRpcError as error:
                        mark = dict(error.trailing_metadata() or ()).get(REJECT)
                        refused.append((error.code(), error.details() or "", mark))
                release.set()
                assert await asyncio.gather(*running) == [b"a", b"a"]
                assert _drop(client) > 0
                return refused
        finally:
            release.set()
            await server.stop(None)

    refused = asyncio.run(scenario())
    assert refused == [(grpc.StatusCode.RESOURCE_EXHAUSTED, GRPC_LIMIT, None)] * 3
