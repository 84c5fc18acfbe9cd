"""Chaos experiments: faults on for a bounded time while a colored load runs, then a report.

An experiment file (TOML)::

    [experiment]
    name = "cart aborts"
    target = "127.0.0.1:50051"   # the service under load
    admin = "127.0.0.1:50052"    # its admin service (default: target)
    injector = "default"         # the injector's name in the service's registry
    baseline = 5.0               # seconds of load before the faults (default 0)
    duration = 10.0              # seconds the faults stay on
    recovery = 5.0               # seconds of load after them (default 0)
    metrics = "http://127.0.0.1:9464/metrics"   # optional Prometheus endpoint to compare

    [load]                       # the options of `resilience loadtest`
    flow = "flow.toml"           # or replay = ["traffic.jsonl"]; relative to this file
    rate = 50
    concurrency = 8
    color = "loadtest"
    engine = "sync"

    [[faults]]                   # FaultRule fields
    method = "/shop.Cart/*"
    color = "loadtest"
    percentage = 30
    abort = "UNAVAILABLE"

Errors name the file, the line and the field (``exp.toml:14: faults[0].percentage: ...``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from resilience.chaos._rules import FaultRule, rules_from_dicts
from resilience.errors import ConfigError
from resilience.tools.loadtest import _toml
from resilience.tools.loadtest._core import LoadSettings

_EXPERIMENT_KEYS = {
    "name", "target", "admin", "injector", "baseline", "duration", "recovery", "metrics",
    "token_env",
}  # fmt: skip
_LOAD_KEYS = {"flow", "replay", "rate", "ramp", "concurrency", "color", "engine", "timeout", "seed"}
MAX_PHASE = 3600.0


@dataclass(frozen=True, slots=True)
class Experiment:
    """A parsed experiment; durations in seconds, paths resolved against the file's folder."""

    name: str
    target: str
    admin: str
    injector: str
    baseline: float
    duration: float
    recovery: float
    metrics: str | None
    token_env: str
    rules: tuple[FaultRule, ...]
    flow: str | None
    replay: tuple[str, ...]
    engine: str
    seed: int | None
    load: LoadSettings

    @property
    def total(self) -> float:
        """Seconds of load: baseline + duration + recovery."""
        return self.baseline + self.duration + self.recovery

    @classmethod
    def load_file(cls, path: str | os.PathLike[str]) -> Experiment:
        """Read an experiment file; ConfigError names the file, the line and the field."""
        data, text = _toml.load(path)
        try:
            return cls.from_dict(data, base=os.path.dirname(os.path.abspath(path)))
        except ConfigError as exc:
            raise _toml.located(exc, path, text) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: str = ".") -> Experiment:
        """Build from the parsed TOML tree; ConfigError names the field."""
        unknown = sorted(set(data) - {"experiment", "load", "faults"})
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown table; expected experiment, load, faults")
        exp = _table(data, "experiment", _EXPERIMENT_KEYS)
        load = _table(data, "load", _LOAD_KEYS)
        target = _text(exp, "experiment.target", None)
        flow, replay = load.get("flow"), load.get("replay", [])
        if (flow is None) == (not replay):
            raise ConfigError("load.flow: give exactly one of load.flow or load.replay")
        if flow is not None and not isinstance(flow, str):
            raise ConfigError(f"load.flow: must be a file path, got {flow!r}")
        if not isinstance(replay, list) or not all(isinstance(p, str) for p in replay):
            raise ConfigError(f"load.replay: must be a list of file paths, got {replay!r}")
        baseline = _seconds(exp, "baseline", 0.0)
        duration = _seconds(exp, "duration", None)
        recovery = _seconds(exp, "recovery", 0.0)
        if not duration > 0:
            raise ConfigError(f"experiment.duration: must be > 0 seconds, got {duration!r}")
        engine = load.get("engine", "sync")
        if engine not in ("sync", "aio"):
            raise ConfigError(f"load.engine: must be 'sync' or 'aio', got {engine!r}")
        try:
            settings = LoadSettings(
                rate=_number(load, "rate", 10.0),
                duration=baseline + duration + recovery,
                ramp=_number(load, "ramp", 0.0),
                concurrency=int(_number(load, "concurrency", 16)),
                timeout=_number(load, "timeout", 10.0),
                color=load.get("color", "loadtest") or None,
            )
        except ConfigError as exc:
            raise ConfigError(f"load.{exc}") from None
        return cls(
            name=_text(exp, "experiment.name", "experiment"),
            target=target,
            admin=_text(exp, "experiment.admin", target),
            injector=_text(exp, "experiment.injector", "default"),
            baseline=baseline,
            duration=duration,
            recovery=recovery,
            metrics=exp.get("metrics"),
            token_env=_text(exp, "experiment.token_env", "RESILIENCE_ADMIN_TOKEN"),
            rules=rules_from_dicts(data.get("faults", []), where="faults"),
            flow=None if flow is None else os.path.join(base, flow),
            replay=tuple(os.path.join(base, p) for p in replay),
            engine=engine,
            seed=load.get("seed"),
            load=settings,
        )


def _table(data: Mapping[str, Any], name: str, keys: set[str]) -> Mapping[str, Any]:
    table = data.get(name)
    if not isinstance(table, Mapping):
        raise ConfigError(f"{name}: the [{name}] table is required")
    unknown = sorted(set(table) - keys)
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}: unknown key; expected one of {sorted(keys)}")
    return table


def _text(table: Mapping[str, Any], field: str, default: str | None) -> str:
    value = table.get(field.rsplit(".", 1)[1], default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{field}: must be a non-empty string, got {value!r}")
    return value


def _number(table: Mapping[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: must be a number, got {value!r}")
    return float(value)


def _seconds(table: Mapping[str, Any], key: str, default: float | None) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"experiment.{key}: must be a number of seconds, got {value!r}")
    if not 0 <= value <= MAX_PHASE:
        raise ConfigError(f"experiment.{key}: must be in [0, {MAX_PHASE:g}] seconds, got {value!r}")
    return float(value)
