"""What the interceptors, the failover channel and the limiters report, and to whom.

The call path reports to :class:`Observer` objects (metrics, crash reports, recorders): one
``call_started`` and one ``call_ended`` per call and side, plus named events for decisions
(a failover attempted, a limiter falling back to local mode). Slowly changing state (breaker
drop probability, dynamic timeout, retry window size) is not pushed per call: its owners are
:class:`GaugeSource` objects that an observer polls when it exports.

An observer must be cheap and must not raise; the caller guards every call to it anyway, so a
bug in an observer is logged and never fails an RPC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import grpc

Side = Literal["client", "server"]


@dataclass(frozen=True, slots=True)
class CallInfo:
    """One RPC on one side: ``method`` is the full name (``/pkg.Service/Method``)."""

    side: Side
    method: str
    color: str | None = None
    tier: int | None = None


@dataclass(frozen=True, slots=True, init=False)
class CallOutcome:
    """How an RPC ended: its status code, its duration in seconds, the local reject reason (a
    RejectReason value) when the library refused it, and the exception that escaped the
    handler when one did (server side)."""

    code: grpc.StatusCode
    duration: float
    reject_reason: str | None = None
    exception: BaseException | None = None

    def __init__(
        self,
        code: grpc.StatusCode,
        duration: float,
        reject_reason: str | None = None,
        exception: BaseException | None = None,
    ) -> None:
        # Built once per call and side: writing the slots directly costs about half of the
        # frozen dataclass's object.__setattr__ per field. Still immutable afterwards.
        _set_code(self, code)
        _set_duration(self, duration)
        _set_reject_reason(self, reject_reason)
        _set_exception(self, exception)


_set_code = CallOutcome.__dict__["code"].__set__
_set_duration = CallOutcome.__dict__["duration"].__set__
_set_reject_reason = CallOutcome.__dict__["reject_reason"].__set__
_set_exception = CallOutcome.__dict__["exception"].__set__


@dataclass(frozen=True, slots=True)
class GaugeReading:
    """The current value of a named gauge, for example ``breaker.drop_probability``."""

    name: str
    value: float
    attributes: Mapping[str, str]


class Observer(Protocol):
    """Receives call lifecycle reports and decision events."""

    def call_started(self, call: CallInfo) -> None:
        """A call was admitted to the interceptor (before any policy decision)."""

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        """The call ended (completed, failed, rejected locally or cancelled)."""

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        """A named decision happened, e.g. ``failover.attempted`` with ``{"target": ...}``."""


class GaugeSource(Protocol):
    """Something whose state is exported as gauges when an observer polls it."""

    def gauge_readings(self) -> Iterable[GaugeReading]:
        """The current readings; called from the exporter's thread, must be thread-safe."""
