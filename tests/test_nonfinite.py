"""NaN and +-inf through activations: every fused activation (Dense, convolutions, recurrent
cells) gives what the standalone activation gives, forward and backward, and the standalone
kernels give NumPy/Keras's values and limits at non-finite inputs. The CUDA kernels run in Numba's
simulator in a subprocess (it is process-global, as in test_cuda.py): this file run as a script."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphengine as ge
import graphengine_kernels.cpu as cpu
from graphengine_kernels import activation_codes

ROOT = Path(__file__).resolve().parent.parent
# NumPy's matmul warns of the NaN and overflow these tests feed it on purpose
pytestmark = pytest.mark.filterwarnings(
    "ignore:invalid value encountered:RuntimeWarning",
    "ignore:overflow encountered:RuntimeWarning",
)
NAN, INF = float("nan"), float("inf")
# the pre-activations' specials, and finite values around every branch point and saturation
VALUES = [NAN, INF, -INF, 3e38, -3e38, 1e30, -1e30, 88.0, -88.0, 20.0, -20.0, 3.0, -3.0, 1.0,
          -1.0, 0.5, -0.5, 1e-30, 0.0, -0.0]  # fmt: skip
# the activations the Dense / conv bias pass fuses, besides "linear"
FUSED = tuple(n for n in activation_codes.names(activation_codes.BIAS) if n != "linear")
SELU = 1.0507009873554805 * 1.6732632423543772
# standalone activation -> (its kernels' extra arguments, f at (nan, inf, -inf), f' there)
LIMITS = {
    "relu": ((0.0, INF, 0.0), (NAN, INF, 0.0), (0.0, 1.0, 0.0)),
    "sigmoid": ((), (NAN, 1.0, 0.0), (NAN, 0.0, 0.0)),
    "tanh": ((), (NAN, 1.0, -1.0), (NAN, 0.0, 0.0)),
    "elu": ((1.0,), (NAN, INF, -1.0), (NAN, 1.0, 0.0)),
    "selu": ((), (NAN, INF, -SELU), (NAN, 1.0507009873554805, 0.0)),
    "gelu": ((), (NAN, INF, 0.0), (NAN, 1.0, 0.0)),
    "gelu_tanh": ((), (NAN, INF, 0.0), (NAN, 1.0, 0.0)),
    "softplus": ((), (NAN, INF, 0.0), (NAN, 1.0, 0.0)),
    "softsign": ((), (NAN, 1.0, -1.0), (NAN, 0.0, 0.0)),
    "swish": ((), (NAN, INF, 0.0), (NAN, 1.0, 0.0)),
    "hard_sigmoid": ((), (NAN, 1.0, 0.0), (0.0, 0.0, 0.0)),
    "relu6": ((), (NAN, 6.0, 0.0), (0.0, 0.0, 0.0)),
    "step": ((), (NAN, 1.0, 0.0), (1.0, 1.0, 1.0)),  # straight-through: f' = 1
}


# relu's (negative_slope, max_value, threshold) -> f at (nan, inf, -inf), f' there
RELU_PARAMS = {
    (0.2, INF, 0.0): ((NAN, INF, -INF), (0.2, 1.0, 0.2)),  # leaky
    (0.0, 6.0, 0.0): ((NAN, 6.0, 0.0), (0.0, 0.0, 0.0)),  # relu6: flat from the top up
    (0.0, INF, 1.0): ((NAN, INF, 0.0), (0.0, 1.0, 0.0)),  # thresholded
}


def values(dtype="float32"):
    return np.array(VALUES, dtype)


# -- the standalone kernels ------------------------------------------------------------------------


def standalone(k, kind, x, dy):
    """(f(x), dy * f'(x)) through backend module k's standalone kernels, 1-D host arrays."""
    params = LIMITS[kind][0]
    y, dx = np.zeros_like(x), np.zeros_like(x)
    getattr(k, f"{kind}_forward")(x, *params, y)
    getattr(k, f"{kind}_backward")(x, y, dy, *params, dx)
    return y, dx


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_standalone_limits_at_nonfinite_inputs(kind, dtype):
    """f and f' at (nan, inf, -inf) are the true limits (NaN only for a NaN input, relu's and
    hard_sigmoid's flat derivative excepted), and large finite inputs give no NaN."""
    _, want_y, want_d = LIMITS[kind]
    x = np.array([NAN, INF, -INF], dtype)
    y, dx = standalone(cpu, kind, x, np.ones(3, dtype))
    np.testing.assert_array_equal(y, np.array(want_y, dtype), err_msg=f"{kind} forward")
    np.testing.assert_array_equal(dx, np.array(want_d, dtype), err_msg=f"{kind} backward")
    big = np.array([1e30, -1e30, 3e38, -3e38] + ([1e200, -1e200] if dtype == "float64" else []))
    y, dx = standalone(cpu, kind, big.astype(dtype), np.ones(big.size, dtype))
    assert not np.isnan(y).any() and not np.isnan(dx).any(), (kind, y, dx)


@pytest.mark.parametrize("params", sorted(RELU_PARAMS), ids=str)
def test_relu_parameters_at_nonfinite_inputs(params):
    want_y, want_d = RELU_PARAMS[params]
    x, y, dx = np.array([NAN, INF, -INF]), np.zeros(3), np.zeros(3)
    cpu.relu_forward(x, *params, y)
    cpu.relu_backward(x, y, np.ones(3), *params, dx)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(dx, want_d)


@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_standalone_gradient_keeps_a_nan_cotangent(kind):
    """dx = dy * f'(x): a NaN dy is never masked out by a select (a NaN batch must give NaN
    gradients), wherever f' is finite, as TensorFlow's and JAX's gradients."""
    x = values("float64")
    _, dx = standalone(cpu, kind, x, np.full(x.size, NAN))
    assert np.isnan(dx).all(), (kind, dx)


def test_abs_gradient_keeps_a_nan_cotangent():
    """abs' = sign(x) multiplies dy, 0 at 0 included (as TensorFlow, and the CUDA kernel)."""
    x, dx = np.array([-1.0, 0.0, 1.0]), np.zeros(3)
    cpu.abs_backward(x, np.abs(x), np.full(3, NAN), dx)
    assert np.isnan(dx).all(), dx


# -- Dense and convolutions: fused against linear + Activation -------------------------------------


def fused_and_reference(make, act, input_shape, exact=False):
    """The layer with `act` fused, and the same layer linear followed by Activation(act), with
    the same weights (`exact`: those of exact_weights): (fused model, reference model)."""
    inp = ge.Input(shape=input_shape)
    layer = make(act)
    fused = ge.Model(inp, layer(inp))
    inp = ge.Input(shape=input_shape)
    linear = make(None)
    reference = ge.Model(inp, ge.layers.Activation(act)(linear(inp)))
    if exact:
        exact_weights(layer)
    linear.set_weights(layer.get_weights())
    return fused, reference


def assert_same_bits(fused, reference, x, cotangents):
    """Outputs and vjp's (dx, dw) equal, NaN positions included, for every cotangent."""
    np.testing.assert_array_equal(fused.predict(x, verbose=0), reference.predict(x, verbose=0))
    for cot in cotangents:
        (dx_f,), dw_f = fused.vjp(x, cot)
        (dx_r,), dw_r = reference.vjp(x, cot)
        np.testing.assert_array_equal(dx_f, dx_r, err_msg="dx")
        for i, (a, b) in enumerate(zip(dw_f, dw_r)):
            np.testing.assert_array_equal(a, b, err_msg=f"dw[{i}]")


def cotangents(shape, seed=0):
    """A finite cotangent and one holding NaN and +-inf (a NaN loss's gradient)."""
    rng = np.random.default_rng(seed)
    finite = rng.standard_normal(shape).astype("float32")
    special = finite.copy().reshape(-1)
    special[::5], special[1::7], special[2::9] = NAN, INF, -INF
    return [finite, special.reshape(shape)]


F = 4
KERNEL = np.array([1.0, -1.0, 0.5, 3.0], "float32")  # exact products: each value reaches f
BIAS = np.array([0.0, 0.25, -1.0, 2.0], "float32")


def exact_weights(layer):
    """A 1x1 kernel over one channel: output f of each cell is act(x * KERNEL[f] + BIAS[f])."""
    kernel, bias = layer.get_weights()
    layer.set_weights([KERNEL.reshape(kernel.shape), BIAS])


@pytest.mark.parametrize("rows", [len(VALUES), len(VALUES) * 110])  # one-loop and BLAS paths
@pytest.mark.parametrize("act", FUSED)
def test_dense_fused_activation_is_the_standalone_one(act, rows):
    def make(a):
        return ge.layers.Dense(F, activation=a)

    fused, reference = fused_and_reference(make, act, (1,), exact=True)
    x = np.resize(values(), (rows, 1))
    assert_same_bits(fused, reference, x, cotangents((rows, F)))
    y = fused.predict(x[: len(VALUES)], verbose=0)
    assert np.isnan(y[0]).all(), f"{act}: a NaN input gave {y[0]}"


CONVS = {
    "Conv1D 1x1": (lambda a: ge.layers.Conv1D(F, 1, activation=a), (len(VALUES), 1)),
    "Conv2D 1x1": (lambda a: ge.layers.Conv2D(F, 1, activation=a), (4, 5, 1)),
    "Conv2DTranspose 1x1": (lambda a: ge.layers.Conv2DTranspose(F, 1, activation=a), (4, 5, 1)),
    "Conv1DTranspose 1x1": (
        lambda a: ge.layers.Conv1DTranspose(F, 1, activation=a),
        (len(VALUES), 1),
    ),
}


@pytest.mark.parametrize("act", FUSED)
@pytest.mark.parametrize("conv", sorted(CONVS))
def test_conv_fused_activation_is_the_standalone_one(conv, act):
    make, shape = CONVS[conv]
    fused, reference = fused_and_reference(make, act, shape, exact=True)
    x = values().reshape((1,) + shape)
    out_shape = fused.predict(x, verbose=0).shape
    assert_same_bits(fused, reference, x, cotangents(out_shape))
    assert np.isnan(fused.predict(x, verbose=0).reshape(-1, F)[0]).all()


SPATIAL = {  # im2col / col2im paths: products mix cells, the two models must still agree
    "Conv2D 3x3": lambda a: ge.layers.Conv2D(F, 3, padding="same", activation=a),
    "Conv1D 3 strided": lambda a: ge.layers.Conv1D(F, 3, strides=2, activation=a),
    "Conv2DTranspose 3x3/2": lambda a: ge.layers.Conv2DTranspose(F, 3, strides=2, activation=a),
}


@pytest.mark.parametrize("act", FUSED)
@pytest.mark.parametrize("conv", sorted(SPATIAL))
def test_spatial_conv_fused_activation_is_the_standalone_one(conv, act):
    shape = (7, 2) if conv.startswith("Conv1D") else (4, 4, 2)
    fused, reference = fused_and_reference(SPATIAL[conv], act, shape)
    x = np.random.default_rng(1).uniform(-2, 2, (2,) + shape).astype("float32").reshape(-1)
    x[[3, 11, 17]] = NAN, -INF, 1e38  # sparse: most outputs stay finite
    x = x.reshape((2,) + shape)
    out_shape = fused.predict(x, verbose=0).shape
    assert_same_bits(fused, reference, x, cotangents(out_shape))


# -- the fused kernels directly, float32 and float64 ----------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", FUSED)
def test_fused_kernels_are_the_standalone_kernels(act, dtype):
    """bias_activation, the one-loop dense_forward and bias_activation_backward against the
    standalone kernels, element by element, in both float types."""
    v = values(dtype)
    bias = np.array([0.0, -1.0], dtype)
    pre = (v[:, None] + bias).astype(dtype)  # (V, 2)
    want, _ = standalone(cpu, act, pre.reshape(-1), np.ones(pre.size, dtype))
    y = pre.copy()
    cpu.bias_activation(y, None, act)
    np.testing.assert_array_equal(y.reshape(-1), want, err_msg="bias_activation")
    y = v[:, None].repeat(2, 1).copy()
    cpu.bias_activation(y, bias, act)
    np.testing.assert_array_equal(y.reshape(-1), want, err_msg="bias_activation with bias")
    out = np.zeros_like(pre)
    cpu.dense_forward(v[:, None].copy(), np.ones((1, 2), dtype), bias, act, out)
    np.testing.assert_array_equal(out.reshape(-1), want, err_msg="dense_forward")
    for dy in cotangents(pre.shape, seed=2):
        dy = dy.astype(dtype)
        _, want_dx = standalone(cpu, act, pre.reshape(-1), dy.reshape(-1))
        dz, db = np.zeros_like(pre), np.zeros(2, dtype)
        cpu.bias_activation_backward(want.reshape(pre.shape), dy, act, dz, db)
        np.testing.assert_array_equal(dz.reshape(-1), want_dx, err_msg="backward")


# -- recurrent layers: fused kernels against the cell unrolled on standalone ops -------------------

RECURRENT = {
    "SimpleRNN": lambda a, r: ge.layers.SimpleRNN(F, activation=a, return_sequences=True),
    "LSTM": lambda a, r: ge.layers.LSTM(
        F, activation=a, recurrent_activation=r, return_sequences=True
    ),
    "GRU": lambda a, r: ge.layers.GRU(
        F, activation=a, recurrent_activation=r, return_sequences=True
    ),
    "GRU reset_before": lambda a, r: ge.layers.GRU(
        F, activation=a, recurrent_activation=r, return_sequences=True, reset_after=False
    ),
}


def assert_same_nonfinite(got, want, what):
    """NaN and +-inf in the same places; finite values close (the fused float32 tanh and
    sigmoid are rational approximations, so not the libm bits of the standalone ones)."""
    for test in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(test(got), test(want), err_msg=f"{what}: {test.__name__}")
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5, err_msg=what)


