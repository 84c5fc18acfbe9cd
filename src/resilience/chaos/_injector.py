"""The fault injector: rules, an on/off switch with an optional lapse, and a per-call pick."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from resilience._base.clock import Clock, default_clock
from resilience.chaos._rules import Fault, FaultRule, Side
from resilience.errors import ConfigError
from resilience.events import GaugeReading


@dataclass(frozen=True, slots=True)
class _State:
    rules: tuple[FaultRule, ...]
    enabled: bool
    until: float | None  # clock time at which an enable(for_seconds=...) lapses


class FaultInjector:
    """Decides, per call, whether to inject a fault. Thread-safe; one instance serves threads
    and asyncio alike.

    Every rule that matches a call (side, method, color) rolls its own percentage with ``rng``;
    the rules that fire combine: their delays add up, and the first one with an ``abort``
    supplies the status. Use a seeded ``rng`` (``random.Random(7)``) for reproducible runs.

    ``allowed_colors`` lists the traffic colors that color-scoped rules may name; a rule naming
    another color is refused with :class:`~resilience.errors.ConfigError`. ``clock`` times
    :meth:`enable` with ``for_seconds``.
    """

    __slots__ = ("_allowed_colors", "_clock", "_lock", "_rng", "_state")

    def __init__(
        self,
        rules: Iterable[FaultRule] = (),
        *,
        rng: random.Random | None = None,
        enabled: bool = False,
        allowed_colors: Iterable[str] = (),
        clock: Clock = default_clock,
    ) -> None:
        if isinstance(allowed_colors, str):
            raise ConfigError(
                f"allowed_colors: must be a collection of colors, not the string {allowed_colors!r}"
            )
        self._allowed_colors = frozenset(allowed_colors)
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State(self._checked(rules), bool(enabled), None)

    @property
    def allowed_colors(self) -> frozenset[str]:
        """Colors that color-scoped rules may name (fixed at construction)."""
        return self._allowed_colors

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The current rules, in order."""
        return self._state.rules

    @property
    def enabled(self) -> bool:
        """Whether faults are being injected now (an ``enable(for_seconds=...)`` lapses)."""
        state = self._state
        return state.enabled and (state.until is None or self._clock() < state.until)

    def remaining(self) -> float | None:
        """Seconds until an ``enable(for_seconds=...)`` lapses: 0.0 when not injecting, None
        when injecting with no lapse."""
        state = self._state
        if not state.enabled:
            return 0.0
        if state.until is None:
            return None
        return max(0.0, state.until - self._clock())

    def gauge_readings(self, side: Side) -> Iterator[GaugeReading]:
        """While injecting, one ``fault.remaining_seconds`` reading per rule acting on
        ``side``: the seconds left before the faults switch themselves off (``inf`` with no
        lapse), labelled ``rule`` (the rule's label) and ``side``. Nothing when switched off."""
        left = self.remaining()
        if left == 0.0:
            return
        value = math.inf if left is None else left
        for rule in self._state.rules:
            if rule.side in (side, "both"):
                yield GaugeReading(
                    "fault.remaining_seconds", value, {"rule": rule.label, "side": side}
                )

    def enable(self, *, for_seconds: float | None = None) -> None:
        """Start injecting; with ``for_seconds`` (finite, > 0), stop by itself after that long."""
        self.switch(enabled=True, for_seconds=for_seconds)

    def disable(self) -> None:
        """Stop injecting; the rules are kept."""
        self.switch(enabled=False)

    def switch(
        self,
        rules: Iterable[FaultRule] | None = None,
        *,
        enabled: bool,
        for_seconds: float | None = None,
    ) -> None:
        """Set the rules (None keeps the current ones) and the switch in one step.

        Every argument is checked before anything changes, so a refused call (a
        :class:`~resilience.errors.ConfigError`) leaves the injector as it was, and a call in
        flight sees the old state or the new one, never a mix. ``for_seconds``: when
        enabling, stop by itself after that many seconds (finite, > 0); None for no limit.
        Ignored when ``enabled`` is False."""
        new_rules = None if rules is None else self._checked(rules)
        until = None
        if enabled and for_seconds is not None:
            if isinstance(for_seconds, bool) or not (
                isinstance(for_seconds, (int, float))
                and math.isfinite(for_seconds)
                and for_seconds > 0
            ):
                raise ConfigError(
                    f"for_seconds: must be a finite number of seconds > 0, got {for_seconds!r}"
                )
            until = self._clock() + for_seconds
        with self._lock:
            kept = self._state.rules if new_rules is None else new_rules
            self._state = _State(kept, bool(enabled), until)

    def replace_rules(self, rules: Iterable[FaultRule]) -> tuple[FaultRule, ...]:
        """Swap in a new rule set atomically (a call sees the old set or the new one, never a
        mix) and return the previous rules. Validates colors against ``allowed_colors`` first."""
        new_rules = self._checked(rules)
        with self._lock:
            previous = self._state
            self._state = _State(new_rules, previous.enabled, previous.until)
        return previous.rules

    def pick(self, side: Side, method: str, color: str | None) -> Fault | None:
        """The fault for one call on ``side`` ("server" or "client") to ``method`` carrying
        ``color`` (None when uncolored), or None. Pure apart from the rng draws."""
        state = self._state
        if not state.enabled:
            return None
        if state.until is not None and self._clock() >= state.until:
            return None
        delay = 0.0
        fired: FaultRule | None = None
        aborting: FaultRule | None = None
        rng = self._rng
        for rule in state.rules:
            if not rule.matches(side, method, color):
                continue
            if rule.percentage < 100.0 and rng.random() * 100.0 >= rule.percentage:
                continue
            fired = fired or rule
            if isinstance(rule.delay, tuple):
                delay += rng.uniform(*rule.delay)
            else:
                delay += rule.delay
            if aborting is None and rule.abort is not None:
                aborting = rule
        if fired is None:
            return None
        if aborting is None:
            return Fault(delay=delay, rule=fired.label)
        return Fault(delay, aborting.abort, aborting.message, aborting.label)

    def _checked(self, rules: Iterable[FaultRule]) -> tuple[FaultRule, ...]:
        checked = tuple(rules)
        for index, rule in enumerate(checked):
            if not isinstance(rule, FaultRule):
                raise ConfigError(f"rules[{index}]: must be a FaultRule, got {rule!r}")
            if rule.color is not None and rule.color not in self._allowed_colors:
                raise ConfigError(
                    f"rules[{index}].color: {rule.color!r} is not in allowed_colors "
                    f"{sorted(self._allowed_colors)}; list it there to let traffic of that "
                    "color receive faults"
                )
        return checked

    def __repr__(self) -> str:
        return f"FaultInjector(rules={len(self.rules)}, enabled={self.enabled})"


