"""Configuration from the environment: ``Policy.from_env`` reads the file ``RESILIENCE_POLICY``
names and the default store ``RESILIENCE_STORE_URL``; an explicit argument wins over the
environment, the environment over the file; bad values raise ConfigError naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from resilience.errors import ConfigError
from resilience.policy import Policy, PolicyWatcher

FILE_STORE = "redis://file.example:6379/0"
ENV_STORE = "redis://env.example:6379/0"
ARG_STORE = "redis://arg.example:6379/0"
ANY = "/shop.Cart/Add"
OWN = "/shop.Catalog/Browse"


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """A file with a default store, a limit naming none and a limit naming its own."""
    path = tmp_path / "policy.toml"
    path.write_text(
        f'default_store = "{FILE_STORE}"\n'
        '[methods."*".rate_limit]\nlimit = 100\n'
        '[methods."/shop.Catalog/*".rate_limit]\nlimit = 10\nstore = "memory"\n'
    )
    return path


def store_of(policy: Policy, method: str = ANY) -> str:
    limit = policy.settings_for(method).rate_limit
    assert limit is not None
    return limit.store


def test_the_file_named_by_the_variable_is_loaded(policy_file: Path) -> None:
    policy = Policy.from_env(environ={"RESILIENCE_POLICY": str(policy_file)})
    assert policy == Policy.from_file(policy_file)
    assert store_of(policy) == FILE_STORE


def test_an_explicit_path_wins_over_the_variable(policy_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('[methods."*".rate_limit]\nlimit = 7\n')
    policy = Policy.from_env(other, environ={"RESILIENCE_POLICY": str(policy_file)})
    limit = policy.settings_for(ANY).rate_limit
    assert limit is not None
    assert (limit.limit, limit.store) == (7, "memory")


@pytest.mark.parametrize(
    ("environ", "store", "expected"),
    [
        ({}, None, FILE_STORE),  # the file
        ({"RESILIENCE_STORE_URL": ENV_STORE}, None, ENV_STORE),  # environment over file
        ({"RESILIENCE_STORE_URL": ENV_STORE}, ARG_STORE, ARG_STORE),  # argument over both
        ({"RESILIENCE_STORE_URL": ""}, None, FILE_STORE),  # empty: unset
    ],
)
def test_store_precedence_is_argument_then_environment_then_file(
    policy_file: Path, environ: dict[str, str], store: str | None, expected: str
) -> None:
    policy = Policy.from_env(
        store=store, environ={"RESILIENCE_POLICY": str(policy_file), **environ}
    )
    assert store_of(policy) == expected
    assert store_of(policy, OWN) == "memory"  # a limit naming its own store keeps it


def test_without_a_file_the_default_policy_gets_the_store(tmp_path: Path) -> None:
    assert Policy.from_env(environ={}) == Policy.default()
    # the default policy has no limit; the store applies to a limit a later reload declares
    assert Policy.from_env(environ={"RESILIENCE_STORE_URL": ENV_STORE}) == Policy.default()


def test_the_watcher_reloads_with_the_environment_store(policy_file: Path) -> None:
    environ = {"RESILIENCE_POLICY": str(policy_file), "RESILIENCE_STORE_URL": ENV_STORE}
    watcher = PolicyWatcher.from_env(lambda policy: None, environ=environ)
    assert store_of(watcher.policy) == ENV_STORE
    policy_file.write_text('[methods."*".rate_limit]\nlimit = 5\n')
    reloaded = watcher.check()
    assert reloaded is not None
    assert store_of(reloaded) == ENV_STORE


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RESILIENCE_STORE_URL": "http://cache:6379"}, r"^RESILIENCE_STORE_URL: must be"),
        ({"RESILIENCE_STORE_URL": "redis://h:99999"}, r"^RESILIENCE_STORE_URL: "),
        ({"RESILIENCE_POLICY": "/nonexistent/policy.toml"}, r"^RESILIENCE_POLICY=.*cannot read"),
        ({"RESILIENCE_POLICY": "/etc/hostname"}, r"^RESILIENCE_POLICY: .*suffix"),
    ],
)
def test_bad_values_raise_config_errors_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy.from_env(environ=environ)


def test_a_bad_policy_file_from_the_variable_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[methods."*".rate_limit]\nlimit = 0\n')
    with pytest.raises(
        ConfigError, match=r"^RESILIENCE_POLICY=.*bad.toml: methods\.\*\.rate_limit\.limit"
    ):
        Policy.from_env(environ={"RESILIENCE_POLICY": str(path)})


def test_the_watcher_needs_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^RESILIENCE_POLICY: not set"):
        PolicyWatcher.from_env(lambda policy: None, environ={})
