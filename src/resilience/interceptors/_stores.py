"""The start-up check of the stores a server policy's rate limits name: done once per store
URL when the policy is installed (interceptor construction, ``update_policy``), never per call."""

from __future__ import annotations

from resilience.policy import Policy


def check_policy_stores(policy: Policy, checked: set[str]) -> None:
    """PING each Redis store named by a ``rate_limit`` of ``policy`` and not in ``checked``
    (then add it): an unreachable store logs a warning when every limit on it fails open, and
    raises :class:`~resilience.errors.ConfigError` when one fails closed (every call on it
    would be rejected), so a bad policy is refused before it is installed."""
    fail_open: dict[str, bool] = {}
    for settings in policy.declared_settings():
        limit = settings.rate_limit
        if limit is None or limit.store == "memory" or limit.store in checked:
            continue
        fail_open[limit.store] = fail_open.get(limit.store, True) and limit.fail_open
    if not fail_open:
        return
    from resilience.backends.factory import check_store

    for url, opens in fail_open.items():
        check_store(url, fail_open=opens)
        checked.add(url)
