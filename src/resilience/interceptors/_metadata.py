"""What travels on the wire: trace context, traffic color, tier and the failover mark.

Outgoing (client): W3C ``traceparent``/``tracestate`` and ``baggage`` are written by the
OpenTelemetry global propagator, with the traffic color set as the baggage entry
:data:`resilience._keys.COLOR_BAGGAGE` (other entries are kept); the tier and the failover mark
ride the library's own keys. When another interceptor (opentelemetry-instrumentation-grpc,
sentry-sdk) already wrote trace headers, they are left alone and only the color is merged into
their baggage, so no header is ever sent twice.

Incoming (server): every value is checked before use. A malformed or oversized value (a bad
``traceparent``, a tier of ``0`` or ``"abc"``, a non-ASCII or 10 KB color, garbage baggage) is
dropped with a debug log; reading metadata never raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from opentelemetry import baggage, propagate, trace
from opentelemetry.context import Context, get_current
from opentelemetry.trace import Span

from resilience._keys import COLOR_BAGGAGE, FAILOVER, TIER
from resilience.context import valid_color

logger = logging.getLogger("resilience")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BAGGAGE = "baggage"

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-[ -~]*)?")
_TRACESTATE = re.compile(r"[ -~]*")
# A W3C baggage list: members of key=value with optional ;properties, comma separated.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_VALUE = r"[!#-+\--:<-\[\]-~]*"
_MEMBER = rf"[ \t]*{_TOKEN}[ \t]*=[ \t]*{_VALUE}[ \t]*(;[^,]*)?"
_BAGGAGE = re.compile(rf"{_MEMBER}(,{_MEMBER})*")
_MAX_TRACEPARENT = 512
_MAX_TRACESTATE = 512
_MAX_BAGGAGE = 8192
_TIERS = {"1": 1, "2": 2, "3": 3, "4": 4}

Metadata = list[tuple[str, Any]]


def outgoing(
    existing: Iterable[tuple[str, Any]] | None,
    *,
    color: str | None,
    tier: int | None,
    failover: bool,
    span: Span | None = None,
) -> Metadata:
    """The metadata of an outgoing call: ``existing`` plus trace, baggage color, tier, failover.

    ``span``: the call's own client span, injected as the parent of the remote side (default:
    the current span)."""
    metadata: Metadata = list(existing) if existing else []
    has_trace = has_baggage = False
    for key, _ in metadata:
        if key == TRACEPARENT:
            has_trace = True
        elif key == BAGGAGE:
            has_baggage = True
        elif key == FAILOVER:
            failover = False  # already marked (by the failover channel)
    if has_baggage or has_trace:
        if color is not None:
            _merge_color(metadata, color, has_baggage)
    else:
        _inject(metadata, color, span)
    if tier is not None:
        metadata.append((TIER, _TIER_TEXT[tier]))
    if failover:
        metadata.append((FAILOVER, "1"))
    return metadata


_TIER_TEXT = {1: "1", 2: "2", 3: "3", 4: "4"}


def _inject(metadata: Metadata, color: str | None, span: Span | None) -> None:
    ctx = get_current()
    if span is None and color is None and not ctx:
        return  # an empty context: no span, no baggage, nothing to carry
    if span is not None:
        ctx = trace.set_span_in_context(span, ctx)
    if color is not None and baggage.get_baggage(COLOR_BAGGAGE, ctx) != color:
        ctx = baggage.set_baggage(COLOR_BAGGAGE, color, ctx)
    elif not trace.get_current_span(ctx).get_span_context().is_valid and not baggage.get_all(ctx):
        return  # nothing to carry: skip the propagator
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    metadata.extend(carrier.items())
    if color is not None and BAGGAGE not in carrier:
        # The configured propagators do not carry baggage; the color travels anyway.
        metadata.append((BAGGAGE, f"{COLOR_BAGGAGE}={quote(color, safe='')}"))


def _merge_color(metadata: Metadata, color: str, has_baggage: bool) -> None:
    """Set the color entry in the baggage already written (by the application or another
    interceptor): every other entry is kept as it is, the color appears exactly once (in the
    first ``baggage`` header), and a header left with nothing but a former color is removed."""
    entry = f"{COLOR_BAGGAGE}={quote(color, safe='')}"
    if not has_baggage:
        metadata.append((BAGGAGE, entry))
        return
    merged: Metadata = []
    placed = False
    for key, value in metadata:
        if key != BAGGAGE:
            merged.append((key, value))
            continue
        others = [m for m in str(value).split(",") if _member_key(m) != COLOR_BAGGAGE]
        if not placed:
            others.append(entry)
            placed = True
        if any(m.strip() for m in others):
            merged.append((BAGGAGE, ",".join(others)))
    metadata[:] = merged


def _member_key(member: str) -> str:
    return member.partition("=")[0].strip()


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a server read from a call's metadata, each value already checked.

    ``carrier``: the trace and baggage headers to hand to the propagator (None when there are
    none). ``color``: the valid traffic color, or None. ``bad_color``: a color entry was present
    but invalid (it must then be removed from the propagated baggage). ``tier``: the tier the
    caller claims (1..4), or None. ``failover``: the call is itself a cross-center failover.
    """

    carrier: dict[str, str] | None = None
    color: str | None = None
    bad_color: bool = False
    tier: int | None = None
    failover: bool = False


