"""Numba's disk cache, for the kernels, keyed by every kernel source file.

Numba stamps a cached function with its own file only, but our kernels inline formulas from
other files (conv.py and recurrent.py take activations.py's): after an edit or an upgrade, a
kernel whose own file did not change would load its old machine code, with the old formula,
without a word. The locators below stamp every function under kernels/ with a digest of all
kernels/**/*.py instead, so any change recompiles them all, and keep each digest's files in a
folder of its own (where Numba would put them, in a subfolder named after the digest): Numba
unpickles a cache index before it checks its stamp, so an index shared by two versions of the
kernels would make the older one fail on a type only the newer one defines (activations.Fused).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from numba.core import caching

ROOT = Path(__file__).resolve().parent


def sources_digest(root: Path = ROOT) -> bytes:
    """SHA-256 over the relative path and text of every .py file under `root`."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


@functools.lru_cache(maxsize=1)
def _digest() -> bytes:
    return sources_digest()


def _ours(py_file: str) -> bool:
    """Whether py_file is a kernel source, also when reached through a symbolic link."""
    return Path(os.path.realpath(py_file)).is_relative_to(ROOT)


def _keyed_by_all_sources(base: type) -> type:
    """`base` (a Numba locator class) for kernel files only, stamped with every kernel source."""

    class Locator(base):
        def get_source_stamp(self) -> bytes:
            return _digest()

        def get_cache_path(self) -> str:
            return os.path.join(super().get_cache_path(), "kernels-" + _digest().hex()[:16])

        @classmethod
        def from_function(cls, py_func, py_file):  # noqa: ANN001, ANN206 -- Numba's signature
            return super().from_function(py_func, py_file) if _ours(py_file) else None

    Locator.__name__ = Locator.__qualname__ = f"KernelSources{base.__name__.lstrip('_')}"
    return Locator


def _locator(module, name: str) -> type:  # noqa: ANN001 -- a caching module
    return getattr(module, name, None) or getattr(module, "_" + name)  # public from 0.61


def install(module=caching) -> None:  # noqa: ANN001 -- a caching module
    """Puts the kernel locators first, in Numba's own order (a NUMBA_CACHE_DIR the user set
    still wins, then the in-tree __pycache__, then the user-wide cache), in the caching `module`
    (Numba's own; install_cuda names numba-cuda's); idempotent."""
    impl = getattr(module, "CacheImpl", None) or module._CacheImpl
    if any(getattr(c, "__name__", "").startswith("KernelSources") for c in impl._locator_classes):
        return
    ours = [
        _keyed_by_all_sources(_locator(module, n))
        for n in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    ]
    impl._locator_classes = ours + list(impl._locator_classes)


def install_cuda() -> None:
    """The same for the CUDA kernels where numba-cuda compiles them: it caches through a copy of
    Numba's caching module (numba.cuda.core.caching), with locators of its own. Numba's
    built-in CUDA target, and its simulator, use Numba's module, which install() covers."""
    try:
        from numba.cuda.core import caching as cuda_caching
    except ImportError:
        return
    install(cuda_caching)
