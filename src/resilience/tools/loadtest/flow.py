"""Crafted flows: a TOML description of the calls a load test sends, and who picks the next one.

A flow file lists calls; each load-test call picks one at random in proportion to ``weight``::

    [[call]]
    method = "/echo.Echo/Say"
    request = "hello"                 # text (UTF-8)
    weight = 3

    [[call]]
    method = "/shop.Catalog/Browse"
    request = { hex = "0a03626f6f" }  # or { base64 = "CgNib28=" } or { text = "..." }
    metadata = { "x-client" = "loadtest" }

    [[call]]
    method = "/echo.Echo/Collect"
    requests = ["a", "b", { hex = "63" }]   # a request stream
    response_stream = false

Errors name the file, the line and the field: ``flow.toml:9: call[1].weight: must be > 0``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import itertools
import os
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from resilience.errors import ConfigError
from resilience.recording.format import CallSpec, MetadataValue, read_recording
from resilience.tools.loadtest import _toml

_CALL_FIELDS = frozenset({"method", "request", "requests", "weight", "metadata", "response_stream"})
MAX_CALLS = 100_000


class CallSource(Protocol):
    """Gives the next call to send; must be thread-safe."""

    def next_call(self) -> CallSpec:
        """The call to send next."""


@dataclass(frozen=True, slots=True)
class Flow:
    """Calls and their relative weights (same length, weights > 0)."""

    calls: tuple[CallSpec, ...]
    weights: tuple[float, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Flow:
        """Build from the parsed TOML tree; ConfigError names the field (``call[0].method``)."""
        unknown = sorted(set(data) - {"call"})
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown top-level key; a flow has [[call]] tables")
        items = data.get("call")
        if not isinstance(items, list) or not items:
            raise ConfigError("call: a flow needs at least one [[call]] table")
        if len(items) > MAX_CALLS:
            raise ConfigError(f"call: at most {MAX_CALLS} calls, got {len(items)}")
        parsed = [_parse_call(item, f"call[{i}]") for i, item in enumerate(items)]
        return cls(tuple(c for c, _ in parsed), tuple(w for _, w in parsed))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Flow:
        """Read a flow file; ConfigError names the file, the line and the field."""
        data, text = _toml.load(path)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise _toml.located(exc, path, text) from None


class WeightedPicker:
    """Picks calls of a :class:`Flow` at random, in proportion to their weights."""

    def __init__(self, flow: Flow, *, rng: random.Random | None = None) -> None:
        self._calls = flow.calls
        self._cumulative = list(itertools.accumulate(flow.weights))
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.Lock()

    def next_call(self) -> CallSpec:
        with self._lock:
            point = self._rng.random() * self._cumulative[-1]
        return self._calls[bisect.bisect_right(self._cumulative, point)]


class ReplaySource:
    """Sends recorded calls in their recorded order, starting over at the end."""

    def __init__(self, calls: Sequence[CallSpec]) -> None:
        if not calls:
            raise ConfigError("replay: the recording holds no calls")
        self._calls = tuple(calls)
        self._next = itertools.cycle(self._calls)
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, paths: Sequence[str | os.PathLike[str]], *, limit: int = MAX_CALLS * 10
    ) -> ReplaySource:
        """Read recordings (oldest first, e.g. ``rec.jsonl.2 rec.jsonl.1 rec.jsonl``), keeping at
        most ``limit`` calls."""
        calls: list[CallSpec] = []
        for path in paths:
            calls.extend(itertools.islice(read_recording(path), limit - len(calls)))
        return cls(calls)

    @property
    def calls(self) -> tuple[CallSpec, ...]:
        """The recorded calls, in order."""
        return self._calls

    def next_call(self) -> CallSpec:
        with self._lock:
            return next(self._next)


def _parse_call(item: Any, where: str) -> tuple[CallSpec, float]:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: must be a table")
    unknown = sorted(set(item) - _CALL_FIELDS)
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown field; expected one of {sorted(_CALL_FIELDS)}"
        )
    method = item.get("method")
    if not isinstance(method, str) or not method.startswith("/") or method.count("/") != 2:
        raise ConfigError(
            f"{where}.method: must be a full method name like '/pkg.Svc/Method', got {method!r}"
        )
    if ("request" in item) == ("requests" in item):
        raise ConfigError(
            f"{where}.request: give exactly one of request (one message) or requests (a stream)"
        )
    if "request" in item:
        requests: tuple[bytes, ...] = (_message(item["request"], f"{where}.request"),)
    else:
        raw = item["requests"]
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{where}.requests: must be a non-empty list of messages")
        requests = tuple(_message(m, f"{where}.requests") for m in raw)
    weight = item.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise ConfigError(f"{where}.weight: must be a number > 0, got {weight!r}")
    response_stream = item.get("response_stream", False)
    if not isinstance(response_stream, bool):
        raise ConfigError(
            f"{where}.response_stream: must be true or false, got {response_stream!r}"
        )
    shape = ("stream" if "requests" in item else "unary") + (
        "_stream" if response_stream else "_unary"
    )
    call = CallSpec(
        method, requests, _metadata(item.get("metadata", {}), f"{where}.metadata"), shape
    )
    return call, float(weight)


def _message(value: Any, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ConfigError(
            f"{where}: must be text or a table with one of text, base64, hex; got {value!r}"
        )
    ((kind, data),) = value.items()
    if not isinstance(data, str):
        raise ConfigError(f"{where}.{kind}: must be a string, got {data!r}")
    try:
        if kind == "text":
            return data.encode("utf-8")
        if kind == "base64":
            return base64.b64decode(data, validate=True)
        if kind == "hex":
            return bytes.fromhex(data)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}.{kind}: {data[:40]!r} is not valid {kind}") from None
    raise ConfigError(f"{where}: unknown encoding {kind!r}; use text, base64 or hex")


def _metadata(value: Any, where: str) -> tuple[tuple[str, MetadataValue], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where}: must be a table of key = "value"')
    pairs: list[tuple[str, MetadataValue]] = []
    for key, item in value.items():
        if not isinstance(item, str) or key != key.lower() or key.startswith(("grpc-", ":")):
            raise ConfigError(
                f"{where}: {key!r} must be a lowercase, non-reserved key with a string value"
            )
        pairs.append((key, base64.b64decode(item) if key.endswith("-bin") else item))
    return tuple(pairs)
