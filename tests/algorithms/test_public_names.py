"""The algorithms' public names: sorted, importable, and not re-exported from ``resilience``."""

from __future__ import annotations

import resilience
import resilience.algorithms as algorithms


def test_all_is_sorted_and_every_name_imports() -> None:
    assert algorithms.__all__ == sorted(algorithms.__all__)
    for name in algorithms.__all__:
        assert getattr(algorithms, name) is not None


def test_the_root_leaves_the_algorithms_to_their_package() -> None:
    """A service needs none of them directly: they are imported from resilience.algorithms."""
    assert not set(algorithms.__all__) & set(resilience.__all__)
