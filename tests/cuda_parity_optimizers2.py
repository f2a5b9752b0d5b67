"""The CUDA kernels of Nadam, Adamax, Adadelta and Lion, and each whole optimizer with its state
on the device, against the CPU in Numba's simulator; run by tests/test_cuda.py with the other
parity files."""

import numpy as np
import pytest

import cuda_device  # noqa: F401  (the simulator or a GPU)

from graphengine.graph.tensor import Variable  # noqa: E402
from graphengine.training.optimizers import schedules  # noqa: E402
from test_optimizers_keras2 import NEW, problem, run  # noqa: E402

KERNELS = ["nadam_update", "adamax_update", "adadelta_update", "lion_update"]


def kernel_args(name, dtype):
    rng = np.random.default_rng(5)
    w = (rng.uniform(1, 2, 9) * rng.choice([-1, 1], 9)).astype(dtype)
    g = rng.uniform(-2, 2, 9).astype(dtype)
    s = [rng.uniform(0.1, 1, 9).astype(dtype) for _ in range(2)]
    g[0] = s[0][0] = 0.0  # Lion's sign(0)
    return {  # epsilons large enough that where they go shows
        "nadam_update": (w, g, *s, 0.004, 0.0009, 0.02, 0.9, 0.999, 1e-3, 0.01),
        "adamax_update": (w, g, *s, 0.01, 0.9, 0.999, 1e-3, 0.01),
        "adadelta_update": (w, g, *s, 1.0, 0.95, 1e-3, 0.01),
        "lion_update": (w, g, s[0], 0.01, 0.9, 0.99, 0.01),
    }[name]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", KERNELS)
def test_simulated_kernel_matches_cpu(name, dtype):
    """Each array the kernel writes, on the device and on the CPU from the same inputs."""
    from numba import cuda

    import graphengine_kernels.cpu
    import graphengine_kernels.cuda

    args = kernel_args(name, dtype)
    host = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    device = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    getattr(graphengine_kernels.cpu, name)(*host)
    getattr(graphengine_kernels.cuda, name)(*device)
    # the CUDA kernels compute float32 data in float64 and round once
    rtol, atol = (1e-6, 1e-7) if dtype == "float32" else (1e-14, 0.0)
    for i, (h, d) in enumerate(zip(host, device)):
        if isinstance(h, np.ndarray):
            got = d.copy_to_host()
            assert got.dtype == h.dtype
            np.testing.assert_allclose(got, h, rtol=rtol, atol=atol, err_msg=f"{name} {i}")
    assert not np.array_equal(host[0], args[0])


@pytest.mark.parametrize("name", sorted(NEW))
def test_simulated_optimizer_on_the_device(name):
    """The whole optimizer (clipping, schedule, weight decay, Nadam's u_product) with its state
    on the device, against the same optimizer on the CPU."""
    from numba import cuda

    import graphengine_kernels.cuda
    from graphengine.runtime.devices import get_device

    inits, grads = problem(seed=4, dtype="float32", steps=3)
    kwargs = {"learning_rate": schedules.ExponentialDecay(0.05, 2, 0.5), "global_clipnorm": 1.0,
              "weight_decay": 0.1}  # fmt: skip
    expected = run(NEW[name](**kwargs), inits, grads)
    device = get_device("cuda")
    ws = [Variable(w.copy(), f"w{j}") for j, w in enumerate(inits)]
    opt = NEW[name](**kwargs)
    opt.build(ws, device=device)
    for gs in grads:
        opt.apply([cuda.to_device(g) for g in gs], ws, kernels=graphengine_kernels.cuda)
    for w, want in zip(ws, expected[-1]):
        np.testing.assert_allclose(device.to_host(w.on_device(device)), want, rtol=1e-6)
    cpu = NEW[name](**kwargs)
    run(cpu, inits, grads)
    for a, b in zip(opt.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
