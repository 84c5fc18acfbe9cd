"""What the shells assume of grpcio's own types, checked so that a grpcio upgrade that changes
them fails here with a message instead of sending wrong call details."""

from __future__ import annotations

import grpc.aio


def test_aio_call_details_are_the_five_field_namedtuple_the_aio_shell_builds() -> None:
    # aio_client builds grpc.aio.ClientCallDetails with tuple.__new__ in this field order.
    fields = getattr(grpc.aio.ClientCallDetails, "_fields", None)
    assert fields == ("method", "timeout", "metadata", "credentials", "wait_for_ready"), (
        "grpc.aio.ClientCallDetails changed: update the tuple that aio_client._intercept builds"
    )
