"""The kernels' disk cache is keyed by every kernel source: editing a formula in one file
recompiles the kernels of other files that inline it, instead of loading their stale code."""

import shutil
import subprocess
import sys
import textwrap

import graphengine_kernels.cpu.activations
import graphengine_kernels.cpu.bias
import graphengine_kernels.cpu.conv
from graphengine_kernels import cache

RUN = textwrap.dedent(
    """
    import numpy as np
    import graphengine_kernels.cpu.bias as bias
    assert bias.__file__.startswith({root!r}), bias.__file__
    y = np.array([[-2.0, 3.0]], np.float32)
    bias.bias_activation(y, np.zeros(2, np.float32), "relu")
    print(y.tolist())
    """
)


def test_every_cached_kernel_is_stamped_with_all_kernel_sources():
    for module in (
        graphengine_kernels.cpu.bias,
        graphengine_kernels.cpu.conv,
        graphengine_kernels.cpu.activations,
    ):
        dispatchers = [f for f in vars(module).values() if getattr(f, "_cache", None)]
        cached = [d for d in dispatchers if type(d._cache).__name__ != "NullCache"]
        assert cached, module
        for d in cached:
            locator = d._cache._impl._locator
            assert type(locator).__name__.startswith("KernelSources"), d
            assert locator.get_source_stamp() == cache.sources_digest()
            assert locator.get_cache_path().endswith("kernels-" + cache.sources_digest().hex()[:16])


def test_cuda_kernels_are_stamped_with_all_kernel_sources_too():
    """numba-cuda (a test dependency) caches CUDA kernels through a caching module of its own,
    numba.cuda.core.caching: the CUDA kernels get the same locators there (bias.py's CUDA bias
    pass inlines activations.py's formulas as the CPU one does)."""
    import graphengine_kernels.cuda.bias as cuda_bias

    cached = [
        f
        for f in vars(cuda_bias).values()
        if type(getattr(f, "_cache", None)).__name__ == "CUDACache"
    ]
    assert cached
    for d in cached:
        locator = d._cache._impl._locator
        assert type(locator).__name__.startswith("KernelSources"), d
        assert locator.get_source_stamp() == cache.sources_digest()


def test_the_digest_follows_every_file(tmp_path):
    copy = tmp_path / "graphengine_kernels"
    shutil.copytree(cache.ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache.sources_digest(copy)
    assert before == cache.sources_digest(cache.ROOT)
    path = copy / "cpu" / "elementwise.py"
    path.write_text(path.read_text() + "\n# an edit\n")
    assert cache.sources_digest(copy) != before


def test_an_edited_formula_reaches_the_kernels_that_inline_it(tmp_path):
    """bias.py's bias pass inlines activations.py's relu: after an edit of activations.py only,
    a cached bias kernel must run the new formula (Numba alone would load the old code)."""
    copy = tmp_path / "graphengine_kernels"
    shutil.copytree(cache.ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))

    def run() -> str:
        proc = subprocess.run(
            [sys.executable, "-c", RUN.format(root=str(copy))],
            cwd=tmp_path,
            env={"PYTHONPATH": str(tmp_path), "PATH": ""},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert run() == "[[0.0, 3.0]]"  # compiled and cached
    activations = copy / "cpu" / "activations.py"
    text = activations.read_text()
    edited = text.replace("        return min(v, top)\n", "        return min(v, top) + 1\n")
    assert edited != text
    activations.write_text(edited)
    assert run() == "[[0.0, 4.0]]"
    # each version's cache in its own folder: neither reads an index the other wrote
    assert len(list((copy / "cpu" / "__pycache__").glob("kernels-*/bias.*.nbi"))) == 2
