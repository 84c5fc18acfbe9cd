"""Crash reports: an exception escaping a server handler goes to Sentry, nothing else does.

:class:`SentryReporter` is an :class:`~resilience.events.Observer`. On ``call_ended`` with an
exception on the server side it captures that exception in a fresh isolation scope tagged with
``rpc.method``, ``resilience.color``, ``resilience.tier`` and ``trace_id``; the event carries the
exception's stack (the handler's frames). The interceptor, not the reporter, answers the client
with UNKNOWN (gRPC's own code for it) and :data:`GENERIC_INTERNAL_MESSAGE`, so no stack and no
exception text leave the server.

Privacy: an event processor on that scope removes frame local variables (a handler's locals
hold the request payload and the servicer context with its metadata), any ``request`` section,
and ``extra`` data; the reporter never attaches payloads or metadata values itself.

Cost and safety:
- until sentry-sdk is imported and initialised (an active client) the reporter hears nothing
  (its :attr:`~SentryReporter.interest` is :data:`~resilience.events.NOTHING`), so a call costs
  it nothing; it looks again every second (:mod:`resilience._base.backend_watch`) and from
  then on hears every server call that starts; with an active client a call that ended without
  an exception costs one attribute test. It never imports sentry-sdk itself, and checks that the
  client is still active before each report;
- sentry-sdk queues the event for its background transport (a bounded queue, ``put_nowait``),
  so an unreachable Sentry never blocks or slows the call;
- no double report when sentry-sdk's own gRPC or logging integrations see the same exception:
  the reporter marks an exception it sent, and a global event processor (installed on the first
  report) drops any later event for a marked exception; sentry-sdk's DedupeIntegration (on by
  default) would drop a repeat of the last exception anyway, this also covers it being off.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from resilience._base.backend_watch import wait_for_backend
from resilience.events import NOTHING, CallInfo, CallOutcome, Interest
from resilience.observability import _context
from resilience.observability._bounds import DEFAULT_COLORS, DEFAULT_MAX_METHODS, AttributeBounds

GENERIC_INTERNAL_MESSAGE = "internal server error"
"""The details string a client receives when its call crashed inside the server's handler."""

MECHANISM = "resilience.grpc"
"""The Sentry exception mechanism type of the reports, marked unhandled."""

_REPORTED = "__resilience_reported__"
_TAG_MAX = 200  # Sentry truncates longer tag values
_log = logging.getLogger("resilience.observability")


_SERVER_ENDS = Interest(sides=("server",), starts=False, events=False)


def _sentry_active() -> bool:
    """Whether sentry-sdk is imported and its client active (initialised with a DSN)."""
    sdk = sys.modules.get("sentry_sdk")
    try:
        return sdk is not None and bool(sdk.get_client().is_active())
    except AttributeError:  # a sentry-sdk before 2.0 (no get_client): not supported
        return False


def generic_internal_message() -> str:
    """The message the server interceptor sends with UNKNOWN instead of the exception text."""
    return GENERIC_INTERNAL_MESSAGE


class SentryReporter:
    """Reports exceptions that escape server handlers to Sentry (see the module docstring).

    ``colors`` and ``max_methods`` bound the color and method tags as for metrics. It hears
    only server calls' ends (:attr:`interest`), and only once sentry-sdk is initialised: the
    interceptors never call it on the client side nor at a call's start, nor with decision
    events, nor before then.
    """

    __slots__ = ("__weakref__", "_bounds", "_ready")

    def __init__(
        self,
        *,
        colors: Iterable[str] = DEFAULT_COLORS,
        max_methods: int = DEFAULT_MAX_METHODS,
    ) -> None:
        self._bounds = AttributeBounds(colors=colors, max_methods=max_methods)
        self._ready = False

    @property
    def interest(self) -> Interest:
        """Server calls' ends (the one report where a handler's exception arrives) once
        sentry-sdk has been initialised; nothing before. Read while it is not, it looks at
        sentry-sdk now and, still not initialised, has the backend watch look again every
        second."""
        if self._ready or self.backend_ready():
            return _SERVER_ENDS
        wait_for_backend(self)
        return NOTHING

    def backend_ready(self) -> bool:
        """Whether sentry-sdk has been initialised (looked at again until it has): from then on
        the reporter hears every server call that starts."""
        if not self._ready:
            self._ready = _sentry_active()
        return self._ready

    def call_started(self, call: CallInfo) -> None:
        """Nothing to do when a call starts."""

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        """Decisions are not crashes: ignored."""

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Report ``outcome.exception`` when a server handler raised; otherwise nothing."""
        exception = outcome.exception
        if exception is None or call.side != "server":
            return
        sdk = sys.modules.get("sentry_sdk")
        if sdk is None or not sdk.get_client().is_active():
            return
        if getattr(exception, _REPORTED, False):
            return
        _install_repeat_filter(sdk)
        self._capture(sdk, call, exception)
        with contextlib.suppress(AttributeError, TypeError):  # exception types without __dict__
            setattr(exception, _REPORTED, True)

    def _capture(self, sdk: Any, call: CallInfo, exception: BaseException) -> None:
        from sentry_sdk.utils import event_from_exception

        trace_id, _ = _context.trace_ids()
        tags = {
            "rpc.method": self._bounds.method(call.method),
            "resilience.color": self._bounds.color(call.color),
            "resilience.tier": self._bounds.tier(call.tier),
        }
        if trace_id:
            tags["trace_id"] = trace_id
        with sdk.isolation_scope() as scope:
            for key, value in tags.items():
                scope.set_tag(key, value[:_TAG_MAX])
            scope.add_event_processor(scrub_event)
            # Locals are left out when the event is built, so a payload's repr is never even
            # computed; scrub_event removes them again should another path add them.
            options = {**sdk.get_client().options, "include_local_variables": False}
            event, hint = event_from_exception(
                exception,
                client_options=options,
                mechanism={"type": MECHANISM, "handled": False},
            )
            event_id = scope.capture_event(event, hint=hint)
        _log.debug("reported a handler crash in %s to Sentry as %s", call.method, event_id)

    def __repr__(self) -> str:
        return f"SentryReporter({self._bounds!r})"


_filter_installed = False


def _install_repeat_filter(sdk: Any) -> None:
    """Once per process: a global event processor dropping any later event for an exception
    this reporter already sent (sentry-sdk's gRPC and logging integrations would otherwise
    report it again when DedupeIntegration is off)."""
    global _filter_installed
    if not _filter_installed:
        _filter_installed = True
        sdk.scope.add_global_event_processor(_drop_repeats)


def _drop_repeats(event: dict[str, Any], hint: Mapping[str, Any] | None) -> dict[str, Any] | None:
    exc_info = hint.get("exc_info") if hint else None
    if exc_info and getattr(exc_info[1], _REPORTED, False):
        return None
    return event


def scrub_event(event: dict[str, Any], hint: Mapping[str, Any]) -> dict[str, Any]:
    """Remove what could hold a request payload or metadata value from a Sentry event: frame
    local variables (exceptions and threads), the ``request`` section and ``extra`` data."""
    for section in ("exception", "threads"):
        for value in (event.get(section) or {}).get("values") or ():
            for frame in (value.get("stacktrace") or {}).get("frames") or ():
                frame.pop("vars", None)
    event.pop("request", None)
    event.pop("extra", None)
    return event
