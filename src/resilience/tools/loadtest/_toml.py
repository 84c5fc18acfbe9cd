"""Reading TOML description files with errors that name the file, the line and the field.

tomllib reports the line of a syntax error; for a semantic error (a bad value) the field path
(``call[2].weight``) is found back in the text: the ``index``-th ``[[call]]`` header, then the
``weight =`` line inside it. When the line cannot be found the error names the field only.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from resilience.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

_FIELD_PATH = re.compile(r"^([A-Za-z_][\w-]*)(?:\[(\d+)\])?(?:\.([A-Za-z_][\w-]*))?")
_LINE_IN_MESSAGE = re.compile(r"\(at line (\d+), column \d+\)")


def load(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """The parsed document and its text; a syntax error becomes ``file:line: message``."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _LINE_IN_MESSAGE.search(message)
        line = found.group(1) if found else "?"
        raise ConfigError(
            f"{name}:{line}: TOML syntax: {_LINE_IN_MESSAGE.sub('', message).strip()}"
        ) from None


def located(error: ConfigError, path: str | os.PathLike[str], text: str) -> ConfigError:
    """A copy of ``error`` (whose message starts with a field path) prefixed with the file and,
    when it can be found, the line of that field."""
    message = str(error)
    line = find_line(text, message.split(":", 1)[0])
    where = f"{os.fspath(path)}:{line}" if line is not None else os.fspath(path)
    return ConfigError(f"{where}: {message}")


def find_line(text: str, field_path: str) -> int | None:
    """1-based line of ``table[index].key`` / ``table.key`` / ``key`` in ``text``, or None."""
    match = _FIELD_PATH.match(field_path)
    if match is None:
        return None
    table, index, key = match.group(1), match.group(2), match.group(3)
    lines = text.splitlines()
    if index is None and key is None:
        return _key_line(lines, 0, table) or _header_line(lines, table, None)
    start = _header_line(lines, table, None if index is None else int(index))
    if start is None:
        return None
    if key is None:
        return start
    return _key_line(lines, start, key) or start


def _header_line(lines: list[str], table: str, index: int | None) -> int | None:
    pattern = re.compile(
        rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]"
        if index is not None
        else rf"^\s*\[\s*{re.escape(table)}\s*\]"
    )
    seen = 0
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            if index is None or seen == index:
                return number
            seen += 1
    return None


def _key_line(lines: list[str], start: int, key: str) -> int | None:
    """The line of ``key = ...`` in the table whose header is on line ``start`` (0: the top)."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        if line.lstrip().startswith("["):
            break  # the next table begins
        if pattern.match(line):
            return number
    return None
