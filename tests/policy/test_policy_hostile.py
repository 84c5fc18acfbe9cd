"""Hostile policy documents: exploding YAML aliases, deep nesting, wrong types anywhere in the
tree. Each is refused with a ConfigError naming the file or key path, quickly and with a short
message, and a PolicyWatcher keeps its policy and reports the error."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience._base.limits import MAX_NODES, MAX_POLICY_BYTES, MAX_YAML_ALIASES
from resilience.errors import ConfigError
from resilience.policy import Policy, PolicyWatcher

pytest.importorskip("yaml")

GOOD = "methods:\n  /echo.Echo/Say:\n    tier: 1\n"


def laughs(levels: int) -> str:
    """The "billion laughs" document: each level an anchored list of 9 aliases of the last, in
    one value (so a repr of it in an error message would expand 9**levels strings)."""
    items = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "chaos:\n  seed: [" + ", ".join(items) + "]\n"


def load(tmp_path: Path, text: str, suffix: str) -> Policy:
    path = tmp_path / f"policy{suffix}"
    path.write_text(text, encoding="utf-8")
    return Policy.from_file(path)


@pytest.mark.parametrize("levels", [7, 9, 12])
def test_billion_laughs_is_refused_without_expanding(tmp_path: Path, levels: int) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, laughs(levels), ".yaml")
    message = str(raised.value)
    assert f"more than {MAX_NODES} values (aliases expanded)" in message
    assert len(message) < 300


def test_too_many_aliases_are_refused(tmp_path: Path) -> None:
    anchors = "trusted_peers: [&p 10.0.0.1, " + ", ".join(["*p"] * (MAX_YAML_ALIASES + 1)) + "]"
    with pytest.raises(ConfigError, match=f"aliases \\(\\*name\\); at most {MAX_YAML_ALIASES}"):
        load(tmp_path, anchors + "\n", ".yaml")


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    text = (
        "methods:\n"
        "  /a.A/*: {timeout: &fast {t_avg: 10ms, t_hwm: 50ms, t_max: 100ms}}\n"
        "  /b.B/*: {timeout: *fast}\n"
    )
    policy = load(tmp_path, text, ".yaml")
    assert policy.settings_for("/b.B/X").timeout == policy.settings_for("/a.A/X").timeout


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".json", "[" * 100_000 + "]" * 100_000),
        (".yaml", "[" * 100_000 + "]" * 100_000),
        (".toml", "a = " + "[" * 100_000 + "]" * 100_000),
        (".json", '{"methods": ' + '{"a": ' * 40 + "1" + "}" * 41),
    ],
    ids=["json", "yaml", "toml", "json-40"],
)
def test_deep_nesting_is_a_config_error(tmp_path: Path, suffix: str, text: str) -> None:
    with pytest.raises(ConfigError, match=r"nested (too deeply|deeper than)|maximum nesting"):
        load(tmp_path, text, suffix)


def test_a_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"at most {MAX_POLICY_BYTES}"):
        load(tmp_path, GOOD + "#" * MAX_POLICY_BYTES, ".yaml")


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"trusted_peers": False}, "trusted_peers: must be a list of peers, got False"),
        ({"trusted_peers": 7}, "trusted_peers: must be a list of peers, got 7"),
        ({"trusted_peers": {"a": 1}}, "trusted_peers: must be a list of peers"),
        ({"trusted_peers": [[1]]}, "trusted_peers[0]: must be a CIDR network"),
        ({"chaos": {"allowed_colors": [{"a": 1}]}}, "chaos.allowed_colors: colors are 1 to 64"),
        ({"chaos": {"allowed_colors": [["x"]]}}, "chaos.allowed_colors: colors are 1 to 64"),
        ({"record": {"path": "x", "secret_keys": [{}]}}, "record.secret_keys: must be a list"),
        ({"methods": {"*": {"failure_codes": [{}]}}}, "methods.*.failure_codes"),
        ({"methods": {"*": {"overload": {"cpu_thresholds": {"1": []}}}}}, "cpu_thresholds"),
        ({"faults": [{"method": {}}]}, "faults[0].method"),
        ({"methods": [1]}, "methods: must be a table"),
    ],
)
def test_wrong_types_are_config_errors(tree: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Policy.from_dict(tree)
    assert message in str(raised.value)


def test_a_huge_value_is_cut_in_the_message() -> None:
    with pytest.raises(ConfigError) as raised:
        Policy.from_dict({"chaos": {"seed": ["x" * 1_000_000] * 1000}})
    assert len(str(raised.value)) < 300


def test_the_watcher_keeps_its_policy_on_hostile_content(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD, encoding="utf-8")
    watcher = PolicyWatcher(path, lambda policy: None)
    for text in (laughs(9), "[" * 100_000, "trusted_peers: false\n", "chaos: {seed: [[[{}]]]}\n"):
        path.write_text(text, encoding="utf-8")
        assert watcher.check() is None
        assert watcher.last_error is not None
        assert len(watcher.last_error) < 600
        assert watcher.policy.settings_for("/echo.Echo/Say").tier == 1


KEYS = st.sampled_from(
    [
        "methods",
        "trusted_peers",
        "faults",
        "chaos",
        "record",
        "*",
        "/a.B/*",
        "/a.B/C",
        "breaker",
        "timeout",
        "rate_limit",
        "overload",
        "tier",
        "failure_codes",
        "buckets",
        "window",
        "limit",
        "store",
        "cpu_thresholds",
        "allowed_colors",
        "enabled",
        "seed",
        "path",
        "secret_keys",
        "max_bytes",
        "method",
        "delay",
        "abort",
        "1",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["10ms", "UNAVAILABLE", "redis://h:1/0", "memory", "10.0.0.0/8", "x"]),
)
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=st.dictionaries(KEYS, TREES, max_size=4))
def test_any_tree_builds_a_policy_or_raises_config_error(tree: dict[str, Any]) -> None:
    message = ""
    try:
        Policy.from_dict(tree)
    except ConfigError as exc:
        message = str(exc)
    assert len(message) < 2000


@settings(max_examples=100, deadline=None)
@given(tree=st.dictionaries(KEYS, TREES, max_size=4), suffix=st.sampled_from([".json", ".yaml"]))
def test_any_file_loads_or_raises_config_error(
    tmp_path_factory: Any, tree: Any, suffix: str
) -> None:
    yaml = pytest.importorskip("yaml")
    path = tmp_path_factory.mktemp("fuzz") / f"policy{suffix}"
    text = json.dumps(tree) if suffix == ".json" else yaml.safe_dump(tree)
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(ConfigError):
        Policy.from_file(path)
