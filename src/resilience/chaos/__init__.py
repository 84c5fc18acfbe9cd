"""Fault injection inside the library's own interceptors: delays and aborts by rule.

A :class:`FaultInjector` holds an immutable tuple of :class:`FaultRule` values and an on/off
switch. Servers plug it into their interceptor as a hook::

    injector = FaultInjector(allowed_colors=["loadtest"])
    ServerInterceptor(hooks=[fault_hook(injector)])          # aio: aio_fault_hook(injector)

The hook asks one pure question per call, :meth:`FaultInjector.pick`, and applies the answer
with :func:`apply_fault` / :func:`aio_apply_fault` (sleep, then abort). The client side uses
:func:`delay_fault` / :func:`aio_delay_fault` plus its own local reject with ``fault.code``.

Safety: an injector is off until the server enables it (``enabled=True``, :meth:`enable`, a
policy, or the admin service of :mod:`resilience.chaos._admin`); nothing a caller sends turns
it on. A rule scoped to a traffic color is only accepted when the server lists that color in
``allowed_colors``, so a caller carrying a color can only receive the faults the server
operator decided that color gets. Rules without a color apply to all traffic.
"""

from __future__ import annotations

from resilience.chaos._admin import admin_handler, aio_admin_handler
from resilience.chaos._apply import (
    aio_apply_fault,
    aio_delay_fault,
    aio_fault_hook,
    apply_fault,
    delay_fault,
    fault_hook,
)
from resilience.chaos._injector import FaultInjector, injectors
from resilience.chaos._rules import Fault, FaultRule, rules_from_dicts

__all__ = [
    "Fault",
    "FaultInjector",
    "FaultRule",
    "admin_handler",
    "aio_admin_handler",
    "aio_apply_fault",
    "aio_delay_fault",
    "aio_fault_hook",
    "apply_fault",
    "delay_fault",
    "fault_hook",
    "injectors",
    "rules_from_dicts",
]
