"""Method patterns and their resolution into one :class:`MethodSettings` per pattern.

Patterns are ``*`` (every method), ``/pkg.Service/*`` (a service) and ``/pkg.Service/Method``.
A method's settings are built from layers, least specific first: the built-in defaults, ``*``,
its service's pattern, its own pattern. Plain keys (``tier``, ``read``...) are taken from the
most specific layer that gives them. Sections (``breaker``, ``timeout``...) carry an on/off
switch and keys: a table turns the section on and sets its keys over those of less specific
layers, key by key; ``true`` turns it on and ``false`` off, keeping the keys given so far.

Every method falls into one of the patterns' chains, so all settings a policy can return are
built (and validated) when it is loaded; a lookup only picks one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from resilience._base.limits import shown
from resilience._base.patterns import PATTERN_HELP, split_pattern
from resilience.policy._schema import (
    ONE_OF_RETRY_OR_HEDGING,
    SCALARS,
    SECTIONS,
    MethodSettings,
    SectionSpec,
)
from resilience.policy._values import SettingError, check_keys, convert

METHOD_KEYS: frozenset[str] = frozenset(SECTIONS) | frozenset(SCALARS)
"""Every key a method pattern's table may hold."""

SHARED_BY_PATTERN = ("rate_limit", "bulkhead")
"""Sections with a ``key``: one instance for every method the declaring pattern matches."""


@dataclass(frozen=True, slots=True)
class SectionPatch:
    """What one layer says about a section: switch it ``on`` or off, and set ``keys``."""

    on: bool
    keys: Mapping[str, Any]


Layer = Mapping[str, Any]
"""One pattern's parsed table: plain key -> value, section name -> SectionPatch."""


def parse_layer(path: str, entry: object) -> Layer:
    """Check and convert one pattern's table; ``path`` is ``methods.<pattern>``."""
    if not isinstance(entry, Mapping):
        raise SettingError(path, f"must be a table of method settings, got {shown(entry)}")
    check_keys(path, entry.keys(), METHOD_KEYS)
    layer: dict[str, Any] = {}
    for key, raw in entry.items():
        spec = SECTIONS.get(key)
        if spec is None:
            layer[key] = convert(f"{path}.{key}", SCALARS[key], raw)
        else:
            layer[key] = _parse_section(f"{path}.{key}", spec, raw)
    return layer


def _parse_section(path: str, spec: SectionSpec, raw: object) -> SectionPatch:
    if isinstance(raw, bool):
        return SectionPatch(on=raw, keys={})
    if isinstance(raw, spec.cls):
        return SectionPatch(on=True, keys={name: getattr(raw, name) for name in spec.fields})
    if not isinstance(raw, Mapping):
        raise SettingError(path, f"must be a table, true or false, got {shown(raw)}")
    check_keys(path, raw.keys(), spec.fields)
    keys = {key: convert(f"{path}.{key}", spec.fields[key], value) for key, value in raw.items()}
    return SectionPatch(on=True, keys=keys)


def pattern_service(path: str, pattern: str) -> tuple[str, bool]:
    """Split a pattern into its service (``/pkg.Service``, or ``""`` for ``*``) and whether it
    names the whole service; SettingError naming ``path`` for anything else."""
    split = split_pattern(pattern)
    if split is None:
        raise SettingError(path, f"not a method pattern: {shown(pattern)}; {PATTERN_HELP}")
    return split


def resolve(
    path: str, chain: list[tuple[str, Layer]], default_store: str | None = None
) -> MethodSettings:
    """Merge ``(pattern, layer)`` pairs, least specific first, into validated settings.

    ``path`` names the most specific pattern for error messages. A rate limit or bulkhead
    without a ``key`` gets the pattern of the most specific layer that mentioned its section
    (see :data:`SHARED_BY_PATTERN`); a rate limit whose layers name no ``store`` gets
    ``default_store`` (when given).
    """
    switches = {name: spec.on_by_default for name, spec in SECTIONS.items()}
    keys: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    declared: dict[str, str] = {}
    plain: dict[str, Any] = {}
    for pattern, layer in chain:
        for key, value in layer.items():
            if isinstance(value, SectionPatch):
                switches[key] = value.on
                keys[key].update(value.keys)
                declared[key] = pattern
            else:
                plain[key] = value
    if default_store is not None and "store" not in keys["rate_limit"]:
        keys["rate_limit"]["store"] = default_store
    if switches["retry"] and switches["hedging"]:
        where = f"retry from {declared['retry']!r}, hedging from {declared['hedging']!r}"
        raise SettingError(f"{path}.hedging", f"{ONE_OF_RETRY_OR_HEDGING} ({where})")
    sections: dict[str, Any] = {}
    for name, spec in SECTIONS.items():
        sections[name] = (
            _build_section(f"{path}.{name}", spec, keys[name]) if switches[name] else None
        )
    for name in SHARED_BY_PATTERN:
        section = sections[name]
        if section is not None and section.key is None:
            sections[name] = dataclasses.replace(section, key=declared[name])
    return MethodSettings(**plain, **sections)


def _build_section(path: str, spec: SectionSpec, keys: Mapping[str, Any]) -> Any:
    for required in spec.required:
        if required not in keys:
            section = path.rpartition(".")[2]
            raise SettingError(f"{path}.{required}", f"required when {section} is on")
    try:
        return spec.cls(**keys)
    except SettingError as exc:  # its key starts with the section name
        raise exc.under(path.rpartition(".")[0]) from None


class MethodTable:
    """Settings for every pattern of a policy, and the lookup of a method among them."""

    __slots__ = ("exact", "fallback", "services")

    def __init__(self, layers: Mapping[str, Layer], default_store: str | None = None) -> None:
        star = [("*", layers["*"])] if "*" in layers else []
        self.fallback = resolve("methods.*", star, default_store)
        service_chains: dict[str, list[tuple[str, Layer]]] = {}
        method_layers: list[tuple[str, Layer]] = []
        for pattern, layer in layers.items():
            if pattern == "*":
                continue
            service, whole = pattern_service(f"methods.{pattern}", pattern)
            if whole:
                service_chains[service] = [*star, (pattern, layer)]
            else:
                method_layers.append((pattern, layer))
        self.services: dict[str, MethodSettings] = {
            service: resolve(f"methods.{chain[-1][0]}", chain, default_store)
            for service, chain in service_chains.items()
        }
        self.exact: dict[str, MethodSettings] = {}
        for pattern, layer in method_layers:
            base = service_chains.get(pattern.rpartition("/")[0], star)
            chain = [*base, (pattern, layer)]
            self.exact[pattern] = resolve(f"methods.{pattern}", chain, default_store)

    def lookup(self, method: str) -> MethodSettings:
        """The settings of ``method`` (``/pkg.Service/Method``): its own pattern, else its
        service's, else ``*``'s (also for names that are not of that form)."""
        found = self.exact.get(method)
        if found is None:
            found = self.services.get(method.rpartition("/")[0], self.fallback)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MethodTable):
            return NotImplemented
        return (self.fallback, self.services, self.exact) == (
            other.fallback,
            other.services,
            other.exact,
        )

    __hash__ = None  # type: ignore[assignment]
