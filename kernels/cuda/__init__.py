"""CUDA kernels: @cuda.jit kernels behind launchers with the names and signatures of
graphengine_kernels.cpu, one file per family; launch configuration lives in launch.py. Arrays are
numba device arrays. Every kernel is cached on disk (cache=True), as the CPU kernels, under
kernels/cache.py's locators (keyed by every kernel source)."""

from graphengine_kernels import cache

cache.install_cuda()  # before any kernel compiles: kernels/cache.py

from graphengine_kernels.cuda.activations import *  # noqa: E402, F403
from graphengine_kernels.cuda.activations2 import *  # noqa: E402, F403
from graphengine_kernels.cuda.attention import *  # noqa: E402, F403
from graphengine_kernels.cuda.bias import *  # noqa: E402, F403
from graphengine_kernels.cuda.conv import *  # noqa: E402, F403
from graphengine_kernels.cuda.depthwise_conv import *  # noqa: E402, F403
from graphengine_kernels.cuda.elementwise import *  # noqa: E402, F403
from graphengine_kernels.cuda.encoding import *  # noqa: E402, F403
from graphengine_kernels.cuda.graph_conv import *  # noqa: E402, F403
from graphengine_kernels.cuda.image import *  # noqa: E402, F403
from graphengine_kernels.cuda.indexing import *  # noqa: E402, F403
from graphengine_kernels.cuda.matmul import *  # noqa: E402, F403
from graphengine_kernels.cuda.normalization import *  # noqa: E402, F403
from graphengine_kernels.cuda.optimizers import *  # noqa: E402, F403
from graphengine_kernels.cuda.pooling import *  # noqa: E402, F403
from graphengine_kernels.cuda.recurrent import *  # noqa: E402, F403
from graphengine_kernels.cuda.recurrent_backward import *  # noqa: E402, F403
from graphengine_kernels.cuda.recurrent_sequences import *  # noqa: E402, F403
from graphengine_kernels.cuda.reduce import *  # noqa: E402, F403
from graphengine_kernels.cuda.regularization import *  # noqa: E402, F403
from graphengine_kernels.cuda.segment import *  # noqa: E402, F403
from graphengine_kernels.cuda.shape import *  # noqa: E402, F403

NAME = "cuda"
