"""CUDA kernels: @cuda.jit kernels behind launchers with the names and signatures of kernels.cpu,
one file per family; launch configuration lives in launch.py. Arrays are numba device arrays.
Every kernel is cached on disk (cache=True), as the CPU kernels, under kernels/cache.py's
locators (keyed by every kernel source)."""

from kernels.cuda.activations import *  # noqa: F403
from kernels.cuda.activations2 import *  # noqa: F403
from kernels.cuda.attention import *  # noqa: F403
from kernels.cuda.bias import *  # noqa: F403
from kernels.cuda.conv import *  # noqa: F403
from kernels.cuda.depthwise_conv import *  # noqa: F403
from kernels.cuda.elementwise import *  # noqa: F403
from kernels.cuda.encoding import *  # noqa: F403
from kernels.cuda.graph_conv import *  # noqa: F403
from kernels.cuda.image import *  # noqa: F403
from kernels.cuda.indexing import *  # noqa: F403
from kernels.cuda.matmul import *  # noqa: F403
from kernels.cuda.normalization import *  # noqa: F403
from kernels.cuda.optimizers import *  # noqa: F403
from kernels.cuda.pooling import *  # noqa: F403
from kernels.cuda.recurrent import *  # noqa: F403
from kernels.cuda.recurrent_backward import *  # noqa: F403
from kernels.cuda.recurrent_sequences import *  # noqa: F403
from kernels.cuda.reduce import *  # noqa: F403
from kernels.cuda.regularization import *  # noqa: F403
from kernels.cuda.segment import *  # noqa: F403
from kernels.cuda.shape import *  # noqa: F403

NAME = "cuda"