def unfused(name):
    """The standalone activation in a wrapper the fused kernels do not recognize, so the layer
    runs its cell unrolled on graph ops."""
    f = ge.activations.get(name)
    return lambda x: f(x)


def recurrent_model(cell, act, ract, T):
    """(model, layer): the layer over (T, 1) sequences from zero initial states given as inputs
    (the unrolled cell would otherwise make its zeros as x[:, 0] @ 0, NaN for infinite x)."""
    inp = ge.Input(shape=(T, 1))
    states = [ge.Input(shape=(F,)) for _ in range(2 if cell == "LSTM" else 1)]
    layer = RECURRENT[cell](act, ract)
    return ge.Model([inp, *states], layer(inp, initial_state=states)), layer


@pytest.mark.parametrize("acts", [("relu", "hard_sigmoid"), ("tanh", "sigmoid")])
@pytest.mark.parametrize("cell", sorted(RECURRENT))
def test_recurrent_fused_activations_propagate_like_the_standalone_ones(cell, acts):
    T = 2
    fused, layer = recurrent_model(cell, *acts, T)
    reference, ref_layer = recurrent_model(cell, *(unfused(n) for n in acts), T)
    weights = layer.get_weights()
    weights[0] = np.resize(KERNEL, weights[0].shape)  # x W: each unit sees x times +-1, 0.5, 3
    ref_layer.set_weights(weights)
    layer.set_weights(weights)
    x = np.resize(values(), (len(VALUES), T, 1))
    x[:, 1] = 0.5  # step 2 sees only the state: a NaN state stays NaN
    feeds = [x] + [np.zeros((len(VALUES), F), "float32")] * (len(fused.inputs) - 1)
    y = fused.predict(feeds, verbose=0)
    assert_same_nonfinite(y, reference.predict(feeds, verbose=0), f"{cell} {acts} forward")
    assert np.isnan(y[0]).all(), f"{cell} {acts}: a NaN input gave {y[0]}"
    for cot in cotangents(y.shape, seed=3):
        dx_f, dw_f = fused.vjp(feeds, cot)
        dx_r, dw_r = reference.vjp(feeds, cot)
        for i, (a, b) in enumerate(zip(dx_f + dw_f, dx_r + dw_r)):
            assert_same_nonfinite(a, b, f"{cell} {acts} gradient {i}")


