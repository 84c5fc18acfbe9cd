"""Turning on limits and timeouts with a policy file (docs/examples/policy.toml).

Run it: ``python docs/examples/with_policy.py``. Ten calls in a burst against a limit of five
per second: five pass, five are refused by the server's limiter with RESOURCE_EXHAUSTED, and
the trailing metadata says why (``x-resilience-reject``).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import grpc
from quickstart import METHOD, serve  # the service of the sync quickstart, beside this file

from resilience import ClientInterceptor, Policy

POLICY = Path(__file__).with_name("policy.toml")


def main(port: int = 0) -> list[str]:
    policy = Policy.from_file(POLICY)
    print(policy.settings_for(METHOD).rate_limit)
    server, port = serve(policy, port)
    outcomes = []
    try:
        channel = ClientInterceptor(policy).protect(grpc.insecure_channel(f"127.0.0.1:{port}"))
        say: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(METHOD)
        for _ in range(10):
            try:
                say(b"burst")
                outcomes.append("OK")
            except grpc.RpcError as error:
                call = cast(grpc.Call, error)  # grpc's errors are also the finished call
                reason = next(
                    (
                        str(value)
                        for key, value in call.trailing_metadata() or ()
                        if key == "x-resilience-reject"
                    ),
                    "-",
                )
                outcomes.append(f"{call.code().name} ({reason})")
        channel.close()
    finally:
        server.stop(None)
    return outcomes


if __name__ == "__main__":
    for outcome in main():
        print(outcome)
