"""Every validation error names the key path and the bad value (one row per rule)."""

from __future__ import annotations

from typing import Any

import pytest

from resilience.errors import ConfigError
from resilience.policy import Policy

SAY = "/echo.Echo/Say"
DURATION = 'must be a duration: seconds as a number, or a string such as "250ms"'
STORE = 'must be "memory" or a redis://, rediss:// or unix:// URL'
LIMITED = {"limit": 1}  # rate_limit needs a limit before other keys can be checked

# (key path under the method, value, the problem the message must state)
KEY_CASES: list[tuple[str, object, str]] = [
    ("tier", 0, "must be >= 1 and <= 4, got 0"),
    ("tier", 5, "must be >= 1 and <= 4, got 5"),
    ("tier", "1", "must be an integer, got '1'"),
    ("read", "yes", "must be true or false, got 'yes'"),
    ("failover", 1, "must be true or false, got 1"),
    ("propagate", None, "must be true or false, got None"),
    ("failure_codes", "UNAVAILABLE", "must be a list of grpc.StatusCode names"),
    ("failure_codes", ["NOPE"], "'NOPE' is not a grpc.StatusCode name; known names: CANCELLED"),
    ("failure_codes", ["OK"], "OK cannot be a failure code"),
    ("breaker", 1, "must be a table, true or false, got 1"),
    ("breaker.k", 0.5, "must be >= 1, got 0.5"),
    ("breaker.k", True, "must be a number, got True"),
    ("breaker.k", float("nan"), "must be a finite number, got nan"),
    ("breaker.window", 0, "must be > 0 and <= 3600, got 0.0"),
    ("breaker.buckets", 0, "must be >= 1 and <= 1000, got 0"),
    ("breaker.buckets", 2.5, "must be an integer, got 2.5"),
    ("breaker.min_requests", -1, "must be >= 0 and <= 1000000000, got -1"),
    ("breaker.max_drop", 0, "must be > 0 and <= 1, got 0.0"),
    ("breaker.max_drop", 1.5, "must be > 0 and <= 1, got 1.5"),
    ("breaker.probe_interval", "-1s", f"{DURATION}"),
    ("timeout.t_max", "fast", f"{DURATION}"),
    ("timeout.t_avg", -0.1, "must be >= 0 and <= 3600, got -0.1"),
    ("timeout.t_hwm", "0ms", "must be > 0 and <= 3600, got 0.0"),
    ("timeout.n", 0, "must be >= 1 and <= 1000000, got 0"),
    ("timeout.streams", "no", "must be true or false, got 'no'"),
    ("rate_limit.limit", 0, "must be >= 1 and <= 1000000000, got 0"),
    ("rate_limit.limit", 2.5, "must be an integer, got 2.5"),
    ("rate_limit.window", "0s", "must be > 0 and <= 3600, got 0.0"),
    ("rate_limit.buckets", 0, "must be >= 1 and <= 1000, got 0"),
    ("rate_limit.tiered", 1, "must be true or false, got 1"),
    ("rate_limit.store", "http://x", f"{STORE}, got 'http://x'"),
    ("rate_limit.store", "redis://", f"{STORE}, got 'redis://'"),
    ("rate_limit.mode", "eventual", 'must be "periodic" or "exact", got \'eventual\''),
    ("rate_limit.sync_interval", 0, "must be > 0 and <= 60, got 0.0"),
    ("rate_limit.expected_instances", 0, "must be >= 1 and <= 10000, got 0"),
    ("rate_limit.fail_open", "true", "must be true or false, got 'true'"),
    ("rate_limit.key", "", "must be a name of 1 to 200 characters"),
    ("overload.cpu_thresholds", [0.9], "must be a table of tier -> CPU usage (0..1], got [0.9]"),
    ("overload.cpu_thresholds", {"5": 0.5}, "tiers are 1, 2, 3 or 4, got 5"),
    ("overload.cpu_thresholds", {4: 1.5}, "must be > 0 and <= 1, got 1.5"),
    ("overload.cpu_thresholds", {1: 0.5}, "must not increase from tier 1 to tier 4"),
    ("overload.window", -1, "must be > 0 and <= 3600, got -1.0"),
    ("overload.buckets", 0, "must be >= 1 and <= 1000, got 0"),
    ("breaker.buckets", 10**9, "must be >= 1 and <= 1000, got 1000000000"),
    ("breaker.window", "2h", "must be > 0 and <= 3600, got 7200.0"),
    ("breaker.probe_interval", 86400, "must be > 0 and <= 3600, got 86400.0"),
    ("breaker.min_requests", 10**10, "must be >= 0 and <= 1000000000, got 10000000000"),
    ("timeout.t_max", "2h", "must be > 0 and <= 3600, got 7200.0"),
    ("timeout.n", 10**7, "must be >= 1 and <= 1000000, got 10000000"),
    ("rate_limit.limit", 10**10, "must be >= 1 and <= 1000000000, got 10000000000"),
    ("rate_limit.buckets", 10**6, "must be >= 1 and <= 1000, got 1000000"),
    ("rate_limit.sync_interval", "2m", "must be > 0 and <= 60, got 120.0"),
    ("rate_limit.expected_instances", 10**5, "must be >= 1 and <= 10000, got 100000"),
    ("overload.buckets", 10**6, "must be >= 1 and <= 1000, got 1000000"),
]


