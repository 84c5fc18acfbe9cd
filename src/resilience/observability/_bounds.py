"""Bounded attribute values: what keeps metric series, span names and tags from exploding.

A traffic color arrives from the network (W3C baggage) and a method name from whatever a client
asked for, so neither may become an attribute value as is: colors outside an allow-list collapse
to ``"other"``, and method names beyond a fixed number of distinct ones collapse to ``"_OTHER"``
(the value the OpenTelemetry RPC conventions give an unrecognised method).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from resilience._base.limits import MAX_CACHE_SIZE
from resilience.errors import ConfigError

DEFAULT_COLORS: frozenset[str] = frozenset({"loadtest", "shadow"})
"""Colors exported as themselves unless configured otherwise."""

DEFAULT_MAX_METHODS = 1000
"""Distinct method names exported as themselves before new ones collapse to ``OTHER_METHOD``."""

NO_COLOR = "none"
"""The color value of a call that carries no traffic color (ordinary production traffic)."""

OTHER_COLOR = "other"
"""The color value of a call whose color is not in the allow-list."""

OTHER_METHOD = "_OTHER"
"""The method value once the bound on distinct methods is reached (OTel RPC conventions)."""

RPC_SYSTEM_NAME = "rpc.system.name"
RPC_SYSTEM = "grpc"
"""``rpc.system.name`` and its value on every series about a gRPC method (RPC conventions)."""

_TIERS = {None: "none", 1: "1", 2: "2", 3: "3", 4: "4"}


class AttributeBounds:
    """Maps raw call attributes to bounded values; thread-safe, O(1) per call after warm-up.

    ``colors``: the traffic colors exported as themselves (besides ``"none"``); any other color
    becomes ``"other"``. ``max_methods``: how many distinct method names are exported as
    themselves; later new names become ``"_OTHER"``. Method names lose their leading slash
    (``/pkg.Service/Method`` -> ``pkg.Service/Method``, the form of ``rpc.method``).
    """

    __slots__ = ("_colors", "_lock", "_max_methods", "_methods")

    def __init__(
        self,
        *,
        colors: Iterable[str] = DEFAULT_COLORS,
        max_methods: int = DEFAULT_MAX_METHODS,
    ) -> None:
        if isinstance(colors, str):
            raise ConfigError(f"colors must be a collection of names, not the string {colors!r}")
        allowed = frozenset(colors)
        for color in allowed:
            if not isinstance(color, str) or not color or color in (NO_COLOR, OTHER_COLOR):
                raise ConfigError(
                    f"colors: each color must be a non-empty string other than {NO_COLOR!r} "
                    f"and {OTHER_COLOR!r}, got {color!r}"
                )
        if (
            isinstance(max_methods, bool)
            or not isinstance(max_methods, int)
            or not 1 <= max_methods <= MAX_CACHE_SIZE
        ):
            raise ConfigError(
                f"max_methods must be an integer >= 1 and <= {MAX_CACHE_SIZE}, got {max_methods!r}"
            )
        self._colors = allowed
        self._max_methods = max_methods
        self._methods: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def colors(self) -> frozenset[str]:
        """The allow-listed colors."""
        return self._colors

    def color(self, color: str | None) -> str:
        """``"none"`` for no color, the color itself when allow-listed, else ``"other"``."""
        if color is None or color == "":
            return NO_COLOR
        return color if color in self._colors else OTHER_COLOR

    def method(self, method: str) -> str:
        """The ``rpc.method`` value for a full gRPC method name, bounded as described above."""
        bounded = self._methods.get(method)
        if bounded is not None:
            return bounded
        with self._lock:
            bounded = self._methods.get(method)
            if bounded is None:
                if len(self._methods) < self._max_methods:
                    bounded = method[1:] if method.startswith("/") else method
                    self._methods[method] = bounded
                else:
                    bounded = OTHER_METHOD
            return bounded

    def exported(self, raw: Mapping[str, str]) -> dict[str, str]:
        """A gauge reading's or decision event's attributes in the library's one scheme:
        ``method`` becomes ``rpc.system.name="grpc"`` and the bounded ``rpc.method`` (the RPC
        semantic conventions), a key that already has a namespace (a dot) stays, and any
        other key is put under ``resilience.`` (``side`` -> ``resilience.side``, ``target`` ->
        ``resilience.target``, ``limit`` -> ``resilience.limit``)."""
        exported: dict[str, str] = {}
        for key, value in raw.items():
            if key == "method":
                exported[RPC_SYSTEM_NAME] = RPC_SYSTEM
                exported["rpc.method"] = self.method(value)
            elif "." in key:
                exported[key] = value
            else:
                exported[f"resilience.{key}"] = value
        return exported

    @staticmethod
    def tier(tier: int | None) -> str:
        """``"1"`` to ``"4"``, ``"none"`` when unknown, ``"other"`` for anything out of range."""
        return _TIERS.get(tier, "other")

    def __repr__(self) -> str:
        return f"AttributeBounds(colors={sorted(self._colors)!r}, max_methods={self._max_methods})"
