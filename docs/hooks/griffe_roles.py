"""Griffe extension: render the reST roles of the library's docstrings as Markdown code.

The docstrings use Sphinx roles (``:class:`~resilience.policy.Policy```) and double-backquoted
literals, which read well in ``help()``. mkdocstrings renders Markdown, so each role becomes an
inline code span showing what Sphinx would show: the last dotted part after ``~``, the whole
target otherwise. ``::`` before an indented block becomes ``:`` and the block a Python fence.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|attr|mod|exc|obj|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2).strip()
    if short:
        target = target.rsplit(".", 1)[-1]
    if match.group(0).startswith((":func:", ":meth:")) and not target.endswith(")"):
        target += "()"
    return f"`{target}`"


def _literal_blocks(text: str) -> str:
    """Turn reST literal blocks (a paragraph ending in ``::`` and an indented block) into fences."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.rstrip().endswith("::") and index + 1 < len(lines):
            out.append(line.rstrip()[:-1] if line.rstrip() != "::" else "")
            index += 1
            block: list[str] = []
            while index < len(lines) and (not lines[index].strip() or lines[index].startswith(" ")):
                block.append(lines[index])
                index += 1
            while block and not block[-1].strip():
                block.pop()
            body = list(block)
            while body and not body[0].strip():
                body.pop(0)
            indent = min(
                (len(entry) - len(entry.lstrip()) for entry in body if entry.strip()), default=0
            )
            out.append("")
            out.append("```")
            out.extend(entry[indent:] for entry in body)
            out.append("```")
            out.append("")
            continue
        out.append(line)
        index += 1
    return "\n".join(out)


def convert(text: str) -> str:
    """The Markdown form of one docstring."""
    return _literal_blocks(_ROLE.sub(_role, text))


class ReSTRoles(griffe.Extension):
    """Rewrite every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
