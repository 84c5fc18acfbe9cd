"""Per-method algorithm state under one policy: each method's :class:`MethodState`, built on
first use, kept in a bounded map, and carried across a policy reload for every method whose
settings did not change.

A :class:`Registry` belongs to one policy and is never changed after a reload: the interceptor
swaps in a new Registry (one reference assignment), so a call sees one policy from start to end
and no call is dropped. Lookups are one dict read; only a method's first call takes a lock.
The instances shared by methods with equal settings (see :mod:`._method_state`) are kept
across a reload while the new policy still uses their settings.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Hashable, Iterator
from typing import Any

from resilience._base.clock import Clock
from resilience.events import GaugeReading
from resilience.interceptors._guard import release
from resilience.interceptors._method_state import MethodState, _Shared, carry_over
from resilience.policy import Policy

DEFAULT_MAX_METHODS = 2048
"""Methods whose state a registry keeps; when it is full, a new method evicts one that was not
called since the eviction sweep last passed it (see :class:`Registry`)."""


class Registry:
    """Method name -> :class:`MethodState` under one policy; bounded to ``max_methods``.

    Eviction gives each method a second chance (the CLOCK approximation of least recently
    used): every lookup of a known method marks its state used; a full registry sweeps from
    its oldest entry, moving each used one to the back with its mark cleared, and evicts the
    first unmarked one. So a method called between two sweeps keeps its breaker and timeout
    history however many one-off method names pass through (a proxy, a scan), at the cost of
    one attribute read per lookup (and a store when the mark was cleared).

    ``aio``: the registry of a grpc.aio server: shared limits are built for its event loop,
    and an exact-mode limit on Redis becomes the state's ``awaited_limiter``."""

    __slots__ = ("_lock", "_max", "_shared", "_states", "policy", "side")

    def __init__(
        self,
        policy: Policy,
        *,
        side: str,
        clock: Clock,
        rng: random.Random | None = None,
        max_methods: int = DEFAULT_MAX_METHODS,
        aio: bool = False,
    ) -> None:
        self.policy = policy
        self.side = side
        self._max = max_methods
        self._states: dict[str | bytes, MethodState] = {}
        self._shared = _Shared(clock, rng if rng is not None else random.Random(), {}, aio)
        self._lock = threading.Lock()

    def state(self, method: str | bytes) -> MethodState:
        """The state of ``method`` (a str, or bytes as grpc.aio passes it), built on first use."""
        found = self._states.get(method)
        if found is None:
            return self._build(method)
        if not found.used:  # a read, not a store, on the hot path
            found.used = True
        return found

    def _build(self, method: str | bytes) -> MethodState:
        name = method.decode("utf-8", "replace") if isinstance(method, bytes) else method
        state = MethodState(name, self.policy.settings_for(name), self._shared, self.side)
        with self._lock:
            states = self._states
            existing = states.get(method)
            if existing is not None:
                return existing
            if len(states) >= self._max:
                _evict_one(states)
            states[method] = state
        return state

    def reloaded(self, policy: Policy) -> Registry:
        """A registry for ``policy`` that keeps the state of every method whose settings are
        unchanged, and every shared limiter or guard whose settings are still in use. A
        bulkhead or in-process limit whose settings changed but whose name did not (and that
        the new policy uses nowhere under its old settings) is carried over, changed in place
        (see :func:`._method_state.carry_over`): the calls holding its places, and the
        admissions its window counted, still count. Store-backed limiters it drops are closed
        (their sync stops; they still decide, locally, for calls in flight)."""
        new = Registry(
            policy,
            side=self.side,
            clock=self._shared.clock,
            rng=self._shared.rng,
            max_methods=self._max,
            aio=self._shared.aio,
        )
        with self._lock:
            old_states = list(self._states.items())
        kept_shared: set[Hashable] = set()
        changes: dict[Hashable, Hashable] = {}
        """Old settings -> new settings of a bulkhead or limit that one method changed."""
        for method, state in old_states:
            settings = policy.settings_for(state.method)
            if settings == state.settings:
                new._states[method] = state
            for before, after in (
                (state.settings.bulkhead, settings.bulkhead),
                (state.settings.rate_limit, settings.rate_limit),
            ):
                if before is not None and after is not None and before != after:
                    changes.setdefault(before, after)
            kept_shared.update(
                s
                for s in (settings.rate_limit, settings.overload, settings.bulkhead, settings.retry)
                if s is not None
            )
            if settings.hedging is not None:  # retry budgets too: one per settings, kept
                kept_shared.add(("hedging", settings.hedging))
        with self._shared.lock:
            instances = self._shared.instances
            new._shared.instances = {k: v for k, v in instances.items() if k in kept_shared}
            for old, changed in changes.items():
                carried = instances.get(old)
                if (
                    old not in kept_shared
                    and changed not in new._shared.instances
                    and carry_over(carried, old, changed)
                ):
                    new._shared.instances[changed] = carried
                    kept_shared.add(old)
            dropped = [v for k, v in instances.items() if k not in kept_shared]
        _close_all(dropped)
        return new

    def close(self) -> None:
        """Close every store-backed limiter (stop its sync thread or task, close its store);
        idempotent. Calls in flight, and any later ones, are still decided, locally."""
        with self._shared.lock:
            instances = list(self._shared.instances.values())
        _close_all(instances)

    def gauge_readings(self) -> Iterator[GaugeReading]:
        """Breaker drop probability and state, and the dynamic timeout, per known method.
        (A store-backed limit reports ``limiter.fallback`` itself, to the process-wide gauge
        registry: reporting it here too would count it twice.)"""
        for state in list(self._states.values()):
            yield from state.gauge_readings(self.side)


def _close_all(instances: list[Any]) -> None:
    """Close the instances that hold resources (store-backed limiters); others have no close.
    A close that raises is logged and the others are still closed (see :func:`._guard.release`)."""
    for instance in instances:
        close = getattr(instance, "close", None)
        if close is not None:
            release(f"a shared limiter ({type(instance).__name__})", close)


def _evict_one(states: dict[str | bytes, MethodState]) -> None:
    """Evict the first state, oldest first, not marked used; each marked one passes to the back,
    unmarked. Ends within ``len(states) + 1`` steps (a full pass unmarks them all)."""
    while True:
        method = next(iter(states))
        state = states.pop(method)
        if not state.used:
            return
        state.used = False
        states[method] = state
