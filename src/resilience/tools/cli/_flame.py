"""Flame graphs of a pprof profile: a tree of stacks (callers below, callees above, widths in
proportion to the chosen value), drawn as SVG by hand or as PNG with matplotlib."""

from __future__ import annotations

import html
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from resilience.profiling import Sample

WIDTH = 1200
ROW = 18
MIN_FRACTION = 0.002
"""Frames narrower than this share of the total are not drawn."""


@dataclass
class Node:
    """One frame in one calling context: its total value and its callees."""

    name: str
    value: int = 0
    children: dict[str, Node] = field(default_factory=dict)


@dataclass(frozen=True)
class Box:
    """A drawn frame: left edge and width as shares of the total, its depth (0 = root)."""

    name: str
    x: float
    width: float
    depth: int
    value: int


def tree(samples: Iterable[Sample], index: int) -> Node:
    """The calling-context tree of ``samples`` weighted by value number ``index``."""
    root = Node("all")
    for sample in samples:
        weight = sample.values[index]
        root.value += weight
        node = root
        for frame in reversed(sample.stack):  # outermost caller first
            node = node.children.setdefault(frame[0], Node(frame[0]))
            node.value += weight
    return root


def boxes(root: Node) -> list[Box]:
    """The frames to draw, each at least :data:`MIN_FRACTION` of the total wide."""
    total = root.value or 1
    out: list[Box] = []
    stack = [(root, 0.0, 0)]
    while stack:
        node, x, depth = stack.pop()
        width = node.value / total
        if width < MIN_FRACTION:
            continue
        out.append(Box(node.name, x, width, depth, node.value))
        for child in sorted(node.children.values(), key=lambda c: c.name):
            stack.append((child, x, depth + 1))
            x += child.value / total
    return out


def _color(name: str) -> str:
    hue = zlib.crc32(name.encode()) % 60
    return f"rgb({205 + hue % 50},{80 + hue * 2},{40 + hue % 30})"


def svg(root: Node, title: str, unit: str) -> str:
    """The flame graph as an SVG document (each frame has a tooltip with its value)."""
    drawn = boxes(root)
    depth = max((b.depth for b in drawn), default=0) + 1
    height = depth * ROW + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="20" font-size="14">{html.escape(title)}</text>',
    ]
    for box in drawn:
        x, w = box.x * (WIDTH - 20) + 10, box.width * (WIDTH - 20)
        y = height - (box.depth + 1) * ROW - 5
        label = html.escape(box.name)
        shown = label if len(box.name) * 7 < w else html.escape(box.name[: max(0, int(w / 7) - 2)])
        parts.append(
            f"<g><title>{label} ({box.value:,} {unit}, {box.width:.1%})</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}" '
            f'fill="{_color(box.name)}" rx="2"/>'
            f'<text x="{x + 3:.1f}" y="{y + ROW - 5}">{shown if w > 20 else ""}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def png(root: Node, title: str, path: str) -> None:
    """The flame graph as a PNG image. Needs matplotlib (the ``demo`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    drawn = boxes(root)
    depth = max((b.depth for b in drawn), default=0) + 1
    figure, axes = plt.subplots(figsize=(14, max(3.0, 0.3 * depth + 1)))
    for box in drawn:
        color = tuple(int(v) / 255 for v in _color(box.name)[4:-1].split(","))
        axes.add_patch(Rectangle((box.x, box.depth), box.width, 0.95, color=color, linewidth=0))
        chars = int(box.width * 190)
        if chars >= 4:
            text = box.name if len(box.name) <= chars else box.name[: chars - 2] + ".."
            axes.text(box.x + 0.002, box.depth + 0.45, text, va="center", fontsize=7)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, depth)
    axes.axis("off")
    axes.set_title(title, fontsize=10, loc="left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
