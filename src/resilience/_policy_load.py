"""Reading a policy file into the plain tree that :meth:`Policy.from_dict` takes.

The format follows the suffix: ``.toml`` (tomllib, or tomli on Python 3.10), ``.yaml`` /
``.yml`` (PyYAML, the ``yaml`` extra) and ``.json``. All three give the same tree.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resilience._optional import require
from resilience.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]


def _parse_toml(text: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(str(exc)) from None


def _parse_yaml(text: str) -> Any:
    yaml = require("yaml", "yaml")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


PARSERS: dict[str, Callable[[str], Any]] = {
    ".toml": _parse_toml,
    ".yaml": _parse_yaml,
    ".yml": _parse_yaml,
    ".json": _parse_json,
}
"""File suffix (lowercase) -> parser from text to a plain tree."""


def parse_policy_text(text: str, suffix: str, *, source: str = "<policy>") -> Any:
    """Parse ``text`` in the format named by ``suffix``; syntax errors become ConfigError."""
    parser = PARSERS.get(suffix.lower())
    if parser is None:
        known = ", ".join(PARSERS)
        raise ConfigError(
            f"{source}: unsupported policy file suffix {suffix!r}; use one of {known}"
        )
    try:
        tree = parser(text)
    except ValueError as exc:
        raise ConfigError(f"{source}: not valid {suffix.lstrip('.').upper()}: {exc}") from None
    return {} if tree is None else tree  # an empty YAML document is an empty policy


def read_policy_file(path: str | os.PathLike[str]) -> tuple[Any, bytes]:
    """The parsed tree of the file at ``path`` and its raw bytes (for change detection)."""
    file = Path(path)
    if file.suffix.lower() not in PARSERS:
        parse_policy_text("", file.suffix, source=str(file))  # raises: names the suffixes
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text: {exc}") from None
    return parse_policy_text(text, file.suffix, source=str(file)), raw
