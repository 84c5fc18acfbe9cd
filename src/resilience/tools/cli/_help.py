"""Help text from docstrings: what reads well in the API docs, as plain terminal text."""

from __future__ import annotations

import re

_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?(?:[\w.]+\.)?([^`.]+)`")
"""A reST cross-reference such as :class:`~resilience.failover.DualCenterChannel`."""


def plain(text: str | None) -> str:
    """``text`` with reST markup removed: double backticks dropped, cross-references reduced to
    the last part of the name (``:class:`~a.b.C``` becomes ``C``)."""
    return _ROLE.sub(r"\1", text or "").replace("``", "")
