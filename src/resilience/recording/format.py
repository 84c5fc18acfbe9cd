"""The recording file format (version 1) and the call description the load generator sends.

A recording is UTF-8 JSON Lines. The first line is a header::

    {"format": "resilience-recording", "version": 1}

and every following line is one call::

    {"t": 1732579200.25, "method": "/echo.Echo/Say", "shape": "unary_unary",
     "requests": ["aGVsbG8="], "metadata": [["x-user", "alice"], ["ctx-bin", "AAE="]]}

- ``t``: when the call arrived, seconds since the Unix epoch (float);
- ``method``: the full method name;
- ``shape``: ``unary_unary``, ``unary_stream``, ``stream_unary`` or ``stream_stream`` (the
  response side is a best guess where the recorder cannot see it; replay reads every response
  as a stream, which gRPC's wire format makes valid for any method);
- ``requests``: the serialized request messages, base64 (one for a unary request, the
  messages of the request stream in order otherwise);
- ``metadata``: ``[key, value]`` pairs; values of keys ending in ``-bin`` are base64.

Readers refuse another ``format`` or a newer ``version``, and ignore unknown fields so that a
later version 1 writer may add some. A rotated recording is several such files, each with its
own header.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from resilience.errors import ConfigError

FORMAT_NAME = "resilience-recording"
FORMAT_VERSION = 1
SHAPES: tuple[str, ...] = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")

MetadataValue = str | bytes


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One call to send: a full method name, its serialized request messages, extra request
    metadata, the RPC shape and, for recorded calls, the arrival time (epoch seconds)."""

    method: str
    requests: tuple[bytes, ...]
    metadata: tuple[tuple[str, MetadataValue], ...] = ()
    shape: str = "unary_unary"
    timestamp: float = 0.0

    @property
    def request_streaming(self) -> bool:
        """Whether the client sends a stream of requests."""
        return self.shape.startswith("stream_")

    @property
    def response_streaming(self) -> bool:
        """Whether the server answers with a stream."""
        return self.shape.endswith("_stream")


def header_line() -> str:
    """The first line of every recording file (no trailing newline)."""
    return json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION})


def encode_call(call: CallSpec) -> str:
    """One recording line for ``call`` (no trailing newline)."""
    metadata = [
        [key, base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value]
        for key, value in call.metadata
    ]
    return json.dumps(
        {
            "t": call.timestamp,
            "method": call.method,
            "shape": call.shape,
            "requests": [base64.b64encode(r).decode("ascii") for r in call.requests],
            "metadata": metadata,
        },
        separators=(",", ":"),
    )


def decode_call(line: str) -> CallSpec:
    """Parse one call line; ConfigError names the bad field."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ConfigError("a call line must be a JSON object")
    method = data.get("method")
    if not isinstance(method, str) or not method.startswith("/") or method.count("/") != 2:
        raise ConfigError(f"method: must be a full method name like '/pkg.Svc/M', got {method!r}")
    shape = data.get("shape", "unary_unary")
    if shape not in SHAPES:
        raise ConfigError(f"shape: must be one of {list(SHAPES)}, got {shape!r}")
    requests = data.get("requests")
    if not isinstance(requests, list) or not all(isinstance(r, str) for r in requests):
        raise ConfigError("requests: must be a list of base64 strings")
    if not shape.startswith("stream_") and len(requests) != 1:
        raise ConfigError(f"requests: a {shape} call has exactly one request, got {len(requests)}")
    timestamp = data.get("t", 0.0)
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise ConfigError(f"t: must be a number of seconds, got {timestamp!r}")
    return CallSpec(
        method=method,
        requests=tuple(_b64(r, "requests") for r in requests),
        metadata=_decode_metadata(data.get("metadata", [])),
        shape=shape,
        timestamp=float(timestamp),
    )


def read_recording(path: str | os.PathLike[str]) -> Iterator[CallSpec]:
    """Yield the calls of one recording file in order. Errors are ConfigError naming the file,
    the line and the field: ``rec.jsonl:7: requests: must be a list of base64 strings``."""
    try:
        lines = open(path, encoding="utf-8")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise ConfigError(f"{os.fspath(path)}: cannot read: {exc.strerror}") from None
    with lines:
        header_seen = False
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                if header_seen:
                    yield decode_call(line)
                else:
                    _check_header(line)
                    header_seen = True
            except ConfigError as exc:
                raise ConfigError(f"{os.fspath(path)}:{number}: {exc}") from None
        if not header_seen:
            raise ConfigError(f"{os.fspath(path)}:1: format: empty file, no recording header")


def _check_header(line: str) -> None:
    try:
        header: Any = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ConfigError(f"format: the first line must be the header {header_line()}")
    version = header.get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ConfigError(
            f"version: this reader understands version {FORMAT_VERSION}, got {version!r}"
        )


def _decode_metadata(items: Any) -> tuple[tuple[str, MetadataValue], ...]:
    if not isinstance(items, list):
        raise ConfigError("metadata: must be a list of [key, value] pairs")
    pairs: list[tuple[str, MetadataValue]] = []
    for item in items:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(part, str) for part in item)
        ):
            raise ConfigError(f"metadata: each entry must be a [key, value] pair, got {item!r}")
        key, value = item
        pairs.append((key, _b64(value, "metadata") if key.endswith("-bin") else value))
    return tuple(pairs)


def _b64(text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ConfigError(f"{field}: {text[:40]!r} is not valid base64") from None
