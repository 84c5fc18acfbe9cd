"""A callee's own word on when to retry: gRPC's ``grpc-retry-pushback-ms`` and HTTP's
``Retry-After``."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import grpc

PUSHBACK_KEY = "grpc-retry-pushback-ms"

NO_RETRY = -1.0
"""The pushback of a callee that said not to retry."""


def pushback(exc: BaseException, *, now: float | None = None) -> float | None:
    """Seconds the callee asked to wait before a retry, :data:`NO_RETRY` when it asked for no
    retry, or None when it said nothing.

    - a ``grpc.RpcError`` whose trailing metadata has ``grpc-retry-pushback-ms``: a
      non-negative integer of milliseconds is the delay; a negative or unparseable value means
      do not retry (gRPC's retry design, proposal A6);
    - an exception with a ``retry_after`` attribute (seconds, or an HTTP ``Retry-After``
      value), or with ``response.headers["Retry-After"]`` (httpx's and requests'
      ``HTTPStatusError``/``HTTPError``): delay-seconds or an HTTP-date (RFC 9110, 10.2.3);
      an unparseable value is ignored.

    ``now``: wall-clock seconds for an HTTP-date (default ``time.time()``).
    """
    if isinstance(exc, grpc.RpcError):
        found = _grpc_pushback(exc)
        if found is not None:
            return found
    value: Any = getattr(exc, "retry_after", None)
    if value is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        getter = getattr(headers, "get", None)
        if callable(getter):
            try:
                value = getter("Retry-After")
            except Exception:
                value = None
    if value is None:
        return None
    return _retry_after(value, time.time() if now is None else now)


def _grpc_pushback(exc: grpc.RpcError) -> float | None:
    trailing = getattr(exc, "trailing_metadata", None)
    if not callable(trailing):
        return None
    try:
        pairs = trailing()
    except Exception:
        return None
    return metadata_pushback(pairs)


def metadata_pushback(pairs: Any) -> float | None:
    """The ``grpc-retry-pushback-ms`` of trailing metadata ``pairs`` (key, value) in seconds,
    :data:`NO_RETRY` for a negative or unreadable value, None when absent."""
    try:
        for key, value in pairs or ():
            if key == PUSHBACK_KEY:
                text = value.decode() if isinstance(value, bytes) else str(value)
                milliseconds = int(text.strip())
                return NO_RETRY if milliseconds < 0 else milliseconds / 1000.0
    except (ValueError, TypeError, UnicodeDecodeError):
        return NO_RETRY
    return None


def _retry_after(value: object, now: float) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)