@pytest.mark.parametrize("fused", [False, True], ids=["int_code", "Fused_code"])
@pytest.mark.parametrize("code", ["relu", "hard_sigmoid", "sigmoid", "tanh"])
def test_recurrent_activation_kernels_at_nonfinite_values(code, fused):
    """The recurrent row activation and its derivative, float32 (rational tanh and sigmoid)
    and float64, at NaN and +-inf, and with a NaN incoming gradient; compiled for a plain int
    code (every branch) and for a Fused one (that activation's loops only)."""
    from graphengine_kernels.cpu.activations import Fused
    from tests.helpers import recurrent_activate, recurrent_scale_by_derivative

    num = activation_codes.codes(activation_codes.RECURRENT)[code]
    num = Fused(num) if fused else num
    _, want_y, want_d = LIMITS[code]
    for dtype in ("float32", "float64"):
        v = np.array([NAN, INF, -INF], dtype)
        recurrent_activate(v, num)
        np.testing.assert_array_equal(v, np.array(want_y, dtype), err_msg=f"{code} {dtype}")
        d = np.full(3, NAN, dtype)
        recurrent_scale_by_derivative(d, v, num)
        assert np.isnan(d).all(), f"{code} {dtype}: a NaN gradient became {d}"


# -- end to end -----------------------------------------------------------------------------------


