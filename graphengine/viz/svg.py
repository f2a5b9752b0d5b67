"""Text in our SVG pictures stays text (`<text>` elements a browser can search and copy), not
glyph outlines: each one gets the width matplotlib measured, so it fits its box in any font a
viewer falls back to, and fallback fonts near DejaVu Sans's metrics."""

from __future__ import annotations

import html
import re
from typing import Any

FALLBACK = "'DejaVu Sans', 'Bitstream Vera Sans', Verdana, Geneva, sans-serif"
TEXT = re.compile(r'<text style="([^"]*)"([^>]*)>([^<]*)</text>')
SIZE = re.compile(r"font-size: ([\d.]+)px")
WEIGHT = re.compile(r"font-weight: (\w+)")
FAMILY = re.compile(r"font-family: ('[^']*'|[^;]*)")


class _Widths:
    """Advance widths of strings, in points, from the Agg renderer at 72 dpi (the SVG's units)."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import RendererAgg

        self._renderer = RendererAgg(1, 1, 72)
        self._cache: dict[tuple, float] = {}

    def __call__(self, text: str, family: str, size: float, weight: str) -> float:
        from matplotlib.font_manager import FontProperties

        key = (text, family, size, weight)
        if key not in self._cache:
            prop = FontProperties(family=family, size=size, weight=weight)
            w, _, _ = self._renderer.get_text_width_height_descent(text, prop, ismath=False)
            self._cache[key] = w
        return self._cache[key]


def real_text(svg: str) -> str:
    """Every `<text>` of a matplotlib SVG (written with svg.fonttype "none") with its measured
    `textLength`, spaces kept, and a font list that falls back to near metrics."""
    widths = _Widths()

    def fix(m: Any) -> str:
        style, rest, body = m.groups()
        size = SIZE.search(style)
        family = FAMILY.search(style)
        if size is None or family is None or not body.strip():
            return m.group(0)
        weight = WEIGHT.search(style)
        name = family.group(1).strip("'")
        bold = weight is not None and weight.group(1) in ("bold", "700", "800", "900")
        width = widths(
            html.unescape(body), name, float(size.group(1)), "bold" if bold else "normal"
        )
        style = FAMILY.sub(lambda _: f"font-family: {FALLBACK}", style) + "; white-space: pre"
        return (
            f'<text xml:space="preserve" style="{style}"{rest} textLength="{width:.2f}" '
            f'lengthAdjust="spacingAndGlyphs">{body}</text>'
        )

    return TEXT.sub(fix, svg)


def write_svg(fig: Any, path: Any) -> None:
    """Saves `fig` as SVG with real text to a path or a text stream."""
    import io

    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "graphengine"}):
        fig.savefig(buf, format="svg", facecolor="white", metadata={"Date": None})
    text = real_text(buf.getvalue())
    if hasattr(path, "write"):
        path.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
