"""What the sync and aio dual-center channels share: configuration, the four shapes, controls."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import grpc

from resilience._base.channels import Deserializer, Serializer, ShapeFactories
from resilience._base.clock import Clock
from resilience._base.limits import MAX_REPLAY_BYTES, MAX_STREAM_MESSAGES
from resilience.errors import ConfigError
from resilience.events import GaugeReading, Observer, register_gauge_source
from resilience.failover._core import (
    DEFAULT_FAILOVER_CODES,
    FailoverCore,
    FailoverStats,
    RetryWindow,
    SettingsSource,
)
from resilience.failover._requests import DEFAULT_MAX_BYTES, DEFAULT_MAX_MESSAGES
from resilience.failover._switches import FailoverSwitches

C = TypeVar("C")


def _check(
    failover_codes: Iterable[grpc.StatusCode],
    target: str,
    max_replay_messages: int,
    max_replay_bytes: int,
) -> frozenset[grpc.StatusCode]:
    codes = frozenset(failover_codes)
    if not codes or not all(isinstance(code, grpc.StatusCode) for code in codes):
        raise ValueError(f"failover_codes must be non-empty grpc.StatusCode values, got {codes!r}")
    if grpc.StatusCode.OK in codes:
        raise ValueError("failover_codes must not contain StatusCode.OK")
    if not isinstance(target, str) or not target:
        raise ValueError(f"target must be a non-empty label for the remote center, got {target!r}")
    if not isinstance(max_replay_messages, int) or max_replay_messages < 0:
        raise ValueError(f"max_replay_messages must be an int >= 0, got {max_replay_messages!r}")
    if not isinstance(max_replay_bytes, int) or max_replay_bytes < 0:
        raise ValueError(f"max_replay_bytes must be an int >= 0 bytes, got {max_replay_bytes!r}")
    if max_replay_messages > MAX_STREAM_MESSAGES or max_replay_bytes > MAX_REPLAY_BYTES:
        raise ConfigError(
            f"max_replay_messages must be <= {MAX_STREAM_MESSAGES} and max_replay_bytes <= "
            f"{MAX_REPLAY_BYTES}, got {max_replay_messages!r} and {max_replay_bytes!r}"
        )
    return codes


class DualCenterBase(ShapeFactories, Generic[C]):
    """Holds the local and remote channel and the :class:`FailoverCore` between them.

    Keyword arguments (all optional): ``policy`` (anything with ``settings_for(method)``
    returning ``read`` and ``failover`` fields, normally :class:`resilience.policy.Policy`;
    None means no method is a read, so nothing fails over), ``window`` (the remote target's
    retry window; default a new ``AdaptiveRetryWindow`` on ``clock``; pass one object to every
    channel that reaches the same remote target), ``switches`` (default a new, all-on
    :class:`FailoverSwitches`), ``failover_codes`` (local outcomes that fail over; local
    breaker drops always do), ``target`` (the remote center's label in stats, gauges and
    events), ``observers`` (receive ``failover.<counter>`` events), ``clock`` (seconds, for the
    default window's periods), ``max_replay_messages`` / ``max_replay_bytes`` (request-stream
    replay bounds; a longer stream does not fail over).
    """

    _channel_type: ClassVar[type]
    _shapes: ClassVar[dict[str, type]]

    def __init__(
        self,
        local: C,
        remote: C,
        *,
        policy: SettingsSource | None = None,
        window: RetryWindow | None = None,
        switches: FailoverSwitches | None = None,
        failover_codes: Iterable[grpc.StatusCode] = DEFAULT_FAILOVER_CODES,
        target: str = "remote",
        observers: Sequence[Observer] = (),
        clock: Clock | None = None,
        max_replay_messages: int = DEFAULT_MAX_MESSAGES,
        max_replay_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        expected = self._channel_type
        for name, channel in (("local", local), ("remote", remote)):
            if not isinstance(channel, expected):
                raise TypeError(
                    f"{name} must be a {expected.__module__}.{expected.__qualname__}, "
                    f"got {type(channel).__name__}"
                )
        codes = _check(failover_codes, target, max_replay_messages, max_replay_bytes)
        if window is None:
            from resilience.algorithms import AdaptiveRetryWindow

            window = AdaptiveRetryWindow(clock=clock or time.monotonic)
        self._local: Any = local
        self._remote: Any = remote
        self._core = FailoverCore(
            policy=policy,
            window=window,
            switches=switches if switches is not None else FailoverSwitches(),
            failover_codes=codes,
            target=target,
            observers=observers,
            max_replay_messages=max_replay_messages,
            max_replay_bytes=max_replay_bytes,
        )
        # failover.* readings reach the metrics; held weakly, so a dropped channel leaves.
        register_gauge_source(self)

    # -- the four shapes: a failover-capable multi-callable over both channels' ---------------

    def _multi_callable(
        self, shape: str, method: str, ser: Serializer, de: Deserializer, registered: bool | None
    ) -> Any:
        extra = {"_registered_method": True} if registered else {}
        local = getattr(self._local, shape)(method, ser, de, **extra)
        remote = getattr(self._remote, shape)(method, ser, de, **extra)
        return self._shapes[shape](self._core, method, local, remote, ser)

    # -- runtime controls and observability -----------------------------------------------

    @property
    def policy(self) -> SettingsSource | None:
        """The policy deciding which methods are reads; assign a new one to hot-replace it."""
        return self._core.policy

    @policy.setter
    def policy(self, policy: SettingsSource | None) -> None:
        self._core.policy = policy

    @property
    def window(self) -> RetryWindow:
        """The remote target's retry window."""
        return self._core.window

    @property
    def switches(self) -> FailoverSwitches:
        """The runtime switches (share one object to switch many channels at once)."""
        return self._core.switches

    def disable_failover(self, pattern: str = "*") -> None:
        """Stop failing over ``pattern`` (``"*"``, ``"/pkg.Svc/*"`` or a full method) now."""
        self._core.switches.disable(pattern)

    def enable_failover(self, pattern: str = "*") -> None:
        """Undo :meth:`disable_failover` for exactly ``pattern``."""
        self._core.switches.enable(pattern)

    def stats(self) -> FailoverStats:
        """A snapshot of the failover counters and the window size."""
        return self._core.stats()

    def gauge_readings(self) -> Iterator[GaugeReading]:
        """``failover.window`` and the cumulative counters, labelled ``target`` (a GaugeSource)."""
        return self._core.gauge_readings()

    def __repr__(self) -> str:
        core = self._core
        return f"{type(self).__name__}(target={core.target!r}, switches={core.switches!r})"