def test_nan_batch_gives_nan_loss_and_terminate_on_nan_stops():
    ge.utils.set_random_seed(0)
    model = ge.Sequential([ge.Input(shape=(3,)), ge.layers.Dense(4, activation="relu"),
                           ge.layers.Dense(1)])  # fmt: skip
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 3), "float32")
    x[2, 1] = NAN
    y = np.zeros((8, 1), "float32")
    assert math.isnan(model.evaluate(x, y, verbose=0))
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0,
                        callbacks=[ge.callbacks.TerminateOnNaN()])  # fmt: skip
    assert len(history.history["loss"]) == 1 and math.isnan(history.history["loss"][0])
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0,
                  callbacks=[ge.callbacks.TerminateOnNaN(raise_error=True)])  # fmt: skip


@pytest.mark.parametrize("axis, shape", [(-1, (16, 3)), (1, (4, 3, 5))])
def test_batch_norm_statistics_of_a_channel_holding_an_infinity(axis, shape):
    """A channel holding +inf (or -inf) has mean +inf (-inf) and variance NaN, NumPy's and
    Keras's, and the moving statistics follow; a NaN gives NaN. The one-pass running mean alone
    gives NaN for an infinity (inf - inf), whichever path the layout takes."""
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    for ch, v in enumerate([INF, -INF, NAN]):  # one special in each channel, in sample 2
        index = [2] + [0] * (len(shape) - 1)
        index[axis] = ch
        x[tuple(index)] = v
    layer = ge.layers.BatchNormalization(axis=axis, momentum=0.9)
    layer(x, training=True)
    reduce = tuple(d for d in range(len(shape)) if d != axis % len(shape))
    with np.errstate(invalid="ignore"):
        mean, var = x.astype(np.float64).mean(reduce), x.astype(np.float64).var(reduce)
    np.testing.assert_array_equal(mean, [INF, -INF, NAN])
    np.testing.assert_array_equal(layer.moving_mean.numpy(), (0.1 * mean).astype("float32"))
    assert np.isnan(layer.moving_variance.numpy()).all() and np.isnan(var).all()


