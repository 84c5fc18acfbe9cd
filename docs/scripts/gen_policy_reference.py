"""Write docs/policy-reference.md from the policy's settings dataclasses and converter tables.

Run from the repository root: ``python docs/scripts/gen_policy_reference.py`` (``--check`` exits
1 when the committed page differs from what the code gives). Everything on the page is read from
``resilience.policy`` and its private modules: the top-level keys, every section's keys with
their type, default and allowed values (taken from the same converters that validate a file),
and each settings class's docstring. tests/docs/test_policy_reference.py runs ``--check``.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from resilience._base import limits as _limits
from resilience.chaos._rules import FaultRule
from resilience.policy import _chaos as _policy_chaos
from resilience.policy import _core as _policy_core
from resilience.policy import _profiling as _policy_profiling
from resilience.policy import _schema as _policy_schema
from resilience.policy._values import Invalid

PAGE = Path(__file__).resolve().parent.parent / "policy-reference.md"

_KIND = {
    "to_number": "number",
    "to_duration": "duration",
    "to_integer": "integer",
}
_SENTINEL = object()


def type_text(annotation: object) -> str:
    """A field's type for a code span in a table cell: ``float | None`` as ``float or None``
    (a table cell cannot hold a bare pipe, and an escaped one shows its backslash in code)."""
    return str(annotation).replace(" | ", " or ")


def _cells(converter: Callable[..., Any]) -> dict[str, Any]:
    """The variables a converter closes over (its bounds or choices), by name."""
    cells = converter.__closure__ or ()
    return {
        name: cell.cell_contents
        for name, cell in zip(converter.__code__.co_freevars, cells, strict=True)
    }


def _bounds(converter: Callable[..., Any]) -> str:
    cells = _cells(converter)
    parts = []
    for key, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        bound = cells.get(key)
        if bound is not None:
            parts.append(f"{symbol} {bound:g}" if isinstance(bound, float) else f"{symbol} {bound}")
    return " and ".join(parts)


def allowed(converter: Callable[..., Any]) -> str:
    """What a converter accepts, in words, read from the converter itself."""
    name = converter.__name__
    if name == "to_optional":  # an optional key: what it accepts when set
        return allowed(_cells(converter)["converter"])
    if name in _KIND:
        bounds = _bounds(converter)
        return f"{_KIND[name]} {bounds}".strip()
    if name == "to_choice":
        choices = _cells(converter)["choices"]
        return " or ".join(f'`"{choice}"`' for choice in choices)
    if name == "boolean":
        return "`true` or `false`"
    try:  # a bespoke converter explains itself when refusing a value no setting accepts
        converter(_SENTINEL)
    except Invalid as exc:
        return str(exc).split(", got ")[0].removeprefix("must be ").replace("|", "\\|")
    return ""


def literal(value: object) -> str:
    """A default as it would be written in a TOML policy."""
    if value is dataclasses.MISSING:
        return "**required**"
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, grpc.StatusCode):
        return f'`"{value.name}"`'
    if isinstance(value, (frozenset, tuple, list)):
        items = sorted(value, key=str) if isinstance(value, frozenset) else list(value)
        names = [item.name if isinstance(item, grpc.StatusCode) else item for item in items]
        return "`[" + ", ".join(f'"{name}"' for name in names) + "]`"
    if isinstance(value, Mapping):
        return "`{" + ", ".join(f"{key} = {val:g}" for key, val in value.items()) + "}`"
    return f"`{value!r}`"


def default_of(field: dataclasses.Field[Any]) -> object:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _doc(cls: type[Any]) -> str:
    text = inspect.cleandoc(cls.__doc__ or "")
    return text.replace(":class:`", "`").replace("``", "`")


def key_table(cls: type[Any], converters: Mapping[str, Callable[..., Any]] | None) -> list[str]:
    """One row per dataclass field: key, type, default, allowed values."""
    rows = ["| key | type | default | allowed |", "|---|---|---|---|"]
    for field in dataclasses.fields(cls):
        if converters is not None and field.name not in converters:
            continue  # set elsewhere in the tree (chaos's rules come from `faults`)
        converter = converters.get(field.name) if converters is not None else None
        accepted = allowed(converter) if converter is not None else "see above"
        kind = type_text(field.type)
        shown = field.metadata.get("shown")  # a default computed when built, in words
        default = f"`{shown}`" if shown is not None else literal(default_of(field))
        rows.append(f"| `{field.name}` | `{kind}` | {default} | {accepted} |")
    return rows


def render() -> str:
    """The whole page."""
    out = [
        "# Policy reference",
        "",
        "<!-- Generated by docs/scripts/gen_policy_reference.py from resilience.policy; do not",
        "     edit by hand. tests/docs/test_policy_reference.py fails when it is out of date. -->",
        "",
        "Every key a policy file (TOML, YAML or JSON) or `Policy.from_dict` accepts, with its",
        "type, default and allowed values, read from the code that validates it. The",
        "[policy guide](policy.md) explains patterns, resolution, hot reload and examples.",
        'Durations accept seconds as a number or a string such as `"250ms"`, `"1.5s"` or `"2m"`.',
        "",
        "## Top level",
        "",
        "| key | meaning |",
        "|---|---|",
    ]
    meaning = {
        "methods": "table: method pattern -> [method keys](#method-keys)",
        "trusted_peers": "list of CIDR networks, IP addresses or gRPC peer strings whose "
        "tier claims are honored",
        "faults": "list of [fault rules](#faults)",
        "chaos": "table: [fault injection switches](#chaos)",
        "record": "table: [traffic recording](#record) on servers",
        "profiling": "table: [load-aware profiling](#profiling) on servers",
        "default_store": "string: the `store` of every `rate_limit` that names none "
        "(`RESILIENCE_STORE_URL` overrides it in `Policy.from_env`)",
    }
    for key in sorted(_policy_core.TOP_KEYS):
        out.append(f"| `{key}` | {meaning.get(key, '')} |")
    out += [
        "",
        "## Method keys",
        "",
        "The plain keys of a method table; the most specific pattern that gives one wins.",
        "",
        "| key | type | default | allowed |",
        "|---|---|---|---|",
    ]
    method_fields = {
        field.name: field for field in dataclasses.fields(_policy_schema.MethodSettings)
    }
    for key, converter in _policy_schema.SCALARS.items():
        field = method_fields[key]
        kind = type_text(field.type)
        out.append(f"| `{key}` | `{kind}` | {literal(default_of(field))} | {allowed(converter)} |")
    out += [
        "",
        "Sections: each is a table of its keys, `true` (on with the defaults) or `false` (off).",
        "",
        "| section | on unless set |",
        "|---|---|",
    ]
    for name, spec in _policy_schema.SECTIONS.items():
        out.append(
            f"| [`{name}`](#{name.replace('_', '-')}) | {'yes' if spec.on_by_default else 'no'} |"
        )
    out += ["", "### `MethodSettings`", "", _doc(_policy_schema.MethodSettings), ""]
    for name, spec in _policy_schema.SECTIONS.items():
        required = (
            f" Required keys: {', '.join(f'`{key}`' for key in spec.required)}."
            if spec.required
            else ""
        )
        out += [
            f"## `{name}`",
            "",
            f"`{spec.cls.__name__}`; {'on' if spec.on_by_default else 'off'} unless the policy "
            f"says otherwise.{required}",
            "",
            _doc(spec.cls),
            "",
            *key_table(spec.cls, spec.fields),
            "",
        ]
    out += [
        "## `faults`",
        "",
        "A list of tables, one `FaultRule` each (`[[faults]]` in TOML).",
        "",
        _doc(FaultRule),
        "",
        *key_table(FaultRule, None),
        "",
        "## `chaos`",
        "",
        _doc(_policy_chaos.ChaosSettings),
        "",
        *key_table(_policy_chaos.ChaosSettings, _policy_chaos._CHAOS_FIELDS),
        "",
        "## `record`",
        "",
        _doc(_policy_chaos.RecordSettings),
        "",
        *key_table(_policy_chaos.RecordSettings, _policy_chaos._RECORD_FIELDS),
        "",
        "## `profiling`",
        "",
        _doc(_policy_profiling.ProfilingSettings),
        "",
        *key_table(_policy_profiling.ProfilingSettings, _policy_profiling._FIELDS),
        "",
        *limits_section(),
    ]
    return "\n".join(out)


def limits_section() -> list[str]:
    """The bounds of :mod:`resilience._base.limits`, with their values read from the module."""
    lim = _limits
    mib = lim.MAX_POLICY_BYTES // (1 << 20)
    rows = [
        ("`buckets` (breaker, rate_limit, overload)", f"{lim.MAX_BUCKETS:,}"),
        ("`rate_limit.limit`, `breaker.min_requests`", f"{lim.MAX_COUNT:,}"),
        ("windows, `probe_interval`, `t_avg` / `t_hwm` / `t_max`", f"{lim.MAX_SECONDS:g} s"),
        ("`rate_limit.sync_interval`", f"{lim.MAX_SYNC_INTERVAL:g} s"),
        ("`timeout.n`", f"{lim.MAX_EMA_CALLS:,}"),
        ("`rate_limit.expected_instances`", f"{lim.MAX_INSTANCES:,}"),
        ("`record.max_bytes`", f"{lim.MAX_RECORD_BYTES:,} (1 GiB)"),
        ("`profiling.max_files`", f"{lim.MAX_PROFILE_FILES:,}"),
        ("`profiling.max_bytes`", f"{lim.MAX_PROFILE_DIR_BYTES:,} (16 GiB)"),
        ("`profiling.max_stacks`", f"{lim.MAX_PROFILE_STACKS:,}"),
        ("`profiling.rate`, `profiling.baseline_rate`", f"{lim.MAX_SAMPLE_RATE:g} Hz"),
        (
            "method patterns, `trusted_peers`, `faults`, colors, `secret_keys`",
            f"{lim.MAX_ENTRIES:,} each",
        ),
        ("`Policy(cache_size=...)`", f"{lim.MAX_CACHE_SIZE:,}"),
        ("policy file size", f"{lim.MAX_POLICY_BYTES:,} bytes ({mib} MiB)"),
        ("YAML aliases (`*name`) in a file", f"{lim.MAX_YAML_ALIASES:,}"),
        ("values in a parsed file, aliases expanded", f"{lim.MAX_NODES:,}"),
        ("nesting depth of a parsed file", f"{lim.MAX_DEPTH}"),
        ("a value quoted in an error message", f"cut to about {lim.SHOWN_CHARS} characters"),
    ]
    return [
        "## Limits",
        "",
        "Every size-like setting has an upper bound, far above what a deployment needs and far",
        "below what would exhaust a process; a value above it raises `ConfigError` naming the key",
        "and the bound (`methods.*.breaker.buckets: must be >= 1 and <= 1000, got 1000000000`).",
        "A policy file is checked before it is built: its size, its YAML aliases and the values",
        "it expands to. The algorithms' constructors (`SreBreaker`, `SlidingWindowLimiter`...)",
        "apply the same bounds to buckets and counts; `TrafficRecorder` to `max_bytes` and",
        f"`max_stream_messages` (at most {_limits.MAX_STREAM_MESSAGES:,}), the dual-center",
        f"channels to `max_replay_messages` ({_limits.MAX_STREAM_MESSAGES:,}) and",
        f"`max_replay_bytes` ({_limits.MAX_REPLAY_BYTES:,}), the metrics, tracing and Sentry",
        f"observers to `max_methods` ({_limits.MAX_CACHE_SIZE:,}).",
        "",
        "| what | at most |",
        "|---|---|",
        *(f"| {what} | {bound} |" for what, bound in rows),
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is out of date")
    parser.add_argument("--output", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python docs/scripts/gen_policy_reference.py")
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
