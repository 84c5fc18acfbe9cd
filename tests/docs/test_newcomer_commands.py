"""What `make demo` installs and how the docs are served and built, read from the files a
newcomer runs (``make -n`` prints the commands without running them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # runs a subprocess

ROOT = Path(__file__).resolve().parents[2]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def _dry_run(target: str) -> str:
    """The commands `make TARGET` would run, its prerequisites included (-B: as if stale)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


@needs_make
def test_make_demo_installs_what_the_demo_runs_not_the_test_tools() -> None:
    commands = _dry_run("demo")
    assert "pip install --progress-bar on -e '.[demo,redis]'" in commands
    assert "dev]" not in commands  # no test tools (.[all,dev] is make test's)
    assert "installed in" in commands  # says how long the install took
    assert commands.rstrip().endswith("-m resilience demo")


@needs_make
def test_make_docs_serve_serves_on_loopback_only() -> None:
    assert "mkdocs serve --dev-addr 127.0.0.1:8000" in _dry_run("docs-serve")


def test_the_site_names_no_repository_it_cannot_link() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    keys = {line.split(":", 1)[0] for line in config.splitlines() if not line.startswith(" ")}
    assert ("repo_name" in keys) == ("repo_url" in keys)


def test_the_site_works_from_the_file_system_and_fits_wide_content() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "\n  - offline\n" in config  # links name .html pages; see docs-serve for search
    css = (ROOT / "docs" / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    assert "stylesheets/extra.css" in config
    assert "white-space: pre-wrap" in css  # long code lines wrap
    assert "min-width: 0" in css  # wide tables fit the column
