"""The scheduling core both engines share: when each call is due and which worker sends it.

The load is open-loop: call ``k`` is due at a fixed offset from the start, whatever the server
does. The rate ramps linearly from 0 to ``rate`` over ``ramp`` seconds, then stays at
``rate``, so the number of calls due by time ``t`` is::

    N(t) = rate * t**2 / (2 * ramp)            for t <= ramp
    N(t) = rate * ramp / 2 + rate * (t - ramp) for t >  ramp

and call ``k`` (0-based) is due at ``N^-1(k)``. ``concurrency`` workers claim calls in order;
when all are busy a call starts late and the lag is reported (``max_lag``) rather than hidden.
"""

from __future__ import annotations

import math
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

from resilience._base.keys import COLOR_BAGGAGE, REJECT
from resilience.context import valid_color
from resilience.errors import ConfigError
from resilience.recording.format import CallSpec, MetadataValue
from resilience.tools.loadtest.flow import CallSource

MAX_RATE = 100_000.0
MAX_DURATION = 24 * 3600.0
MAX_CONCURRENCY = 1000
MAX_TOTAL_CALLS = 10_000_000


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """What a load run does. ``rate`` in calls per second, durations in seconds; ``color`` is
    sent as the W3C baggage entry ``resilience.color`` (None or "" sends no color);
    ``timeout`` bounds each call."""

    rate: float
    duration: float
    ramp: float = 0.0
    concurrency: int = 16
    timeout: float = 10.0
    color: str | None = "loadtest"

    def __post_init__(self) -> None:
        if not 0 < self.rate <= MAX_RATE:
            raise ConfigError(f"rate: must be in (0, {MAX_RATE:g}] calls/s, got {self.rate!r}")
        if not 0 < self.duration <= MAX_DURATION:
            raise ConfigError(
                f"duration: must be in (0, {MAX_DURATION:g}] s, got {self.duration!r}"
            )
        if not 0 <= self.ramp <= self.duration:
            raise ConfigError(f"ramp: must be in [0, duration] seconds, got {self.ramp!r}")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(
                f"concurrency: must be in [1, {MAX_CONCURRENCY}], got {self.concurrency!r}"
            )
        if self.color is not None and not valid_color(self.color):
            raise ConfigError(
                f"color: 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-', got {self.color!r}"
            )
        if not self.timeout > 0:
            raise ConfigError(f"timeout: must be > 0 seconds, got {self.timeout!r}")
        if self.total_calls > MAX_TOTAL_CALLS:
            raise ConfigError(
                f"rate: rate x duration makes {self.total_calls} calls, more than "
                f"{MAX_TOTAL_CALLS}; lower --rate or --duration"
            )

    @property
    def total_calls(self) -> int:
        """How many calls the schedule holds: N(duration), rounded down."""
        return math.floor(self.due_by(self.duration) + 1e-9)

    def due_by(self, t: float) -> float:
        """N(t): calls due by ``t`` seconds after the start."""
        if t <= self.ramp:
            return self.rate * t * t / (2 * self.ramp) if self.ramp else self.rate * t
        return self.rate * self.ramp / 2 + self.rate * (t - self.ramp)

    def due_at(self, k: int) -> float:
        """Offset in seconds at which call ``k`` (0-based) is due: N^-1(k)."""
        ramp_calls = self.rate * self.ramp / 2
        if k <= ramp_calls and self.ramp:
            return math.sqrt(2 * self.ramp * k / self.rate)
        return self.ramp + (k - ramp_calls) / self.rate


class Dispatcher:
    """Hands out (index, due offset, call) to workers until the schedule or a stop ends."""

    def __init__(self, settings: LoadSettings, source: CallSource) -> None:
        self.settings = settings
        self._source = source
        self._total = settings.total_calls
        self._next = 0
        self._lock = threading.Lock()
        self._stopped = False

    def claim(self) -> tuple[int, float, CallSpec] | None:
        """The next call to send, or None when all were claimed or :meth:`stop` was called."""
        with self._lock:
            if self._stopped or self._next >= self._total:
                return None
            k = self._next
            self._next += 1
        return k, self.settings.due_at(k), self._source.next_call()

    def stop(self) -> None:
        """Hand out no more calls (calls in flight finish)."""
        with self._lock:
            self._stopped = True

    @property
    def claimed(self) -> int:
        """Calls handed out so far."""
        return self._next


def request_metadata(call: CallSpec, color: str | None) -> tuple[tuple[str, MetadataValue], ...]:
    """The call's own metadata plus the color as a W3C baggage entry."""
    if not color:
        return call.metadata
    baggage = f"{COLOR_BAGGAGE}={urllib.parse.quote(color, safe='')}"
    return (*call.metadata, ("baggage", baggage))


def reject_reason(trailing: object) -> str | None:
    """The ``x-resilience-reject`` value among trailing metadata, if any."""
    if not trailing:
        return None
    for item in trailing:  # type: ignore[attr-defined]
        key, value = item[0], item[1]
        if key == REJECT:
            return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return None


def start_call(channel: Any, call: CallSpec, metadata: Any, timeout: float) -> Any:
    """Start one generic call on a sync or grpc.aio ``channel``: no serializers (requests and
    responses stay bytes), and the response side is always a stream: the gRPC wire format does
    not tell a unary response from a one-message stream, so this works for every server method
    whatever shape the recording guessed. Returns gRPC's call object, to iterate."""
    if call.request_streaming:
        return channel.stream_stream(call.method)(
            iter(call.requests), metadata=metadata, timeout=timeout
        )
    return channel.unary_stream(call.method)(call.requests[0], metadata=metadata, timeout=timeout)
