"""The environment variables the library reads, for twelve-factor deployments, and the one rule
for reading them: an explicit argument wins over the variable, the variable over the policy
file; a variable set to the empty string counts as unset; a bad value raises ConfigError
naming the variable and what to change."""

from __future__ import annotations

import os
from collections.abc import Mapping

from resilience.errors import ConfigError

POLICY_VAR = "RESILIENCE_POLICY"
"""Path of the policy file :meth:`resilience.policy.Policy.from_env` loads."""

STORE_VAR = "RESILIENCE_STORE_URL"
"""The default store (a ``redis://``, ``rediss://`` or ``unix://`` URL, or ``memory``) of every
rate limit that names none."""

METRICS_PORT_VAR = "RESILIENCE_METRICS_PORT"
"""The port :func:`resilience.observability.serve_metrics` listens on when given none."""

ADMIN_TOKEN_VAR = "RESILIENCE_ADMIN_TOKEN"
"""The chaos admin service's token when its handler is given none."""


def env_value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's value (``environ`` defaults to ``os.environ``), or None when it is unset
    or empty."""
    value = (os.environ if environ is None else environ).get(name)
    return value if value else None


def env_port(name: str, environ: Mapping[str, str] | None = None) -> int | None:
    """A TCP port from the variable (0 to 65535, 0: a free one), or None when it is unset;
    ConfigError naming the variable otherwise."""
    value = env_value(name, environ)
    if value is None:
        return None
    try:
        port = int(value.strip(), 10)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name}: must be a port number from 0 to 65535, got {value!r}")
    return port
