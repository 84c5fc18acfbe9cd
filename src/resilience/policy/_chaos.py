"""The policy's top-level chaos and recording sections: ``faults``, ``chaos`` and ``record``.

They configure plug-ins of the interceptors rather than per-method algorithms, so they sit at
the top of the tree, next to ``methods``::

    [chaos]                       # off unless enabled; color-scoped faults need their color here
    enabled = true
    allowed_colors = ["loadtest"]
    seed = 7                      # reproducible fault draws

    [[faults]]                    # resilience.chaos.FaultRule fields
    method = "/shop.Cart/*"
    color = "loadtest"
    percentage = 10
    abort = "UNAVAILABLE"

    [record]                      # resilience.tools.loadtest.TrafficRecorder on servers
    rate = 0.01
    path = "traffic.jsonl"

Validation errors name the key path and the bad value, as the rest of the policy does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from resilience._base.limits import MAX_ENTRIES, MAX_RECORD_BYTES, shown
from resilience.chaos._rules import FaultRule, rules_from_dicts
from resilience.context import valid_color
from resilience.policy._values import (
    Converter,
    Invalid,
    SettingError,
    boolean,
    check_keys,
    convert,
    integer,
    number,
)

DEFAULT_RECORD_MAX_BYTES = 64 * 1024 * 1024
"""Size bound of one recording file, in bytes (then it rotates)."""


def _colors(raw: object) -> frozenset[str]:
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        raise Invalid(f"must be a list of traffic colors, got {shown(raw)}")
    items = _bounded_list(raw, "colors")
    bad = [shown(color) for color in items if not isinstance(color, str) or not valid_color(color)]
    if bad:
        raise Invalid(f"colors are 1 to 64 characters of [A-Za-z0-9_.-], got {', '.join(bad[:5])}")
    return frozenset(str(color) for color in items)


def _seed(raw: object) -> int | None:
    if raw is None or (isinstance(raw, int) and not isinstance(raw, bool)):
        return raw
    raise Invalid(f"must be an integer, got {shown(raw)}")


def _path(raw: object) -> str:
    if isinstance(raw, os.PathLike):
        raw = os.fspath(raw)
    if isinstance(raw, str) and raw.strip():
        return raw
    raise Invalid(f"must be a file path, got {shown(raw)}")


def _keys(raw: object) -> tuple[str, ...]:
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        raise Invalid(f"must be a list of metadata keys, got {shown(raw)}")
    keys = _bounded_list(raw, "metadata keys")
    if not all(isinstance(key, str) and key for key in keys):
        raise Invalid(f"must be a list of non-empty metadata keys, got {shown(keys)}")
    return tuple(str(key) for key in keys)


def _bounded_list(raw: Iterable[object], what: str) -> list[object]:
    items: list[object] = []
    for item in raw:
        if len(items) == MAX_ENTRIES:
            raise Invalid(f"must hold at most {MAX_ENTRIES} {what}")
        items.append(item)
    return items


_CHAOS_FIELDS: dict[str, Converter[Any]] = {
    "enabled": boolean,
    "allowed_colors": _colors,
    "seed": _seed,
}

_RECORD_FIELDS: dict[str, Converter[Any]] = {
    "rate": number(ge=0, le=1),
    "path": _path,
    "max_bytes": integer(ge=256, le=MAX_RECORD_BYTES),
    "backups": integer(ge=0, le=100),
    "secret_keys": _keys,
}


@dataclass(frozen=True, slots=True)
class ChaosSettings:
    """Fault injection from a policy: the ``faults`` rules (:class:`resilience.chaos.FaultRule`)
    and the ``chaos`` switches. ``enabled``: inject from the start (off by default; an
    injector can still be switched on at runtime). ``allowed_colors``: the traffic colors a
    color-scoped rule may name. ``seed``: seeds the draws, for reproducible experiments.

    The interceptors build one :class:`resilience.chaos.FaultInjector` from it: servers apply
    ``side = "server"`` rules before admission, clients ``side = "client"`` rules before
    sending."""

    faults: tuple[FaultRule, ...] = ()
    enabled: bool = False
    allowed_colors: frozenset[str] = field(default_factory=frozenset)
    seed: int | None = None

    def __post_init__(self) -> None:
        for key, converter in _CHAOS_FIELDS.items():
            object.__setattr__(self, key, convert(f"chaos.{key}", converter, getattr(self, key)))
        faults = tuple(self.faults)
        for index, rule in enumerate(faults):
            if not isinstance(rule, FaultRule):
                raise SettingError(f"faults[{index}]", f"must be a FaultRule, got {shown(rule)}")
            if rule.color is not None and rule.color not in self.allowed_colors:
                raise SettingError(
                    f"faults[{index}].color",
                    f"{shown(rule.color)} is not in chaos.allowed_colors "
                    f"{sorted(self.allowed_colors)}; list it there to let that color get faults",
                )
        object.__setattr__(self, "faults", faults)


@dataclass(frozen=True, slots=True)
class RecordSettings:
    """Traffic recording on servers (:class:`resilience.tools.loadtest.TrafficRecorder`): a ``rate``
    (0..1) share of calls written to ``path``, rotated at ``max_bytes`` with ``backups`` old
    files kept; ``secret_keys``: metadata keys never written (besides authorization and
    cookies, which never are)."""

    path: str
    rate: float = 0.01
    max_bytes: int = DEFAULT_RECORD_MAX_BYTES
    backups: int = 3
    secret_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key, converter in _RECORD_FIELDS.items():
            object.__setattr__(self, key, convert(f"record.{key}", converter, getattr(self, key)))


def parse_chaos(faults: object, chaos: object) -> ChaosSettings | None:
    """The ``faults`` list and ``chaos`` table of a policy tree (either may be None) as one
    :class:`ChaosSettings`, or None when both are absent."""
    if faults is None and chaos is None:
        return None
    if isinstance(chaos, ChaosSettings):
        return chaos if faults is None else ChaosSettings(_rules(faults), *_switches(chaos))
    table = _table("chaos", {} if chaos is None else chaos)
    check_keys("chaos", table.keys(), _CHAOS_FIELDS)
    return ChaosSettings(() if faults is None else _rules(faults), **table)


def parse_record(record: object) -> RecordSettings | None:
    """The ``record`` table of a policy tree, or None when absent."""
    if record is None or isinstance(record, RecordSettings):
        return record
    table = _table("record", record)
    check_keys("record", table.keys(), _RECORD_FIELDS)
    if "path" not in table:
        raise SettingError("record.path", "missing; say where to write the recording")
    return RecordSettings(**table)


def _rules(faults: object) -> tuple[FaultRule, ...]:
    if isinstance(faults, (list, tuple)) and all(isinstance(rule, FaultRule) for rule in faults):
        return tuple(faults)  # already rules (a policy built in code)
    if isinstance(faults, (list, tuple)) and len(faults) > MAX_ENTRIES:
        raise SettingError("faults", f"must hold at most {MAX_ENTRIES} rules, got {len(faults)}")
    return rules_from_dicts(faults, where="faults")


def _switches(chaos: ChaosSettings) -> tuple[bool, frozenset[str], int | None]:
    return chaos.enabled, chaos.allowed_colors, chaos.seed


def _table(path: str, raw: object) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise SettingError(path, f"must be a table, got {shown(raw)}")
    return raw
