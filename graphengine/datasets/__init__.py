"""Small datasets bundled with graphengine, loaded from files inside the package (no download)."""

from graphengine.datasets import digits
from graphengine.datasets.digits import load_digits

__all__ = ["digits", "load_digits"]
