"""Helpers for testing code that uses resilience: a manual clock (and, later, echo servers)."""

from __future__ import annotations

from resilience._clock import ManualClock

__all__ = ["ManualClock"]
