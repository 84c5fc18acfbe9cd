"""The algorithms' public names: sorted, importable, and re-exported from ``resilience``."""

from __future__ import annotations

import resilience
import resilience.algorithms as algorithms


def test_all_is_sorted_and_every_name_imports() -> None:
    assert algorithms.__all__ == sorted(algorithms.__all__)
    for name in algorithms.__all__:
        assert getattr(algorithms, name) is not None


def test_the_package_re_exports_the_same_objects() -> None:
    for name in set(algorithms.__all__) - {"ALLOWED"}:
        assert name in resilience.__all__
        assert getattr(resilience, name) is getattr(algorithms, name)