# -- CUDA, in the simulator ------------------------------------------------------------------------


def test_cuda_fused_activations_in_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, __file__], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0 and "cuda checks passed" in proc.stdout, (
        proc.stdout[-6000:] + proc.stderr[-6000:]
    )


def _cuda_standalone(k, kind, x, dy):
    from numba import cuda

    params = LIMITS[kind][0]
    xd, dyd = cuda.to_device(x), cuda.to_device(dy)
    y, dx = cuda.to_device(np.zeros_like(x)), cuda.to_device(np.zeros_like(x))
    getattr(k, f"{kind}_forward")(xd, *params, y)
    getattr(k, f"{kind}_backward")(xd, y, dyd, *params, dx)
    return y.copy_to_host(), dx.copy_to_host()


def _cuda_kernel_checks():
    """The standalone CUDA kernels' limits and NaN cotangents, as the CPU's; the fused
    bias/activation pass and its gradient against them, bit for bit."""
    from numba import cuda

    import graphengine_kernels.cuda as gpu

    for kind, (_, want_y, want_d) in LIMITS.items():
        x = np.array([NAN, INF, -INF])
        y, dx = _cuda_standalone(gpu, kind, x, np.ones(3))
        np.testing.assert_array_equal(y, want_y, err_msg=f"cuda {kind} forward")
        np.testing.assert_array_equal(dx, want_d, err_msg=f"cuda {kind} backward")
        _, dx = _cuda_standalone(gpu, kind, values("float64"), np.full(len(VALUES), NAN))
        assert np.isnan(dx).all(), f"cuda {kind}: NaN cotangent gave {dx}"
    for params, (want_y, want_d) in RELU_PARAMS.items():
        x, y, dx = (
            cuda.to_device(a) for a in (np.array([NAN, INF, -INF]), np.zeros(3), np.zeros(3))
        )
        gpu.relu_forward(x, *params, y)
        gpu.relu_backward(x, y, cuda.to_device(np.ones(3)), *params, dx)
        np.testing.assert_array_equal(y.copy_to_host(), want_y, err_msg=f"cuda relu{params}")
        np.testing.assert_array_equal(dx.copy_to_host(), want_d, err_msg=f"cuda relu{params}")
    for act in FUSED:
        v = values()
        bias = np.array([0.0, -1.0], "float32")
        pre = v[:, None] + bias
        want, _ = _cuda_standalone(gpu, act, pre.reshape(-1), np.ones(pre.size, "float32"))
        y = cuda.to_device(v[:, None].repeat(2, 1).copy())
        gpu.bias_activation(y, cuda.to_device(bias), act)
        np.testing.assert_array_equal(y.copy_to_host().reshape(-1), want, err_msg=act)
        for dy in cotangents(pre.shape, seed=2):
            _, want_dx = _cuda_standalone(gpu, act, pre.reshape(-1), dy.reshape(-1))
            dz, db = cuda.to_device(np.zeros_like(pre)), cuda.to_device(np.zeros(2, "float32"))
            args = (cuda.to_device(want.reshape(pre.shape)), cuda.to_device(dy), act, dz, db)
            gpu.bias_activation_backward(*args)
            np.testing.assert_array_equal(dz.copy_to_host().reshape(-1), want_dx, err_msg=act)


