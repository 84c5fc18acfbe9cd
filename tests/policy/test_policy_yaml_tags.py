"""A YAML policy never runs code: Python tags are refused with a ConfigError, nothing executes."""

from __future__ import annotations

from pathlib import Path

import pytest

from resilience.errors import ConfigError
from resilience.policy import Policy, PolicyWatcher

pytest.importorskip("yaml")


def tagged_policy(tmp_path: Path, marker: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        f'methods:\n  "*":\n    tier: !!python/object/apply:os.mkdir [{str(marker)!r}]\n'
    )
    return path


def test_python_tags_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tagged_policy(tmp_path, marker)
    with pytest.raises(ConfigError, match=r"policy\.yaml"):
        Policy.from_file(path)
    assert not marker.exists()


def test_a_watched_file_with_python_tags_keeps_the_policy(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "policy.yaml"
    path.write_text('methods:\n  "*":\n    tier: 2\n')
    changes: list[Policy] = []
    watcher = PolicyWatcher(path, changes.append)
    before = watcher.policy
    tagged_policy(tmp_path, marker)
    assert watcher.check() is None
    assert watcher.policy is before
    assert watcher.last_error is not None
    assert changes == []
    assert not marker.exists()
