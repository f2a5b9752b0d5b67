"""CPU kernels: @njit(cache=True) Numba loops, NumPy ufuncs and BLAS, one file per family."""

from kernels.cpu.activations import *  # noqa: F403
from kernels.cpu.elementwise import *  # noqa: F403
from kernels.cpu.indexing import *  # noqa: F403
from kernels.cpu.matmul import *  # noqa: F403
from kernels.cpu.optimizers import *  # noqa: F403
from kernels.cpu.reduce import *  # noqa: F403
from kernels.cpu.shape import *  # noqa: F403

NAME = "cpu"
