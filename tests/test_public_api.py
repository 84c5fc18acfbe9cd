"""The package's curated surface: sorted, importable, documented, and cheap to import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import resilience


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