def _cuda_layer_checks():
    """Layers compiled for cuda (each simulated launch is slow: one case per code path). Dense
    and Conv2D 1x1 with every fused activation, and a transposed Conv2D (the col2im pass) with
    relu: fused against linear + Activation, bit for bit. SimpleRNN and GRU with relu and
    hard_sigmoid: NaN and +-inf as on the CPU."""
    cases = [(act, lambda a: ge.layers.Dense(F, activation=a), (1,), True) for act in FUSED]
    cases += [
        (act, lambda a: ge.layers.Conv2D(F, 1, activation=a), (4, 5, 1), True) for act in FUSED
    ]
    cases.append(("relu", SPATIAL["Conv2DTranspose 3x3/2"], (4, 5, 1), False))
    for act, make, shape, exact in cases:
        fused, reference = fused_and_reference(make, act, shape, exact)
        for m in (fused, reference):
            m.compile(optimizer="sgd", loss="mse", device="cuda")
        x = values().reshape((-1,) + shape)
        with ge.device("cuda"):
            assert_same_bits(fused, reference, x, cotangents(fused.predict(x, verbose=0).shape))
    for cell in ("SimpleRNN", "GRU"):
        outs = []
        for device in ("cpu", "cuda"):
            ge.utils.set_random_seed(5)
            inp = ge.Input(shape=(2, 1))
            model = ge.Model(inp, RECURRENT[cell]("relu", "hard_sigmoid")(inp))
            model.compile(optimizer="sgd", loss="mse", device=device)
            x = np.resize(values(), (len(VALUES), 2, 1))
            with ge.device(device):
                y = model.predict(x, verbose=0)
            outs.append((y, *model.vjp(x, cotangents(y.shape)[1])))
        (y0, (dx0,), dw0), (y1, (dx1,), dw1) = outs
        for i, (a, b) in enumerate(zip([y1, dx1, *dw1], [y0, dx0, *dw0])):
            assert_same_nonfinite(a, b, f"cuda {cell} output {i}")


if __name__ == "__main__":
    assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", "run through test_nonfinite.py"
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)  # the simulator's NaN arithmetic, on purpose
    _cuda_kernel_checks()
    _cuda_layer_checks()
    print("cuda checks passed")
