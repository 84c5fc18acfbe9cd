"""Shadow routing: send the writes of load-test traffic to shadow storage.

Colored (shadow) calls must not touch production data. Wherever a service chooses a database,
a topic, a cache or a bucket, it asks for the resource of the *current call*::

    orders_db = ShadowRouter(real=sqlite3.connect("orders.db"),
                             shadow=sqlite3.connect("orders-shadow.db"))

    def PlaceOrder(self, request, context):
        orders_db.get().execute("INSERT INTO orders VALUES (?)", (request.id,))

The choice follows :func:`resilience.context.is_shadow`, which the server interceptor sets from
the color that arrived with the call (the ``resilience.color`` baggage entry); outgoing calls
made while handling it carry the color on, so every hop of a full-link load test writes to its
own shadow resources. Code outside a call can choose explicitly with
``with resilience.context.traffic_color("loadtest"):``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from resilience.context import is_shadow

__all__ = ["ShadowRouter", "pick"]

T = TypeVar("T")


def pick(real: T, shadow: T) -> T:
    """``shadow`` when the current call is shadow traffic, else ``real``."""
    return shadow if is_shadow() else real


class ShadowRouter(Generic[T]):
    """A real resource and its shadow twin; :meth:`get` returns the one for the current call.

    The router holds references only: opening, pooling and closing the resources stay with the
    application. Reads and writes both follow the color, so a load test reads back what it
    wrote and never sees production rows.
    """

    __slots__ = ("real", "shadow")

    def __init__(self, real: T, shadow: T) -> None:
        if real is shadow:
            raise ValueError("shadow: must be a different resource from real, or writes mix")
        self.real = real
        self.shadow = shadow

    def get(self) -> T:
        """The shadow resource during shadow traffic, the real one otherwise."""
        return self.shadow if is_shadow() else self.real

    def __repr__(self) -> str:
        return f"ShadowRouter(real={self.real!r}, shadow={self.shadow!r})"
