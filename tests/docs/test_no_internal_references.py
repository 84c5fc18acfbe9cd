"""The project stands alone: no tracked text file (code, docs, benchmarks, scenarios, help and
output strings) points at the team's private notes or at issue numbers a user cannot see.
Public upstream references (``grpc/grpc#31442``, a GitHub issue URL) are fine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # runs a subprocess

ROOT = Path(__file__).resolve().parents[2]
_NAMES = ["ALGORITHMS", "BASELINES", "DESIGN"]
INTERNAL = re.compile(
    r"(?-i:\b(?:" + "|".join(_NAMES) + r")\.md\b)"  # private notes, not algorithms.md
    r"|\bissues? #?\d+"  # "issue 2", "issue #2"
    r"|(?<![\w/.&#-])#\d+\b"  # a bare "#12" (not "owner/repo#12", "&#39;", an anchor)
    r"|\.\./shared/",  # a path out of the repository
    re.IGNORECASE,
)
BINARY = {".png", ".ico", ".gz", ".whl"}


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False
    ).stdout.decode()
    if not listed:
        pytest.skip("not a git checkout")
    return [
        ROOT / name
        for name in listed.split("\0")
        if name and Path(name).suffix not in BINARY and (ROOT / name).is_file()
    ]


def references(text: str) -> list[str]:
    return [match.group(0) for match in INTERNAL.finditer(text)]


def test_no_tracked_file_cites_private_notes_or_issue_numbers() -> None:
    this = Path(__file__).resolve()
    found = []
    for path in tracked_text_files():
        if path.resolve() == this:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for reference in references(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {reference!r}")
    assert not found, "internal references:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "see ALGORITHMS.md section 5",
        "measured in ../shared/BASELINES.md",
        "DESIGN.md says so",
        "Target (issue 2): 1 us",
        "fixed in issue #14",
        "as in #2028",
    ],
)
def test_the_check_catches_internal_references(line: str) -> None:
    assert references(line)


@pytest.mark.parametrize(
    "line",
    [
        "(grpc/grpc#31442)",
        "https://github.com/grpc/grpc/issues/31442",
        "see [the page](failover.md#3-retry)",
        "color: '#1f77b4'",
        "an &#39;escaped&#39; quote",
        "[API](../api/algorithms.md)",
    ],
)
def test_public_references_pass(line: str) -> None:
    assert not references(line)
