"""``RESILIENCE_STORE_URL`` over real gRPC servers and a real Redis: a sync and an aio server
built from ``Policy.from_env`` share a limit their policy file declares without a store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from resilience.interceptors import AioServerInterceptor, ServerInterceptor
from resilience.policy import Policy
from resilience.testing import AioEchoServer, EchoServer, echo_call

pytestmark = pytest.mark.e2e


def test_servers_from_the_environment_share_the_limit_through_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patient_redis_url: str, prefix: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(f'[methods."*".rate_limit]\nlimit = 4\nmode = "exact"\nkey = "{prefix}"\n')
    monkeypatch.setenv("RESILIENCE_POLICY", str(path))
    monkeypatch.setenv("RESILIENCE_STORE_URL", patient_redis_url)
    policy = Policy.from_env()

    async def scenario() -> list[bool]:
        admitted: list[bool] = []
        aio_server = await AioEchoServer(interceptors=[AioServerInterceptor(policy)]).start()
        try:
            with EchoServer(interceptors=[ServerInterceptor(policy)]) as sync_server:
                for index in range(6):
                    target = (sync_server if index % 2 == 0 else aio_server).address
                    admitted.append(await asyncio.to_thread(_passes, target))
        finally:
            await aio_server.stop(None)
        return admitted

    assert asyncio.run(scenario()) == [True] * 4 + [False] * 2


def _passes(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            echo_call(channel, "unary_unary", timeout=5)
        except grpc.RpcError as error:
            code = error.code()
        else:
            return True
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    return False
