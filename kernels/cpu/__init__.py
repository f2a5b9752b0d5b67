"""CPU kernels: @njit(cache=True) Numba loops, NumPy ufuncs and BLAS, one file per family."""

from kernels.cpu.activations import *  # noqa: F403
from kernels.cpu.bias import *  # noqa: F403
from kernels.cpu.conv import *  # noqa: F403
from kernels.cpu.elementwise import *  # noqa: F403
from kernels.cpu.indexing import *  # noqa: F403
from kernels.cpu.matmul import *  # noqa: F403
from kernels.cpu.normalization import *  # noqa: F403
from kernels.cpu.optimizers import *  # noqa: F403
from kernels.cpu.pooling import *  # noqa: F403
from kernels.cpu.recurrent import *  # noqa: F403
from kernels.cpu.recurrent_backward import *  # noqa: F403
from kernels.cpu.recurrent_sequences import *  # noqa: F403
from kernels.cpu.reduce import *  # noqa: F403
from kernels.cpu.regularization import *  # noqa: F403
from kernels.cpu.shape import *  # noqa: F403

NAME = "cpu"
