"""Policy files: TOML, YAML and JSON give the same policy; errors name the file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from resilience.errors import ConfigError, MissingExtraError
from resilience.policy import Policy, RateLimitSettings, TimeoutSettings

TOML = """
trusted_peers = ["127.0.0.1/32", "::1/128"]

[methods."*"]
breaker = { k = 2.0, min_requests = 20 }

[methods."/shop.Catalog/*"]
read = true
timeout = { t_avg = "60ms", t_hwm = 0.25, t_max = 0.5 }

[methods."/shop.Catalog/Browse"]
tier = 3
rate_limit = { limit = 500, window = 1.0, tiered = true }

[methods."/shop.Cart/Add"]
breaker = false
overload = { cpu_thresholds = { "4" = 0.7 } }
"""

YAML = """
trusted_peers: ["127.0.0.1/32", "::1/128"]
methods:
  "*":
    breaker: {k: 2.0, min_requests: 20}
  /shop.Catalog/*:
    read: true
    timeout: {t_avg: 60ms, t_hwm: 0.25, t_max: 0.5}
  /shop.Catalog/Browse:
    tier: 3
    rate_limit: {limit: 500, window: 1.0, tiered: true}
  /shop.Cart/Add:
    breaker: false
    overload:
      cpu_thresholds: {4: 0.7}
"""

TREE = {
    "trusted_peers": ["127.0.0.1/32", "::1/128"],
    "methods": {
        "*": {"breaker": {"k": 2.0, "min_requests": 20}},
        "/shop.Catalog/*": {
            "read": True,
            "timeout": {"t_avg": "60ms", "t_hwm": 0.25, "t_max": 0.5},
        },
        "/shop.Catalog/Browse": {
            "tier": 3,
            "rate_limit": {"limit": 500, "window": 1.0, "tiered": True},
        },
        "/shop.Cart/Add": {"breaker": False, "overload": {"cpu_thresholds": {"4": 0.7}}},
    },
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text"),
    [("p.toml", TOML), ("p.yaml", YAML), ("p.yml", YAML), ("p.json", json.dumps(TREE))],
)
def test_every_format_loads_the_same_policy(tmp_path: Path, name: str, text: str) -> None:
    loaded = Policy.from_file(write(tmp_path, name, text))
    assert loaded == Policy.from_dict(TREE)
    browse = loaded.settings_for("/shop.Catalog/Browse")
    assert browse.read
    assert browse.tier == 3
    assert browse.timeout == TimeoutSettings()
    assert browse.rate_limit == RateLimitSettings(
        limit=500, tiered=True, key="/shop.Catalog/Browse"
    )
    cart = loaded.settings_for("/shop.Cart/Add")
    assert cart.breaker is None
    assert cart.overload is not None
    assert cart.overload.cpu_thresholds[4] == 0.7
    assert loaded.trusted_peers == ("127.0.0.1/32", "::1/128")


def test_an_empty_file_is_the_default_policy(tmp_path: Path) -> None:
    assert Policy.from_file(write(tmp_path, "p.yaml", "")) == Policy.default()
    assert Policy.from_file(write(tmp_path, "p.toml", "")) == Policy.default()


def test_validation_errors_name_the_file_and_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", '[methods."/echo.Echo/Say"]\nbreaker = { k = 0.5 }\n')
    with pytest.raises(ConfigError) as raised:
        Policy.from_file(path)
    assert str(raised.value) == f"{path}: methods./echo.Echo/Say.breaker.k: must be >= 1, got 0.5"


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [("p.toml", "methods = [", "TOML"), ("p.json", "{", "JSON"), ("p.yaml", "a: [", "YAML")],
)
def test_syntax_errors_name_the_file_and_format(
    tmp_path: Path, name: str, text: str, kind: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError, match=f"^{path}: not valid {kind}: "):
        Policy.from_file(path)


def test_a_non_table_document_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a policy must be a table"):
        Policy.from_file(write(tmp_path, "p.json", "[1, 2]"))


def test_an_unknown_suffix_is_rejected_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unsupported policy file suffix '\.ini'; use one of"):
        Policy.from_file(tmp_path / "missing.ini")


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Policy.from_file(tmp_path / "missing.toml")


def test_yaml_without_pyyaml_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` fail
    with pytest.raises(MissingExtraError, match=r"grpc-resilience\[yaml\]"):
        Policy.from_file(write(tmp_path, "p.yaml", "methods: {}"))
