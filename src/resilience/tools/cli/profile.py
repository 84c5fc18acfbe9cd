"""``resilience profile top FILE`` and ``resilience profile flame FILE``: read a pprof profile
(a CPU or heap profile the profiler wrote, or any gzipped profile.proto) and show where the
time or memory goes, optionally only for samples with given labels (``--tag color=loadtest``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from typing import Any

from resilience.profiling import ReadProfile, Sample, labeled, read_profile
from resilience.tools.cli._help import plain


def register(subparsers: Any) -> None:
    """Add the ``profile`` subcommand and its ``top`` and ``flame`` actions."""
    parser = subparsers.add_parser(
        "profile",
        help="read CPU and heap profiles (pprof files)",
        description=plain(__doc__),
    )
    actions = parser.add_subparsers(dest="profile_action", metavar="ACTION", required=True)
    top = actions.add_parser("top", help="the functions with the most time or memory")
    flame = actions.add_parser("flame", help="draw a flame graph (SVG or PNG)")
    for action in (top, flame):
        action.add_argument("file", metavar="FILE", help="a pprof profile (.pb.gz)")
        action.add_argument(
            "--tag",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="only samples with this label (method, color, tier, trace_id); repeatable",
        )
        action.add_argument(
            "--sample-index",
            metavar="TYPE",
            help="the value to rank by (default: the last sample type, e.g. cpu, inuse_space)",
        )
    top.add_argument("-n", type=int, default=20, help="how many functions (default 20)")
    top.set_defaults(func=main_top)
    out = flame.add_mutually_exclusive_group(required=True)
    out.add_argument("--svg", metavar="PATH", help="write an SVG flame graph")
    out.add_argument("--png", metavar="PATH", help="write a PNG flame graph (needs matplotlib)")
    flame.set_defaults(func=main_flame)


def _load(args: argparse.Namespace) -> tuple[ReadProfile, list[Sample], int, str]:
    """The profile, its samples filtered by ``--tag``, the value index and its unit."""
    tags = {}
    for tag in args.tag:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise ValueError(f"--tag must be KEY=VALUE (e.g. color=loadtest), got {tag!r}")
        tags[key] = value
    with open(args.file, "rb") as file:
        profile = read_profile(file.read())
    names = [kind for kind, _ in profile.sample_types]
    if not names:
        raise ValueError("the profile declares no sample types")
    wanted = args.sample_index or names[-1]
    if wanted not in names:
        raise ValueError(f"--sample-index: {wanted!r} is not in this profile; it has {names}")
    index = names.index(wanted)
    return profile, labeled(profile.samples, tags), index, profile.sample_types[index][1]


def _shown(value: int, unit: str) -> str:
    if unit == "nanoseconds":
        return f"{value / 1e6:.1f}ms"
    if unit == "bytes":
        return f"{value / 1024:.1f}kB"
    return str(value)


def main_top(args: argparse.Namespace) -> int:
    """Print flat and cumulative value per function, highest flat first; 2 on a bad file."""
    try:
        profile, samples, index, unit = _load(args)
    except (OSError, ValueError) as exc:
        print(f"resilience profile: {exc}", file=sys.stderr)
        return 2
    flat: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    total = 0
    for sample in samples:
        value = sample.values[index]
        total += value
        if sample.stack:
            flat[sample.stack[0][0]] += value
        for name in {frame[0] for frame in sample.stack}:
            cumulative[name] += value
    kind = profile.sample_types[index][0]
    print(f"{len(samples)} samples, {kind} total {_shown(total, unit)}")
    print(f"{'flat':>10} {'flat%':>6} {'cum':>10} {'cum%':>6}  function")
    for name, value in flat.most_common(args.n):
        share = value / total if total else 0.0
        cum = cumulative[name]
        print(
            f"{_shown(value, unit):>10} {share:6.1%} {_shown(cum, unit):>10} "
            f"{(cum / total if total else 0.0):6.1%}  {name}"
        )
    return 0


def main_flame(args: argparse.Namespace) -> int:
    """Write the flame graph; 2 on a bad file, 1 when PNG needs matplotlib."""
    from resilience.tools.cli import _flame

    try:
        profile, samples, index, unit = _load(args)
    except (OSError, ValueError) as exc:
        print(f"resilience profile: {exc}", file=sys.stderr)
        return 2
    root = _flame.tree(samples, index)
    tags = " ".join(args.tag)
    kind = profile.sample_types[index][0]
    title = f"{os.path.basename(args.file)} ({kind}{', ' + tags if tags else ''})"
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as out:
            out.write(_flame.svg(root, title, unit))
        print(args.svg)
        return 0
    try:
        _flame.png(root, title, args.png)
    except ImportError:
        print("resilience profile: --png needs matplotlib: pip install 'grpc-resilience[demo]'")
        return 1
    print(args.png)
    return 0
