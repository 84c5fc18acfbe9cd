"""Log records that say which call, trace and traffic they belong to.

:class:`ContextFilter` adds ``trace_id``, ``span_id``, ``color``, ``tier`` and ``method`` to
every record that passes through it (empty strings when unknown), so any formatter can print
them: ``%(trace_id)s``. :class:`JsonFormatter` writes one JSON object per line with those fields.

Attach the filter to a *handler* (``handler.addFilter(ContextFilter())``), which sees the records
of every logger, rather than to one logger. The library itself logs sparingly: state changes
(a breaker starting to drop, a limiter falling back) under ``resilience.*``, never per call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from resilience.observability import _context

CONTEXT_FIELDS: tuple[str, ...] = ("trace_id", "span_id", "color", "tier", "method")
"""The attributes :class:`ContextFilter` sets on each record."""


class ContextFilter(logging.Filter):
    """Adds the current call context to log records; never drops a record.

    Trace and span ids come from the OpenTelemetry current span (lowercase hex); color, tier and
    method from ``resilience.context`` (the color also from the W3C baggage). A field that a
    record already carries (passed through ``extra=``) is left as it is.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        if "trace_id" not in fields or "span_id" not in fields:
            trace_id, span_id = _context.trace_ids()
            fields.setdefault("trace_id", trace_id)
            fields.setdefault("span_id", span_id)
        if "color" not in fields:
            fields["color"] = _context.current_color() or ""
        if "tier" not in fields:
            tier = _context.current_tier()
            fields["tier"] = "" if tier is None else tier
        if "method" not in fields:
            fields["method"] = _context.current_method() or ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC ISO 8601), ``level``, ``logger``, ``message``,
    the context fields that are set, ``exception`` (the formatted traceback) when there is one,
    and any record attribute named in ``extra_fields``.

    Only listed fields are written, so arbitrary ``extra=`` data never leaks into the output.
    """

    def __init__(self, *, extra_fields: Iterable[str] = ()) -> None:
        super().__init__()
        if isinstance(extra_fields, str):
            raise TypeError("extra_fields must be a collection of attribute names, not a string")
        self._extra_fields = tuple(extra_fields)

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*CONTEXT_FIELDS, *self._extra_fields):
            value = getattr(record, name, None)
            if value is not None and value != "":
                document[name] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json.dumps(document, default=str, ensure_ascii=False)
