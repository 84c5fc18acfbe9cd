"""Runtime switches that turn cross-center failover off for everything, a service or a method."""

from __future__ import annotations

import threading

from resilience._base.patterns import PATTERN_HELP, is_pattern, service_pattern


def _check_pattern(pattern: str) -> str:
    if not is_pattern(pattern):
        raise ValueError(f"not a method pattern: {pattern!r}; {PATTERN_HELP}")
    return pattern


class FailoverSwitches:
    """Which methods may fail over right now, changed at runtime and read on every call.

    A method is switched off when ``"*"``, its service pattern (``"/pkg.Svc/*"``) or its full
    name (``"/pkg.Svc/Method"``) is disabled. :meth:`disable` and :meth:`enable` take effect for
    the next failover decision of every channel sharing this object (no call in flight is
    interrupted); :attr:`enabled` is the global switch, the same as disabling ``"*"``.
    Thread-safe; :meth:`allows` is a few set lookups and takes no lock.
    """

    __slots__ = ("_disabled", "_lock")

    def __init__(self, *, enabled: bool = True, disabled: tuple[str, ...] = ()) -> None:
        self._lock = threading.Lock()
        patterns = {_check_pattern(p) for p in disabled}
        if not enabled:
            patterns.add("*")
        self._disabled: frozenset[str] = frozenset(patterns)

    @property
    def enabled(self) -> bool:
        """The global switch: False while ``"*"`` is disabled."""
        return "*" not in self._disabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if value:
            self.enable("*")
        else:
            self.disable("*")

    @property
    def disabled(self) -> frozenset[str]:
        """The patterns switched off, for display."""
        return self._disabled

    def disable(self, pattern: str = "*") -> None:
        """Switch failover off for ``pattern`` (``"*"``, ``"/pkg.Svc/*"`` or a full method)."""
        _check_pattern(pattern)
        with self._lock:
            self._disabled = self._disabled | {pattern}

    def enable(self, pattern: str = "*") -> None:
        """Undo :meth:`disable` for exactly ``pattern``; other disabled patterns stay off."""
        _check_pattern(pattern)
        with self._lock:
            self._disabled = self._disabled - {pattern}

    def allows(self, method: str) -> bool:
        """Whether ``method`` (``/pkg.Svc/Method``) may fail over under the current switches."""
        disabled = self._disabled
        if not disabled:
            return True
        if "*" in disabled or method in disabled:
            return False
        service = service_pattern(method)
        return service is None or service not in disabled

    def __repr__(self) -> str:
        return f"FailoverSwitches(disabled={sorted(self._disabled)!r})"
