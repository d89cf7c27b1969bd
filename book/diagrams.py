"""Drawing primitives for the book's conceptual figures (boxes, arrows, arrays as grids).

The chapters draw their diagrams with matplotlib through these few functions, so every
figure shares one look and stays readable on a phone: a 6-inch-wide canvas, large
type, few words per box. This is a helper of the book, not part of the `minimx`
package; the chapters import it as ``import diagrams`` (a notebook runs in ``book/``).

Coordinates are in "units" of the canvas: ``canvas(10, 4)`` gives a drawing area 10
units wide and 4 high, with (0, 0) at the bottom left.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

# One colour per kind of thing, used the same way in every chapter.
COLORS = {
    "data": "#cfe2f3",      # arrays, batches, inputs
    "op": "#fce5cd",        # operators, functions, layers
    "param": "#d9ead3",     # parameters, weights
    "grad": "#f4cccc",      # gradients, backward
    "device": "#eeeeee",    # contexts, devices, files
    "note": "#fff2cc",      # highlights
}
FONT = 13


def canvas(width: float = 10, height: float = 4, inches: float = 6.4):
    """A blank figure ``width`` x ``height`` units, ``inches`` wide, without axes."""
    fig, ax = plt.subplots(figsize=(inches, inches * height / width))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99)
    return fig, ax


def box(ax, x, y, w, h, text="", kind="op", fontsize=FONT, **kw):
    """A rounded box with its lower-left corner at (x, y) and ``text`` centred in it."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=COLORS.get(kind, kind), edgecolor="#444444",
                                linewidth=1.2, **kw))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)
    return (x, y, w, h)


def arrow(ax, start, end, text="", color="#333333", fontsize=FONT - 2, style="-|>",
          rad=0.0, offset=(0.0, 0.15), **kw):
    """An arrow from ``start`` to ``end`` (points), with an optional label at its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=16,
                                 color=color, linewidth=1.5,
                                 connectionstyle=f"arc3,rad={rad}", **kw))
    if text:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=fontsize, color=color)


def label(ax, x, y, text, fontsize=FONT, **kw):
    """Free text centred at (x, y)."""
    kw.setdefault("ha", "center")
    kw.setdefault("va", "center")
    ax.text(x, y, text, fontsize=fontsize, **kw)


def grid(ax, x, y, values, cell=0.6, kind="data", highlight=(), hkind="note",
         fontsize=FONT - 1, fmt="{}"):
    """Draw a 2-D list (or NumPy array) as a grid of cells, top-left cell at (x, y + h).

    ``highlight`` is a set of (row, column) pairs drawn in the colour ``hkind``.
    Returns the grid's (x, y, width, height)."""
    rows = [list(r) for r in values]
    n, m = len(rows), max(len(r) for r in rows)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            k = hkind if (i, j) in set(highlight) else kind
            cx, cy = x + j * cell, y + (n - 1 - i) * cell
            ax.add_patch(Rectangle((cx, cy), cell, cell, facecolor=COLORS.get(k, k),
                                   edgecolor="#444444", linewidth=1))
            if v is not None and v != "":
                ax.text(cx + cell / 2, cy + cell / 2, fmt.format(v), ha="center",
                        va="center", fontsize=fontsize)
    return (x, y, m * cell, n * cell)
