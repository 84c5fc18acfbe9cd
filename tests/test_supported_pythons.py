"""The Pythons the package claims are the ones `make compat` smoke-tests the wheel on."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)")


def _project() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project: dict[str, object] = data["project"]
    return project


def _claimed_versions() -> list[str]:
    classifiers = _project()["classifiers"]
    assert isinstance(classifiers, list)
    return [m.group(1) for c in classifiers if (m := CLASSIFIER.fullmatch(c))]


def _compat_versions() -> list[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^COMPAT_VERSIONS \?= (.+)$", makefile, re.MULTILINE)
    assert match, "the Makefile defines no COMPAT_VERSIONS"
    return match.group(1).split()


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def test_every_claimed_python_is_one_make_compat_tests() -> None:
    assert sorted(_claimed_versions(), key=_minor) == sorted(_compat_versions(), key=_minor)


def test_requires_python_starts_at_the_oldest_claimed_python() -> None:
    oldest = min(_claimed_versions(), key=_minor)
    assert _project()["requires-python"] == f">={oldest}"
