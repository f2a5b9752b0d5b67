"""Colour scales of the pictures (a profile's time per layer, gradient norms): value -> fill,
the legend's ticks, and a text colour readable on any fill (WCAG contrast of at least 4.5)."""

from __future__ import annotations

import math
from dataclasses import dataclass

DARK_TEXT, LIGHT_TEXT = "#263238", "#FFFFFF"
MIN_CONTRAST = 4.5  # WCAG AA for normal text


def luminance(color: str) -> float:
    """The WCAG relative luminance of a "#RRGGBB" colour."""
    rgb = [int(color[i : i + 2], 16) / 255.0 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours, from 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color(fill: str) -> str:
    """Dark text on light fills, white on dark ones; black where neither reaches 4.5 (every
    fill reaches 4.5 against black or white)."""
    for text in (DARK_TEXT, LIGHT_TEXT):
        if contrast(text, fill) >= MIN_CONTRAST:
            return text
    return "#000000" if contrast("#000000", fill) >= contrast(LIGHT_TEXT, fill) else LIGHT_TEXT


def hex_color(rgba: tuple) -> str:
    return "#" + "".join(f"{round(c * 255):02X}" for c in rgba[:3])


@dataclass
class Scale:
    """A colour scale from `low` to `high` (logarithmic when `log`): values map to the
    colormap between 0.08 and 0.88 (the palest and darkest ends stay readable), `unit` names
    the values in the legend."""

    title: str
    cmap: str
    low: float
    high: float
    log: bool = False
    unit: str = ""

    def position(self, value: float) -> float:
        """Where `value` lies on the scale, 0 to 1 (clipped)."""
        lo, hi, v = self.low, self.high, value
        if self.log:
            lo, hi, v = (math.log10(max(a, 1e-300)) for a in (lo, hi, v))
        if not math.isfinite(v):
            return 1.0 if v > 0 else 0.0
        return min(max((v - lo) / (hi - lo), 0.0), 1.0) if hi > lo else 1.0

    def at(self, position: float) -> str:
        """The fill at a position of the scale."""
        import matplotlib

        return hex_color(matplotlib.colormaps[self.cmap](0.08 + 0.8 * position))

    def color(self, value: float) -> str:
        return self.at(self.position(value))

    def label(self, value: float) -> str:
        text = f"{value:.3g}" if not self.log else f"{value:.1e}"
        return f"{text} {self.unit}".strip()

    def ticks(self) -> list[tuple[float, str]]:
        """(position, label) of the legend's ticks: both ends and the middle (each decade
        between for a log scale that spans several)."""
        if self.log and self.low > 0 and self.high > self.low:
            a, b = math.log10(self.low), math.log10(self.high)
            inner = [10.0**k for k in range(math.ceil(a), math.floor(b) + 1)]
            inner = [v for v in inner if 0.12 < self.position(v) < 0.88]  # apart from the ends
            values = [self.low] + inner[:: max(1, math.ceil(len(inner) / 4))] + [self.high]
            return [(self.position(v), self.label(v)) for v in values]
        mid = (self.low + self.high) / 2
        return [(self.position(v), self.label(v)) for v in (self.low, mid, self.high)]
