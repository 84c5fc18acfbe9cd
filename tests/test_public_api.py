"""The package's curated surface: sorted, importable, documented, and cheap to import."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import resilience

PUBLIC_MODULES = (
    "resilience.algorithms",
    "resilience.backends",
    "resilience.chaos",
    "resilience.context",
    "resilience.errors",
    "resilience.failover",
    "resilience.interceptors",
    "resilience.tools.loadtest",
    "resilience.observability",
    "resilience.policy",
    "resilience.shadow",
    "resilience.tools.simulate",
    "resilience.testing",
)


def test_all_is_sorted_and_matches_the_lazy_export_table() -> None:
    names = [name for name in resilience.__all__ if name != "__version__"]
    assert resilience.__all__ == sorted(resilience.__all__)
    assert set(names) == set(resilience._EXPORTS)


@pytest.mark.parametrize("name", sorted(resilience._EXPORTS))
def test_every_public_name_resolves_and_has_a_docstring(name: str) -> None:
    value = getattr(resilience, name)
    assert inspect.getdoc(value), f"resilience.{name} has no docstring"
    assert name in dir(resilience)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        resilience.Nope  # noqa: B018


def test_importing_the_package_loads_neither_grpc_nor_an_extra() -> None:
    code = (
        "import sys, resilience; "
        "print(sorted(m for m in ('grpc', 'redis', 'sentry_sdk', 'opentelemetry') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_command_line_reports_the_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "resilience", "--version"], capture_output=True, text=True
    )
    assert out.stdout.strip() == f"resilience {resilience.__version__}"


def isort_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps ``__all__`` in: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_module_has_a_sorted_documented_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names, key=isort_order), f"{module_name}.__all__ is not sorted"
    assert inspect.getdoc(module), f"{module_name} has no docstring"
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{module_name}.{name} has no docstring"


def test_the_package_re_exports_each_name_from_its_public_module() -> None:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in set(module.__all__) & set(resilience.__all__):
            assert getattr(resilience, name) is getattr(module, name), name
