"""Numba kernels for graphengine: `graphengine_kernels.cpu` (@njit) and, later,
`graphengine_kernels.cuda` (@cuda.jit).

The two modules export the same function names and signatures. Kernels write into the `out` arrays
they are given and never import graphengine.
"""

from graphengine_kernels import cache

cache.install()  # before any kernel module compiles: see kernels/cache.py