class InjectorRegistry:
    """Named injectors of a process, so an experiment or the admin service can reach them."""

    __slots__ = ("_by_name", "_lock")

    def __init__(self) -> None:
        self._by_name: dict[str, FaultInjector] = {}
        self._lock = threading.Lock()

    def register(self, name: str, injector: FaultInjector) -> FaultInjector:
        """Make ``injector`` reachable as ``name`` (replacing any previous one); returns it."""
        if not isinstance(name, str) or not name:
            raise ConfigError(f"name: must be a non-empty string, got {name!r}")
        with self._lock:
            self._by_name[name] = injector
        return injector

    def unregister(self, name: str) -> None:
        """Forget ``name`` (no error when absent)."""
        with self._lock:
            self._by_name.pop(name, None)

    def get(self, name: str) -> FaultInjector:
        """The injector registered as ``name``; LookupError listing the known names if none."""
        with self._lock:
            injector = self._by_name.get(name)
            known = sorted(self._by_name)
        if injector is None:
            raise LookupError(f"no fault injector registered as {name!r}; known: {known}")
        return injector

    def names(self) -> list[str]:
        """The registered names, sorted."""
        with self._lock:
            return sorted(self._by_name)


injectors = InjectorRegistry()
"""The process-wide registry used by default by the admin service and ``resilience chaos``."""
