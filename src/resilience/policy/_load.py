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

from resilience._base.limits import MAX_DEPTH, MAX_NODES, MAX_POLICY_BYTES, MAX_YAML_ALIASES
from resilience._base.optional import require
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
    """Safe YAML (no tags that run code) with at most :data:`MAX_YAML_ALIASES` aliases, counted
    on the event stream before anything is built, so a "billion laughs" document costs nothing.
    """
    yaml = require("yaml", "yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, loader))
        if aliases > MAX_YAML_ALIASES:
            raise ValueError(f"holds {aliases} aliases (*name); at most {MAX_YAML_ALIASES}")
        return yaml.load(text, loader)
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
    kind = suffix.lstrip(".").upper()
    if len(text) > MAX_POLICY_BYTES:
        raise ConfigError(
            f"{source}: {len(text)} characters; a policy holds at most {MAX_POLICY_BYTES}"
        )
    try:
        tree = parser(text)
    except RecursionError:
        raise ConfigError(f"{source}: not valid {kind}: nested too deeply") from None
    except ValueError as exc:
        raise ConfigError(f"{source}: not valid {kind}: {_cut(str(exc))}") from None
    check_shape(tree, source)
    return {} if tree is None else tree  # an empty YAML document is an empty policy


def _cut(message: str) -> str:
    return message if len(message) <= 500 else message[:500] + "..."


def check_shape(tree: object, source: str) -> None:
    """Refuse a tree nested deeper than :data:`MAX_DEPTH` or holding more than
    :data:`MAX_NODES` values once YAML aliases are expanded (iterative: no recursion, and it
    stops at the bound, so a self-referencing or exploding tree is cheap to refuse)."""
    stack: list[tuple[object, int]] = [(tree, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ConfigError(f"{source}: holds more than {MAX_NODES} values (aliases expanded)")
        if isinstance(node, dict):
            children: list[object] = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if children and depth >= MAX_DEPTH:
            raise ConfigError(f"{source}: nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def read_policy_file(path: str | os.PathLike[str]) -> tuple[Any, bytes]:
    """The parsed tree of the file at ``path`` and its raw bytes (for change detection)."""
    file = Path(path)
    if file.suffix.lower() not in PARSERS:
        parse_policy_text("", file.suffix, source=str(file))  # raises: names the suffixes
    size = file.stat().st_size
    if size > MAX_POLICY_BYTES:
        raise ConfigError(f"{file}: {size} bytes; a policy file holds at most {MAX_POLICY_BYTES}")
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text: {exc}") from None
    return parse_policy_text(text, file.suffix, source=str(file)), raw
