"""What travels on the wire: trace context, traffic color, tier and the failover mark.

Outgoing (client): W3C ``traceparent``/``tracestate`` and ``baggage`` are written by the
OpenTelemetry global propagator, with the traffic color set as the baggage entry
:data:`resilience._base.keys.COLOR_BAGGAGE` (other entries are kept); the tier and the failover mark
ride the library's own keys. Headers the application or an outer interceptor already wrote
win: a ``traceparent`` or ``tracestate`` there is left alone, and the baggage becomes one
``baggage`` header holding their entries and ours, each once, with our color (see
:func:`_merge_baggage`). Interceptors inside ours see the call's baggage as the current
OpenTelemetry context (:func:`inner_context`).

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
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.trace import Span

from resilience._base.keys import COLOR_BAGGAGE, FAILOVER, TIER
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


class NotPairs(TypeError):
    """The caller's ``metadata=`` is not (key, value) pairs (a dict, say): the caller's mistake,
    which gRPC refuses with its own error when the call is made; nothing is added to it."""


def outgoing(
    existing: Iterable[tuple[str, Any]] | None,
    *,
    color: str | None,
    tier: int | None,
    failover: bool,
    span: Span | None = None,
) -> Metadata:
    """The metadata of an outgoing call: ``existing`` plus trace, baggage color, tier, failover.
    A ``tier`` replaces a tier header ``existing`` holds; ``existing`` that is not pairs raises
    :class:`NotPairs`.

        ``span``: the call's own client span, injected as the parent of the remote side (default:
        the current span)."""
    if not existing:
        metadata: Metadata = []
        carrier = _carrier(color, span)
        if carrier:
            metadata.extend(carrier.items())
    else:
        metadata = list(existing)
        try:
            written = {key for key, _ in metadata}
        except (TypeError, ValueError):
            raise NotPairs from None
        if tier is not None and TIER in written:  # the tier chosen with tier(n) wins
            metadata = [item for item in metadata if item[0] != TIER]
        if FAILOVER in written:
            failover = False  # already marked (by the failover channel)
        for key, value in _carrier(color, span).items():
            if key == BAGGAGE and BAGGAGE in written:
                _merge_baggage(metadata, value)
            elif key not in written:  # a trace header someone already wrote is left alone
                metadata.append((key, value))
    if tier is not None:
        metadata.append((TIER, _TIER_TEXT[tier]))
    if failover:
        metadata.append((FAILOVER, "1"))
    return metadata


_TIER_TEXT = {1: "1", 2: "2", 3: "3", 4: "4"}
_W3C_BAGGAGE = W3CBaggagePropagator()


def inner_context(metadata: Metadata | Any, color: str | None) -> Context | None:
    """The OpenTelemetry context to make current while an outgoing call passes the interceptors
    placed inside ours, or None when the current one already holds its baggage.

    Such an interceptor may write the ``baggage`` header again from the current context (the
    gRPC instrumentation of opentelemetry-python-contrib replaces the header with the current
    context's baggage): so when the baggage ``metadata`` carries holds an entry the current
    context lacks (the color chosen with ``traffic_color``, entries the application or an outer
    interceptor wrote as metadata), the returned context holds those entries too."""
    if color is None:
        for key, _ in metadata or ():
            if key == BAGGAGE:
                break
        else:
            return None  # no baggage of ours: nothing an inner interceptor could lose
    ctx = get_current()
    current = baggage.get_all(ctx)
    if color is not None and current.get(COLOR_BAGGAGE) != color:
        missing = True
    else:
        missing = any(
            _member_key(member) not in current
            for key, value in metadata or ()
            if key == BAGGAGE
            for member in str(value).split(",")
        )
    if not missing:
        return None
    headers = ",".join(str(value) for key, value in metadata or () if key == BAGGAGE)
    return _W3C_BAGGAGE.extract({BAGGAGE: headers}, context=ctx)


def _carrier(color: str | None, span: Span | None) -> dict[str, str]:
    """The trace and baggage headers of the current context, with ``span`` as the parent and
    ``color`` as a baggage entry (empty when there is nothing to carry)."""
    ctx = get_current()
    if span is None and color is None and not ctx:
        return {}  # an empty context: no span, no baggage, nothing to carry
    if span is not None:
        ctx = trace.set_span_in_context(span, ctx)
    if color is not None and baggage.get_baggage(COLOR_BAGGAGE, ctx) != color:
        ctx = baggage.set_baggage(COLOR_BAGGAGE, color, ctx)
    elif (
        span is None  # the call's own span is always carried
        and not trace.get_current_span(ctx).get_span_context().is_valid
        and not baggage.get_all(ctx)
    ):
        return {}  # nothing to carry: skip the propagator
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    if color is not None and BAGGAGE not in carrier:
        # The configured propagators do not carry baggage; the color travels anyway.
        carrier[BAGGAGE] = f"{COLOR_BAGGAGE}={quote(color, safe='')}"
    return carrier


def _merge_baggage(metadata: Metadata, ours: str) -> None:
    """Merge our baggage list into the baggage already written (by the application or an outer
    interceptor): the lists of every ``baggage`` header become one header, in place of the
    first, each member once. An entry already written wins over ours, except the color, which
    is ours (the call's own); nothing else is dropped."""
    own = [member for member in ours.split(",") if member.strip()]
    color = any(_member_key(member) == COLOR_BAGGAGE for member in own)
    members: list[str] = []
    first = -1
    for index, (key, value) in enumerate(metadata):
        if key != BAGGAGE:
            continue
        if first < 0:
            first = index
        for member in str(value).split(","):
            old_color = color and _member_key(member) == COLOR_BAGGAGE
            if member.strip() and member not in members and not old_color:
                members.append(member)
    keys = {_member_key(member) for member in members}
    members.extend(member for member in own if _member_key(member) not in keys)
    metadata[first] = (BAGGAGE, ",".join(members))
    metadata[first + 1 :] = [item for item in metadata[first + 1 :] if item[0] != BAGGAGE]


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
                before = carrier.get(key)
                carrier[key] = checked if before is None else _combined(key, before, checked)
        elif key == TIER:
            tier = _TIERS.get(value) if isinstance(value, str) else None
            if tier is None:
                logger.debug("resilience: ignoring malformed %s metadata %.64r", TIER, value)
        elif key == FAILOVER:
            failover = value == "1"
    if carrier is None and not failover:
        return NOTHING if tier is None else _TIER_ONLY[tier]
    if carrier is None or BAGGAGE not in carrier:
        return Incoming(carrier, None, False, tier, failover)  # no baggage: no color
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
