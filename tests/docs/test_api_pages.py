"""The API reference lists every public name and has a page per public module."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import resilience

ROOT = Path(__file__).resolve().parents[2]
MODULES = (
    "algorithms",
    "interceptors",
    "pipeline",
    "policy",
    "profiling",
    "context",
    "events",
    "failover",
    "backends",
    "observability",
    "chaos",
    "recording",
    "tools.loadtest",
    "testing",
)


def _pinned_surface() -> dict[str, set[str]]:
    """The surface pinned by tests/test_public_api.py (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("pinned", ROOT / "tests" / "test_public_api.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    surface: dict[str, set[str]] = module.SURFACE
    return surface


def test_the_package_page_names_every_export() -> None:
    page = (ROOT / "docs" / "api" / "index.md").read_text(encoding="utf-8")
    missing = [name for name in resilience.__all__ if f"`{name}`" not in page]
    assert not missing, f"add to docs/api/index.md: {missing}"


def test_every_public_module_is_documented() -> None:
    """Each public module of the pinned surface has a page or a section of the root's page."""
    on_the_root_page = {"errors", "shadow"}
    tooling_without_a_page = {"tools.experiments", "tools.simulate"}
    pinned = {name.removeprefix("resilience.") for name in _pinned_surface()} - {"resilience"}
    assert pinned == set(MODULES) | on_the_root_page | tooling_without_a_page
    page = (ROOT / "docs" / "api" / "index.md").read_text(encoding="utf-8")
    for module in on_the_root_page:
        assert f"::: resilience.{module}" in page


def test_every_public_module_has_a_page_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for module in MODULES:
        page_name = module.rpartition(".")[2]
        page = ROOT / "docs" / "api" / f"{page_name}.md"
        assert f"::: resilience.{module}" in page.read_text(encoding="utf-8")
        assert f"api/{page_name}.md" in nav
