"""Method patterns, the one grammar every part of the library uses to name methods.

A pattern is ``"*"`` (every method), ``"/pkg.Service/*"`` (every method of a service) or
``"/pkg.Service/Method"`` (one method, as gRPC names it on the wire). Policies, fault rules and
failover switches all take these; none of them accepts another form.
"""

from __future__ import annotations

import re

PATTERN_HELP = 'expected "*", "/pkg.Service/*" or "/pkg.Service/Method"'
"""What to write instead, for error messages about a malformed pattern."""

_SERVICE_OR_METHOD = re.compile(r"/([^/*\s]+)/(\*|[^/*\s]+)")


def split_pattern(pattern: object) -> tuple[str, bool] | None:
    """``(service, whole_service)`` for a valid pattern, None for anything else.

    ``service`` is ``"/pkg.Service"`` (``""`` for ``"*"``) and ``whole_service`` is True for
    ``"*"`` and ``"/pkg.Service/*"``, False for a single method.
    """
    if pattern == "*":
        return "", True
    if not isinstance(pattern, str):
        return None
    match = _SERVICE_OR_METHOD.fullmatch(pattern)
    if match is None:
        return None
    return f"/{match.group(1)}", match.group(2) == "*"


def is_pattern(pattern: object) -> bool:
    """Whether ``pattern`` is one of the three accepted forms."""
    return split_pattern(pattern) is not None


def pattern_matches(pattern: str, method: str) -> bool:
    """Whether the valid ``pattern`` covers ``method`` (a full ``/pkg.Service/Method`` name)."""
    if pattern == "*":
        return True
    if pattern.endswith("/*"):
        return method.startswith(pattern[:-1])
    return method == pattern


def service_pattern(method: str) -> str | None:
    """The ``"/pkg.Service/*"`` pattern of ``method``, or None when it has no service part."""
    service_end = method.rfind("/")
    return method[: service_end + 1] + "*" if service_end > 0 else None
