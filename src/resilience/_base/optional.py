"""Lazy imports of optional integrations, failing with a message that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from resilience.errors import MissingExtraError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` telling which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module!r} is not installed; install it with: pip install 'grpc-resilience[{extra}]'"
        ) from exc
