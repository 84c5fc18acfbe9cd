"""Dual-center failover: channels that send a failed read once to the remote center.

``DualCenterChannel(local, remote, policy=...)`` is a ``grpc.Channel`` (and
``AioDualCenterChannel`` a ``grpc.aio.Channel``): generated stubs and ``grpc.intercept_channel``
work on it unchanged. Every call goes to ``local``. When the method is a read (policy
``read = true`` and ``failover = true``), the switches are on, the call is not itself a failover,
and the local attempt ends with a failover-worthy outcome (UNAVAILABLE, DEADLINE_EXCEEDED,
RESOURCE_EXHAUSTED, INTERNAL by default, or a local breaker drop), the same request is sent once
to ``remote`` with the time left before the caller's deadline, if the remote target's
:class:`~resilience.algorithms.AdaptiveRetryWindow` admits it. Streaming responses fail over
only before their first message. See docs/failover.md.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import ClassVar

import grpc
import grpc.aio

from resilience.failover._aio_callables import (
    AioStreamStream,
    AioStreamUnary,
    AioUnaryStream,
    AioUnaryUnary,
)
from resilience.failover._callables import StreamStream, StreamUnary, UnaryStream, UnaryUnary
from resilience.failover._channel import DualCenterBase
from resilience.failover._core import DEFAULT_FAILOVER_CODES, FailoverStats
from resilience.failover._switches import FailoverSwitches

__all__ = [
    "DEFAULT_FAILOVER_CODES",
    "AioDualCenterChannel",
    "DualCenterChannel",
    "FailoverStats",
    "FailoverSwitches",
]


class DualCenterChannel(DualCenterBase[grpc.Channel], grpc.Channel):
    """A ``grpc.Channel`` that fails read calls over from ``local`` to ``remote``, once.

    ``DualCenterChannel(local, remote, *, policy=None, window=None, switches=None,
    failover_codes=DEFAULT_FAILOVER_CODES, target="remote", observers=(), clock=None,
    max_replay_messages=1000, max_replay_bytes=4 MiB)``; the keywords are described on
    :class:`resilience.failover._channel.DualCenterBase`. Connectivity (``subscribe``)
    reports the local channel; ``close`` closes both.
    """

    _channel_type: ClassVar[type] = grpc.Channel
    _shapes: ClassVar[dict[str, type]] = {
        "unary_unary": UnaryUnary,
        "unary_stream": UnaryStream,
        "stream_unary": StreamUnary,
        "stream_stream": StreamStream,
    }

    def subscribe(
        self, callback: Callable[[grpc.ChannelConnectivity], None], try_to_connect: bool = False
    ) -> None:
        """Watch the local channel's connectivity (the remote one is only a fallback)."""
        self._local.subscribe(callback, try_to_connect=try_to_connect)

    def unsubscribe(self, callback: Callable[[grpc.ChannelConnectivity], None]) -> None:
        """Stop a :meth:`subscribe` callback."""
        self._local.unsubscribe(callback)

    def close(self) -> None:
        """Close both channels (idempotent, like gRPC's)."""
        try:
            self._local.close()
        finally:
            self._remote.close()

    def __enter__(self) -> DualCenterChannel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.close()


class AioDualCenterChannel(DualCenterBase[grpc.aio.Channel], grpc.aio.Channel):
    """The ``grpc.aio.Channel`` twin of :class:`DualCenterChannel`: same keywords and rules.

    Connectivity (``get_state``, ``wait_for_state_change``, ``channel_ready``) reports the
    local channel; ``close`` closes both.
    """

    _channel_type: ClassVar[type] = grpc.aio.Channel
    _shapes: ClassVar[dict[str, type]] = {
        "unary_unary": AioUnaryUnary,
        "unary_stream": AioUnaryStream,
        "stream_unary": AioStreamUnary,
        "stream_stream": AioStreamStream,
    }

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        """The local channel's connectivity state."""
        state: grpc.ChannelConnectivity = self._local.get_state(try_to_connect)
        return state

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        """Wait until the local channel's state differs from ``last_observed_state``."""
        await self._local.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        """Wait until the local channel is ready."""
        await self._local.channel_ready()

    async def close(self, grace: float | None = None) -> None:
        """Close both channels, waiting up to ``grace`` seconds for calls in flight."""
        try:
            await self._local.close(grace)
        finally:
            await self._remote.close(grace)

    async def __aenter__(self) -> AioDualCenterChannel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()
