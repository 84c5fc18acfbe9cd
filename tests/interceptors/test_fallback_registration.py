"""Fallback functions registered on a client interceptor whose policy gives no method a
``fallback`` section would answer nothing: the interceptor says so when it is built."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from resilience.interceptors import AioClientInterceptor, ClientInterceptor
from resilience.policy import Policy

PATTERN = "/shop.Catalog/*"
FUNCTIONS = {PATTERN: lambda request, error: b"cached"}


@pytest.mark.parametrize("cls", [ClientInterceptor, AioClientInterceptor])
def test_functions_without_a_section_are_reported(
    cls: Any, caplog: pytest.LogCaptureFixture
) -> None:
    reads = Policy.from_dict({"methods": {PATTERN: {"read": True}}})
    with caplog.at_level(logging.WARNING, logger="resilience"):
        cls(reads, observers=(), fallbacks=FUNCTIONS)
    (record,) = [r for r in caplog.records if "fallback" in r.getMessage()]
    assert record.getMessage().startswith(
        f"fallbacks registered for {PATTERN}, but the policy gives no method a fallback section"
    )
    assert "add fallback = true" in record.getMessage()


@pytest.mark.parametrize("cls", [ClientInterceptor, AioClientInterceptor])
def test_functions_with_a_section_are_not_reported(
    cls: Any, caplog: pytest.LogCaptureFixture
) -> None:
    answered = Policy.from_dict({"methods": {PATTERN: {"fallback": True}}})
    with caplog.at_level(logging.WARNING, logger="resilience"):
        cls(answered, observers=(), fallbacks=FUNCTIONS)
        cls(observers=())  # nothing registered, nothing to say
    assert not [r for r in caplog.records if "fallbacks registered" in r.getMessage()]
