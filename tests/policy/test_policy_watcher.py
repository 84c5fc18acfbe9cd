"""PolicyWatcher: a changed file becomes a new policy; an invalid one leaves the old in force."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from resilience.errors import ConfigError
from resilience.policy import Policy, PolicyWatcher
from resilience.testing import ManualClock

SAY = "/echo.Echo/Say"


def write(path: Path, tier: int | str) -> None:
    path.write_text(f'[methods."{SAY}"]\ntier = {tier}\n', encoding="utf-8")


def tier_of(policy: Policy) -> int:
    return policy.settings_for(SAY).tier


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    write(path, 1)
    return path


def test_the_file_is_loaded_at_construction(policy_file: Path) -> None:
    watcher = PolicyWatcher(policy_file, lambda policy: None)
    assert tier_of(watcher.policy) == 1
    assert watcher.check() is None  # nothing changed


def test_an_invalid_file_fails_construction(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    write(path, 9)
    with pytest.raises(ConfigError, match="tier: must be >= 1 and <= 4, got 9"):
        PolicyWatcher(path, lambda policy: None)


def test_a_change_is_loaded_and_handed_on(policy_file: Path) -> None:
    received: list[Policy] = []
    clock = ManualClock(50.0)
    watcher = PolicyWatcher(policy_file, received.append, clock=clock)
    write(policy_file, 3)
    new = watcher.check()
    assert new is not None
    assert tier_of(new) == 3
    assert received == [new]
    assert watcher.policy is new
    assert (watcher.reloads, watcher.last_reload_at, watcher.last_error) == (1, 50.0, None)
    assert watcher.check() is None
    assert received == [new]


def test_an_invalid_change_is_logged_once_and_the_old_policy_stays(
    policy_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[Policy] = []
    watcher = PolicyWatcher(policy_file, received.append)
    write(policy_file, 0)
    with caplog.at_level(logging.ERROR, logger="resilience.policy"):
        assert watcher.check() is None
        assert watcher.check() is None
    assert received == []
    assert tier_of(watcher.policy) == 1
    assert watcher.last_error is not None
    assert "tier: must be >= 1 and <= 4, got 0" in watcher.last_error
    assert [r.getMessage() for r in caplog.records].count(
        f"keeping the current policy: {watcher.last_error}"
    ) == 1
    write(policy_file, 4)  # fixed: picked up
    new = watcher.check()
    assert new is not None
    assert tier_of(new) == 4
    assert watcher.last_error is None


def test_a_syntax_error_keeps_the_old_policy(policy_file: Path) -> None:
    watcher = PolicyWatcher(policy_file, lambda policy: None)
    policy_file.write_text("[methods", encoding="utf-8")
    assert watcher.check() is None
    assert watcher.last_error is not None
    assert "not valid TOML" in watcher.last_error


def test_a_deleted_file_keeps_the_old_policy(policy_file: Path) -> None:
    watcher = PolicyWatcher(policy_file, lambda policy: None)
    policy_file.unlink()
    assert watcher.check() is None
    assert tier_of(watcher.policy) == 1
    assert watcher.last_error is not None
    assert watcher.last_error.startswith("cannot read")
    write(policy_file, 1)  # restored as it was: nothing to hand on, and healthy again
    assert watcher.check() is None
    assert watcher.last_error is None


def test_a_same_size_rewrite_with_the_same_mtime_is_noticed(policy_file: Path) -> None:
    watcher = PolicyWatcher(policy_file, lambda policy: None)
    stat = policy_file.stat()
    write(policy_file, 2)  # same size as tier = 1
    os.utime(policy_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    new = watcher.check()
    assert new is not None
    assert tier_of(new) == 2


def test_a_failing_handler_is_logged_and_the_watcher_goes_on(
    policy_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(policy: Policy) -> None:
        raise RuntimeError("handler bug")

    watcher = PolicyWatcher(policy_file, fail)
    write(policy_file, 2)
    with caplog.at_level(logging.ERROR, logger="resilience.policy"):
        assert watcher.check() is not None
    assert "policy change handler failed" in caplog.text
    assert tier_of(watcher.policy) == 2


def test_the_thread_polls_until_stopped(policy_file: Path) -> None:
    changed = threading.Event()
    watcher = PolicyWatcher(policy_file, lambda policy: changed.set(), interval=0.01)
    with watcher:
        with pytest.raises(RuntimeError, match="already started"):
            watcher.start()
        write(policy_file, 3)
        assert changed.wait(timeout=10)
    assert tier_of(watcher.policy) == 3
    assert not any(t.name == "resilience-policy-watcher" for t in threading.enumerate())
    watcher.stop()  # stopping twice is harmless


def test_interval_is_validated(policy_file: Path) -> None:
    with pytest.raises(ConfigError, match="interval: must be > 0, got 0"):
        PolicyWatcher(policy_file, lambda policy: None, interval=0)
