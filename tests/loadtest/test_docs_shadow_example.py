"""The shadow-storage example of docs/load-testing.md runs as written (real SQLite)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "load-testing.md"


def test_the_sqlite_example_runs() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## 3. Keep colored writes out of production", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the shadow-storage section lost its python example"
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_example"})
