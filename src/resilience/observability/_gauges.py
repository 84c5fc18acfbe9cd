"""Slowly changing state exported by polling: breaker, dynamic timeout, retry window, limiter.

The owners of that state (per-method interceptor state, the failover channel, the distributed
limiter) are :class:`~resilience.events.GaugeSource` objects registered in a
:class:`~resilience.events.GaugeRegistry`. Nothing runs per call: a metrics exporter polls the
registry when it collects (for Prometheus, on each scrape).

Method names are bounded as on the call metrics (:class:`AttributeBounds`, shared with them):
past the bound, new names collapse to ``"_OTHER"``, and readings that end up with the same
attributes are exported as one series: the largest value for a gauge (the most dropping
breaker, the longest timeout), the sum for a counter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from resilience.events import GaugeReading, GaugeRegistry
from resilience.observability._bounds import AttributeBounds


@dataclass(frozen=True, slots=True)
class GaugeSpec:
    """How readings named ``reading`` are exported: as ``metric`` with ``unit``; ``counter``
    means the value is a cumulative total (exported as an observable counter).

    A ``reading`` ending in ``"."`` is a prefix: every reading that starts with it (and has no
    spec of its own) goes to ``metric``, with the rest of its name in the ``label`` attribute.
    """

    reading: str
    metric: str
    unit: str
    description: str
    counter: bool = False
    label: str | None = None


GAUGES: tuple[GaugeSpec, ...] = (
    GaugeSpec(
        "breaker.drop_probability",
        "resilience.breaker.drop_probability",
        "1",
        "Probability (0..1) with which the client's adaptive breaker drops a new call.",
    ),
    GaugeSpec(
        "breaker.state",
        "resilience.breaker.state",
        "1",
        "Adaptive breaker state: 0 closed (drops nothing), 1 half-open (dropping some calls).",
    ),
    GaugeSpec(
        "timeout.seconds",
        "resilience.timeout",
        "s",
        "The dynamic (EMA) timeout the client currently gives a call of the method.",
    ),
    GaugeSpec(
        "failover.window",
        "resilience.failover.window",
        "{call}",
        "Failover attempts the adaptive retry window admits per period for a remote target.",
    ),
    GaugeSpec(
        "failover.",
        "resilience.failovers",
        "{call}",
        "Cross-center failover decisions since start, by target and outcome "
        "(attempted, admitted, refused, expired, unreplayable, succeeded, failed).",
        counter=True,
        label="resilience.failover.outcome",
    ),
    GaugeSpec(
        "internal_errors.",
        "resilience.internal_errors",
        "{error}",
        "Faults of the library's own parts that a call went on without, since start, by where "
        "(e.g. 'method state': a method's breaker or limiter could not be built).",
        counter=True,
        label="resilience.where",
    ),
    GaugeSpec(
        "limiter.fallback",
        "resilience.limiter.fallback",
        "1",
        "1 while a distributed limiter runs on its local fallback (store unreachable), else 0.",
    ),
)
"""The readings the library's own sources publish; a reading matching no spec is exported by
the catch-all gauge ``resilience.state`` with its name in the ``resilience.gauge`` attribute.
Attributes are exported in the scheme of :meth:`AttributeBounds.exported`: ``method``
(``/pkg.Service/Method``) as ``rpc.system.name="grpc"`` and ``rpc.method``
(``pkg.Service/Method``, bounded as on the call metrics), ``side`` as ``resilience.side``,
``target`` as ``resilience.target``, ``limit`` as ``resilience.limit``."""

OTHER_GAUGE_METRIC = "resilience.state"


_EXACT = {spec.reading: spec for spec in GAUGES if not spec.reading.endswith(".")}
_PREFIXES = tuple(spec for spec in GAUGES if spec.reading.endswith("."))


def spec_for(name: str) -> GaugeSpec | None:
    """The spec that exports readings named ``name``, or None (the catch-all gauge)."""
    spec = _EXACT.get(name)
    if spec is None:
        spec = next((p for p in _PREFIXES if name.startswith(p.reading)), None)
    return spec


def _attributes(
    reading: GaugeReading, spec: GaugeSpec | None, bounds: AttributeBounds
) -> dict[str, str]:
    attributes = bounds.exported(reading.attributes)
    if spec is None:
        attributes["resilience.gauge"] = reading.name
    elif spec.label is not None:
        attributes[spec.label] = reading.name[len(spec.reading) :]
    return attributes


def _observe(
    registry: GaugeRegistry, wanted: GaugeSpec | None, bounds: AttributeBounds
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    counter = wanted is not None and wanted.counter

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        merged: dict[frozenset[tuple[str, str]], Observation] = {}
        for reading in registry.readings():
            if spec_for(reading.name) is not wanted:
                continue
            attributes = _attributes(reading, wanted, bounds)
            key = frozenset(attributes.items())
            value = float(reading.value)
            seen = merged.get(key)
            if seen is not None:
                value = seen.value + value if counter else max(seen.value, value)
            merged[key] = Observation(value, attributes)
        return list(merged.values())

    return callback


def create_gauge_instruments(
    meter: Meter, registry: GaugeRegistry, bounds: AttributeBounds
) -> None:
    """Create one observable instrument per :data:`GAUGES` entry plus the catch-all, each
    polling ``registry`` when the meter's readers collect; method names are bounded by
    ``bounds`` (the call metrics' own, so both collapse the same names)."""
    for spec in GAUGES:
        create = meter.create_observable_counter if spec.counter else meter.create_observable_gauge
        create(
            spec.metric,
            callbacks=[_observe(registry, spec, bounds)],
            unit=spec.unit,
            description=spec.description,
        )
    meter.create_observable_gauge(
        OTHER_GAUGE_METRIC,
        callbacks=[_observe(registry, None, bounds)],
        unit="1",
        description="Readings of gauge sources without a dedicated metric, by resilience.gauge.",
    )
