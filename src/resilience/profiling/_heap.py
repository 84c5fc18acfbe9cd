"""Heap profiles from tracemalloc snapshots: live allocations by the stack that made them,
as pprof ``inuse_objects``/count and ``inuse_space``/bytes.

tracemalloc records file and line only; the function of each frame is found by parsing its
source file once (a line scan for ``def`` and ``class``; cached; files over 4 MB or unreadable
give ``file:line``). Only the ``max_stacks`` stacks holding the most bytes are written.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
import tracemalloc

from resilience.profiling._pprof import Frame, ProfileBuilder

_MAX_SOURCE = 4 << 20
TRACE_FRAMES = 32
"""Frames tracemalloc keeps per allocation when the profiler starts it."""


def heap_profile(
    snapshot: tracemalloc.Snapshot, time_nanos: int, max_stacks: int = 10_000
) -> bytes:
    """The gzipped pprof heap profile of ``snapshot`` (tracemalloc's own frames left out),
    the ``max_stacks`` allocation stacks holding the most bytes."""
    snapshot = snapshot.filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    )
    builder = ProfileBuilder(
        [("inuse_objects", "count"), ("inuse_space", "bytes")],
        period_type=("space", "bytes"),
        period=1,
    )
    for stat in snapshot.statistics("traceback")[:max_stacks]:
        frames = [_frame(f.filename, f.lineno) for f in reversed(stat.traceback)]
        builder.add(tuple(frames), (stat.count, stat.size))
    return builder.encode(time_nanos=time_nanos)


def _frame(filename: str, line: int) -> Frame:
    name, start = _function_at(filename, line)
    return (name, filename, line, start)


def _function_at(filename: str, line: int) -> tuple[str, int]:
    """The qualified name and first line of the innermost function or class whose body holds
    ``line``; ``file:line`` when there is none or the file cannot be read."""
    headers, indents = _outline(filename)
    index = bisect.bisect_right(headers, (line, 1 << 30)) - 1
    while index >= 0:
        start, indent, name = headers[index]
        inside = all(level is None or level > indent for level in indents[start:line])
        if inside:
            return name, start
        index -= 1
    return f"{os.path.basename(filename)}:{line}", 0


_HEADER = re.compile(r"([ \t]*)(?:async[ \t]+)?(def|class)[ \t]+(\w+)")


@functools.lru_cache(maxsize=256)
def _outline(filename: str) -> tuple[list[tuple[int, int, str]], list[int | None]]:
    """The ``def`` and ``class`` headers of a source file as (line, indent, qualified name),
    and each line's indent (None for blank and comment lines). A line scan, not a parse: a
    parse of a large module costs far more than the snapshot; text at column 0 inside a
    function (a dedented string) ends that function early, and its lines get ``file:line``."""
    try:
        if os.path.getsize(filename) > _MAX_SOURCE:
            return [], []
        with open(filename, encoding="utf-8", errors="replace") as source:
            lines = source.read().splitlines()
    except OSError:
        return [], []
    headers: list[tuple[int, int, str]] = []
    indents: list[int | None] = []
    open_: list[tuple[int, str, bool]] = []  # (indent, qualified name, is a function)
    for number, text in enumerate(lines, start=1):
        stripped = text.lstrip()
        indent = len(text) - len(stripped)
        indents.append(None if not stripped or stripped.startswith("#") else indent)
        match = _HEADER.match(text)
        if match is None:
            continue
        while open_ and open_[-1][0] >= indent:
            open_.pop()
        name = match.group(3)
        if open_:
            parent, parent_is_function = open_[-1][1], open_[-1][2]
            name = f"{parent}.<locals>.{name}" if parent_is_function else f"{parent}.{name}"
        open_.append((indent, name, match.group(2) == "def"))
        headers.append((number, indent, name))
    return headers, indents
