"""On-demand profiling through the admin service (sync and aio servers, real gRPC on
loopback): the Profile method needs the admin token, checks its request, and makes the
running profiler sample now."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.chaos import admin_handler
from resilience.chaos._admin import TOKEN_KEY, call_admin
from resilience.policy import ProfilingSettings
from resilience.profiling import (
    PROFILE,
    Profiler,
    aio_profile_admin_handler,
    profile_admin_handler,
)

pytestmark = pytest.mark.e2e

TOKEN = "s3cret-token"


def ask(address: str, request: dict[str, Any], token: str = TOKEN) -> dict[str, Any]:
    return call_admin(address, request, token=token, method=PROFILE)


def check(address: str, profiler: Profiler) -> None:
    answer = ask(address, {"seconds": 5})
    assert answer["state"] == "on_demand"
    assert answer["directory"] == profiler.store.directory
    profiler.step()
    assert profiler.state == "on_demand"
    with pytest.raises(grpc.RpcError) as denied:
        ask(address, {"seconds": 5}, token="wrong-token")
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as bad:
        ask(address, {"seconds": 7200})
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "seconds: must be > 0 and <= 3600" in (bad.value.details() or "")


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_profile_on_demand_through_the_admin_service(tmp_path: Path, aio: bool) -> None:
    profiler = Profiler(ProfilingSettings(directory=str(tmp_path)))  # not started: step by hand
    if not aio:
        from concurrent.futures import ThreadPoolExecutor

        server = grpc.server(ThreadPoolExecutor(2))
        server.add_generic_rpc_handlers(
            [
                admin_handler(token=TOKEN),
                profile_admin_handler(token=TOKEN, profiler=lambda: profiler),
            ]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        address = f"127.0.0.1:{port}"
        try:
            check(address, profiler)
            with pytest.raises(grpc.RpcError) as faults:  # the chaos methods still answer
                call_admin(address, {}, token=TOKEN, method="/resilience.admin.v1.Admin/GetFaults")
            assert (
                faults.value.code() == grpc.StatusCode.NOT_FOUND
            )  # no injector, not UNIMPLEMENTED
        finally:
            server.stop(None).wait()
        return

    async def run() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers(
            [aio_profile_admin_handler(token=TOKEN, profiler=lambda: profiler)]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            await asyncio.to_thread(check, f"127.0.0.1:{port}", profiler)
        finally:
            await server.stop(None)

    asyncio.run(run())


def test_without_a_profiler_the_call_says_what_to_add() -> None:
    from resilience.chaos._admin import AdminError
    from resilience.profiling._admin import handle_profile

    with pytest.raises(AdminError, match=r"add a \[profiling\] section"):
        handle_profile(
            json.dumps({}).encode(), [(TOKEN_KEY, TOKEN)], token=TOKEN, profiler=lambda: None
        )
