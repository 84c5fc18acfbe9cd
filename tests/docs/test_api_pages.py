"""The API reference lists every public name and has a page per public module."""

from __future__ import annotations

from pathlib import Path

import resilience

ROOT = Path(__file__).resolve().parents[2]
MODULES = (
    "algorithms",
    "interceptors",
    "policy",
    "context",
    "failover",
    "backends",
    "observability",
    "chaos",
    "recording",
    "tools.loadtest",
    "testing",
)


def test_the_package_page_names_every_export() -> None:
    page = (ROOT / "docs" / "api" / "index.md").read_text(encoding="utf-8")
    missing = [name for name in resilience.__all__ if f"`{name}`" not in page]
    assert not missing, f"add to docs/api/index.md: {missing}"


def test_every_public_module_has_a_page_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for module in MODULES:
        page_name = module.rpartition(".")[2]
        page = ROOT / "docs" / "api" / f"{page_name}.md"
        assert f"::: resilience.{module}" in page.read_text(encoding="utf-8")
        assert f"api/{page_name}.md" in nav