def settings_with(key_path: str, value: object) -> dict[str, Any]:
    section, _, key = key_path.partition(".")
    if not key:
        return {"methods": {SAY: {section: value}}}
    base = dict(LIMITED) if section == "rate_limit" else {}
    return {"methods": {SAY: {section: {**base, key: value}}}}


@pytest.mark.parametrize(("key_path", "value", "problem"), KEY_CASES)
def test_a_bad_value_is_named_by_its_key_path(key_path: str, value: object, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Policy.from_dict(settings_with(key_path, value))
    message = str(raised.value)
    assert message.startswith(f"methods.{SAY}.{key_path}: ")
    assert problem in message


# (policy, the start of the message)
STRUCTURE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("top-key", {"method": {}}, 'method: unknown key; did you mean "methods"?'),
    ("methods", {"methods": []}, "methods: must be a table of pattern -> settings, got []"),
    ("pattern", {"methods": {"echo.Echo/Say": {}}}, "methods.echo.Echo/Say: not a method pattern"),
    ("glob", {"methods": {"/echo.*/Say": {}}}, "methods./echo.*/Say: not a method pattern"),
    ("entry", {"methods": {SAY: 3}}, f"methods.{SAY}: must be a table of method settings, got 3"),
    (
        "key",
        {"methods": {SAY: {"teir": 1}}},
        f'methods.{SAY}.teir: unknown key; did you mean "tier"?',
    ),
    (
        "section-key",
        {"methods": {SAY: {"breaker": {"kk": 2}}}},
        f'methods.{SAY}.breaker.kk: unknown key; did you mean "k"? known keys: buckets, k, ',
    ),
    (
        "timeout-order",
        {"methods": {SAY: {"timeout": {"t_avg": 0.3}}}},
        f"methods.{SAY}.timeout: must satisfy 0 <= t_avg < t_hwm <= t_max, "
        "got t_avg=0.3, t_hwm=0.25 (not set, so 0.5 * t_max), t_max=0.5 (not set, so the "
        "default); set t_hwm above t_avg, or set all three explicitly",
    ),
    (
        "limit-missing",
        {"methods": {SAY: {"rate_limit": True}}},
        f"methods.{SAY}.rate_limit.limit: required when rate_limit is on",
    ),
    ("peers", {"trusted_peers": "10.0.0.0/8"}, "trusted_peers: must be a list of peers"),
    ("peer-bits", {"trusted_peers": ["10.0.0.1/8"]}, "trusted_peers[0]: must be a CIDR network"),
    ("peer-name", {"trusted_peers": ["::1/128", "localhost"]}, "trusted_peers[1]: must be a CIDR"),
    ("peer-port", {"trusted_peers": ["ipv4:10.0.0.1:http"]}, "trusted_peers[0]: must be a CIDR"),
]


@pytest.mark.parametrize(
    ("data", "start"), [case[1:] for case in STRUCTURE_CASES], ids=[c[0] for c in STRUCTURE_CASES]
)
def test_a_bad_structure_is_named_by_its_key_path(data: dict[str, Any], start: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Policy.from_dict(data)
    assert str(raised.value).startswith(start)


def test_the_contract_example_message_is_exact() -> None:
    with pytest.raises(ConfigError) as raised:
        Policy.from_dict(settings_with("breaker.k", 0.5))
    assert str(raised.value) == "methods./echo.Echo/Say.breaker.k: must be >= 1, got 0.5"


def test_a_merged_section_is_checked_at_the_pattern_that_completes_it() -> None:
    data = {
        "methods": {
            "*": {"timeout": {"t_avg": 0.1, "t_hwm": 1.0, "t_max": 2.0}},
            SAY: {"timeout": {"t_hwm": 0.05}},
        }
    }
    with pytest.raises(ConfigError, match=rf"^methods\.{SAY}\.timeout: must satisfy"):
        Policy.from_dict(data)


def test_not_a_mapping_is_rejected() -> None:
    with pytest.raises(ConfigError, match="a policy must be a table"):
        Policy.from_dict([])  # type: ignore[arg-type]


def test_cache_size_is_validated() -> None:
    with pytest.raises(ConfigError, match="cache_size: must be >= 1 and <= 1000000, got 0"):
        Policy(cache_size=0)
    with pytest.raises(ConfigError, match="cache_size: must be >= 1 and <= 1000000, got 10000000"):
        Policy(cache_size=10**7)
