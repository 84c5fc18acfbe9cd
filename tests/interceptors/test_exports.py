"""The interceptors are public under resilience and resilience.interceptors, and importing the
package does not import grpc's interceptors until one is used."""

from __future__ import annotations

import subprocess
import sys

import resilience
import resilience.interceptors

NAMES = ["AioClientInterceptor", "AioServerInterceptor", "ClientInterceptor", "ServerInterceptor"]


def test_interceptors_are_exported_from_both_modules() -> None:
    for name in NAMES:
        assert name in resilience.__all__
        assert name in resilience.interceptors.__all__
        assert getattr(resilience, name) is getattr(resilience.interceptors, name)


def test_importing_resilience_does_not_load_the_interceptors() -> None:
    code = "import sys, resilience; print('resilience.interceptors' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_argument_interceptors_use_the_default_policy() -> None:
    default = resilience.Policy.default()
    for name in NAMES:
        interceptor = getattr(resilience, name)()
        assert interceptor.policy == default
        settings = interceptor.policy.settings_for("/any.Service/Method")
        assert settings.breaker is not None
        assert settings.propagate
        assert (settings.timeout, settings.rate_limit, settings.overload) == (None, None, None)
