"""A dual-center channel registers itself as a gauge source (weakly held), so its
``failover.*`` readings reach the metrics without the user wiring it up."""

from __future__ import annotations

import asyncio
import gc

import grpc
import grpc.aio

from resilience.events import default_gauge_registry
from resilience.failover import AioDualCenterChannel, DualCenterChannel

UNUSED = "127.0.0.1:1"  # channels connect lazily: nothing is dialled here


def failover_targets() -> set[str]:
    readings = default_gauge_registry().readings()
    return {r.attributes["target"] for r in readings if r.name == "failover.window"}


def test_a_sync_channel_reports_failover_gauges_until_it_is_dropped() -> None:
    local, remote = grpc.insecure_channel(UNUSED), grpc.insecure_channel(UNUSED)
    channel = DualCenterChannel(local, remote, target="sync-center")
    try:
        assert "sync-center" in failover_targets()
        del channel
        gc.collect()
        assert "sync-center" not in failover_targets()
    finally:
        local.close()
        remote.close()


def test_an_aio_channel_reports_failover_gauges_until_it_is_dropped() -> None:
    async def scenario() -> tuple[bool, bool]:
        local, remote = grpc.aio.insecure_channel(UNUSED), grpc.aio.insecure_channel(UNUSED)
        channel = AioDualCenterChannel(local, remote, target="aio-center")
        registered = "aio-center" in failover_targets()
        await channel.close()
        del channel
        gc.collect()
        return registered, "aio-center" in failover_targets()

    registered, still_there = asyncio.run(scenario())
    assert registered
    assert not still_there
