"""CPU kernels: @njit(cache=True) Numba loops, NumPy ufuncs and BLAS, one file per family.

Importing this package (kernels/__init__ first) does, once per process:
- puts the kernel cache locators first in Numba's list (kernels/cache.py): every kernel's disk
  cache is keyed by all kernel sources;
- finds NumPy's BLAS through threadpoolctl and the OpenBLAS gemm pointers the recurrent loops
  call (blas.py), checking each on a tiny product;
- reads the default thread count and registers an at-fork hook that keeps a forked child off
  Numba's OpenMP pool (threads.py).
Nothing is compiled here: each kernel compiles (or loads from the cache) on its first call.
"""

from graphengine_kernels.cpu.activations import *  # noqa: F403
from graphengine_kernels.cpu.activations2 import *  # noqa: F403
from graphengine_kernels.cpu.attention import *  # noqa: F403
from graphengine_kernels.cpu.bias import *  # noqa: F403
from graphengine_kernels.cpu.conv import *  # noqa: F403
from graphengine_kernels.cpu.depthwise_conv import *  # noqa: F403
from graphengine_kernels.cpu.elementwise import *  # noqa: F403
from graphengine_kernels.cpu.encoding import *  # noqa: F403
from graphengine_kernels.cpu.graph_conv import *  # noqa: F403
from graphengine_kernels.cpu.image import *  # noqa: F403
from graphengine_kernels.cpu.indexing import *  # noqa: F403
from graphengine_kernels.cpu.matmul import *  # noqa: F403
from graphengine_kernels.cpu.normalization import *  # noqa: F403
from graphengine_kernels.cpu.optimizers import *  # noqa: F403
from graphengine_kernels.cpu.pooling import *  # noqa: F403
from graphengine_kernels.cpu.recurrent import *  # noqa: F403
from graphengine_kernels.cpu.recurrent_backward import *  # noqa: F403
from graphengine_kernels.cpu.recurrent_sequences import *  # noqa: F403
from graphengine_kernels.cpu.reduce import *  # noqa: F403
from graphengine_kernels.cpu.regularization import *  # noqa: F403
from graphengine_kernels.cpu.segment import *  # noqa: F403
from graphengine_kernels.cpu.shape import *  # noqa: F403

NAME = "cpu"