NOTHING = Incoming()
_TIER_ONLY = {tier: Incoming(tier=tier) for tier in _TIERS.values()}
"""What a call carrying only a tier claim reads as (the usual call inside one service)."""


def incoming(metadata: Sequence[tuple[str, Any]] | None) -> Incoming:
    """Read trace headers, color, tier and failover mark from a call's invocation metadata."""
    if not metadata:
        return NOTHING
    carrier: dict[str, str] | None = None
    tier: int | None = None
    failover = False
    for key, value in metadata:
        if key in _TRACE_KEYS:
            checked = _checked_trace_header(key, value)
            if checked is not None:
                if carrier is None:
                    carrier = {}
                carrier[key] = _combined(key, carrier.get(key), checked)
        elif key == TIER:
            tier = _TIERS.get(value) if isinstance(value, str) else None
            if tier is None:
                logger.debug("resilience: ignoring malformed %s metadata %.64r", TIER, value)
        elif key == FAILOVER:
            failover = value == "1"
    if carrier is None and not failover:
        return NOTHING if tier is None else _TIER_ONLY[tier]
    color, bad_color = _color_from(carrier)
    return Incoming(carrier, color, bad_color, tier, failover)


_TRACE_KEYS = frozenset((TRACEPARENT, TRACESTATE, BAGGAGE))
_TRACE_CHECKS = {
    TRACEPARENT: (_MAX_TRACEPARENT, _TRACEPARENT),
    TRACESTATE: (_MAX_TRACESTATE, _TRACESTATE),
    BAGGAGE: (_MAX_BAGGAGE, _BAGGAGE),
}


def _checked_trace_header(key: str, value: object) -> str | None:
    limit, pattern = _TRACE_CHECKS[key]
    if isinstance(value, str) and len(value) <= limit and pattern.fullmatch(value):
        return value
    logger.debug("resilience: ignoring malformed %s metadata %.64r", key, value)
    return None


def _combined(key: str, before: str | None, value: str) -> str:
    """A trace header seen again: W3C Baggage and Trace Context combine several ``baggage``
    (or ``tracestate``) headers into one comma-separated list, so the second header another
    component added (sentry-sdk adds its own ``baggage``) is read too; members already present
    are not repeated, and a list that would outgrow the header's size limit keeps what it had.
    A repeated ``traceparent`` is ambiguous: the last one is used."""
    if before is None or key == TRACEPARENT:
        return value
    known = {member.strip() for member in before.split(",")}
    added = [member for member in value.split(",") if member.strip() not in known]
    if not added:
        return before
    joined = ",".join([before, *added])
    if len(joined) > _TRACE_CHECKS[key][0]:
        logger.debug("resilience: ignoring a %s header past %d characters", key, len(before))
        return before
    return joined


def _color_from(carrier: dict[str, str] | None) -> tuple[str | None, bool]:
    header = carrier.get(BAGGAGE) if carrier else None
    if header is None or COLOR_BAGGAGE not in header:
        return None, False
    for member in reversed(header.split(",")):  # the last one wins, as in OpenTelemetry's
        name, _, rest = member.partition("=")
        if name.strip() != COLOR_BAGGAGE:
            continue
        try:
            color = unquote(rest.partition(";")[0].strip(), errors="strict")
        except UnicodeDecodeError:
            color = rest
        if valid_color(color):
            return color, False
        logger.debug("resilience: ignoring malformed traffic color %.64r", color)
        return None, True
    return None, False


def extract_context(found: Incoming) -> Context | None:
    """The OpenTelemetry context carried by the call (trace and baggage), or None if none.

    An invalid color entry is removed from the baggage so that it is not passed on.
    """
    if found.carrier is None:
        return None
    ctx = propagate.extract(found.carrier)
    if found.bad_color:
        ctx = baggage.remove_baggage(COLOR_BAGGAGE, ctx)
    return ctx
