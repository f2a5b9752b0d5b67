"""Python operators on SymbolicTensors, as Keras's KerasTensor has them: each one compiled into
a model and compared with NumPy's operator, in float64 and float32, its gradient checked by
central differences; `==` and `!=` stay identity (tensors are dict keys)."""

import numpy as np
import pytest

import graphengine as ge
from gradcheck import check_grads, check_model_grads
from graphengine.ops.pyfunc import PyFunc

ops = ge.ops

X = np.array([[-1.7, -0.6, 0.35], [0.9, 1.4, -2.3]])  # no value near 0
Y = np.array([[0.8, -0.6, 1.1], [-0.4, 2.0, -2.3]])  # ties with X at [0, 1] and [1, 2]
POS = np.array([[0.3, 1.2, 2.5], [0.7, 1.9, 0.45]])
W = np.random.default_rng(0).standard_normal((3, 4))
C = np.array([0.5, -1.5, 2.0])  # a NumPy operand: NumPy defers to the tensor's operator
CP = np.array([0.5, 1.5, 2.0])
M = np.random.default_rng(1).standard_normal((4, 2))

# id -> (fn, its arrays, differentiable): fn runs on symbolic tensors and, as the
# reference, on the arrays with NumPy's own operators
CASES = {
    "x + y": (lambda a, b: a + b, (X, Y), True),
    "2 + x": (lambda a: 2.0 + a, (X,), True),
    "x - c": (lambda a: a - C, (X,), True),
    "2 - x": (lambda a: 2.0 - a, (X,), True),
    "x * y": (lambda a, b: a * b, (X, Y), True),
    "c * x": (lambda a: C * a, (X,), True),
    "x / y": (lambda a, b: a / b, (X, Y), True),
    "1 / x": (lambda a: 1.0 / a, (X,), True),
    "c / x": (lambda a: C / a, (X,), True),
    "x ** 2": (lambda a: a**2, (X,), True),
    "x ** 0.5": (lambda a: a**0.5, (POS,), True),
    "x ** 3": (lambda a: a**3, (X,), True),
    "x ** -1.5": (lambda a: a**-1.5, (POS,), True),
    "x ** y": (lambda a, b: a**b, (POS, Y), True),
    "2.5 ** x": (lambda a: 2.5**a, (X,), True),
    "c ** x": (lambda a: CP**a, (X,), True),
    "x @ w": (lambda a, b: a @ b, (X, W), True),
    "x @ w_const": (lambda a: a @ W, (X,), True),
    "m @ x": (lambda a: M @ a, (X,), True),
    "-x": (lambda a: -a, (X,), True),
    "abs(x)": (lambda a: abs(a), (X,), True),
    "x > y": (lambda a, b: a > b, (X, Y), False),
    "x >= y": (lambda a, b: a >= b, (X, Y), False),
    "x < y": (lambda a, b: a < b, (X, Y), False),
    "x <= y": (lambda a, b: a <= b, (X, Y), False),
    "x > 0.35": (lambda a: a > 0.35, (X,), False),
    "x >= 0.35": (lambda a: a >= 0.35, (X,), False),
    "0 < x": (lambda a: 0.0 < a, (X,), False),
    "c >= x": (lambda a: C.astype(a.dtype) >= a, (X,), False),
    "x * (x > 0)": (lambda a: a * (a > 0), (X,), True),
}


def run(fn, *arrays):
    """fn applied to Inputs of the arrays' full shapes, compiled into a Model, run on arrays."""
    inputs = [ge.Input(batch_shape=a.shape, dtype=a.dtype) for a in arrays]
    return np.asarray(ge.Model(inputs, fn(*inputs))(list(arrays) if len(arrays) > 1 else arrays[0]))


def numpy_result(fn, arrays):
    """fn on arrays with NumPy's own operators and dtype promotion (a comparison gives bool, as
    in Keras 3)."""
    with np.errstate(all="raise"):
        return np.asarray(fn(*arrays))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", CASES)
def test_operator_against_numpy(name, dtype):
    fn, arrays, _ = CASES[name]
    arrays = [a.astype(dtype) for a in arrays]
    got = run(fn, *arrays)
    want = numpy_result(fn, arrays)
    assert got.dtype == want.dtype and got.shape == want.shape
    if want.dtype == bool:
        np.testing.assert_array_equal(got, want)
        return
    tol = dict(rtol=1e-12, atol=0) if dtype == "float64" else dict(rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("name", [n for n, case in CASES.items() if case[2]])
def test_operator_gradient(name):
    fn, arrays, _ = CASES[name]
    check_grads(fn, *arrays)


def test_symbolic_operators_record_nodes_of_the_matching_ops():
    x, y = ge.Input((3,)), ge.Input((3,))
    names = {
        "greater": x > y,
        "greater_equal": x >= 1,
        "less": x < y,
        "less_equal": 1 >= x,
        "power": x**y,
        "square": x**2,
        "sqrt": x**0.5,
    }
    for name, t in names.items():
        dtype = "bool" if name.startswith(("greater", "less")) else "float32"  # as Keras 3
        assert t.node.op.name == name and t.shape == (None, 3) and t.dtype == dtype, name
    assert (x ** np.float64(2)).node.op.name == "square"
    assert (2**x).node.op.name == "power" and (2**x).dtype == "float32"
    assert (x**3).node.op.name == "power" and (x**3).dtype == "float32"


def test_power_fast_paths_are_numpy_s_operator():
    """x ** 2 and x ** 0.5 are square and sqrt, exactly what NumPy's `**` gives, signed zero,
    infinities and NaN included."""
    a = np.array([[-0.0, 0.0, -np.inf, np.inf, np.nan, 3.0, -2.0, 1e200]])
    with np.errstate(invalid="ignore", over="ignore"):
        np.testing.assert_array_equal(run(lambda t: t**2, a), a**2)
        got, want = run(lambda t: t**0.5, a), a**0.5
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_equality_stays_identity_so_tensors_remain_keys():
    a, b = ge.Input((3,)), ge.Input((3,))
    assert (a == a) is True and (a == b) is False and (a != b) is True and (a != a) is False
    assert {a: 1, b: 2}[b] == 2 and b in {a, b} and [a, b].index(b) == 1
    with pytest.raises(TypeError, match="truth value"):
        bool(a > b)


def test_leaky_where_in_a_lambda_is_traced_and_trains():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, 4))
    ys = np.maximum(xs @ rng.standard_normal((4, 1)), 0.0) - 0.2
    ge.utils.set_random_seed(0)
    x = ge.Input((4,), dtype="float64")
    hidden = ge.layers.Dense(8, dtype="float64")
    leaky = ge.layers.Lambda(lambda t: ops.where(t > 0, t, 0.1 * t), dtype="float64")
    h = hidden(x)
    a = leaky(h)
    model = ge.Model(x, ge.layers.Dense(1, dtype="float64")(a))
    assert not any(isinstance(n.op, PyFunc) for n in a.layer_call.nodes)  # a graph, not NumPy
    h_value = ge.Model(x, h).predict(xs[:5], verbose=0)
    np.testing.assert_allclose(
        ge.Model(x, a).predict(xs[:5], verbose=0),
        np.where(h_value > 0, h_value, 0.1 * h_value),
        rtol=1e-12,
    )
    check_model_grads(model, xs[:3])  # no pre-activation near 0 here
    model.compile(optimizer=ge.optimizers.Adam(learning_rate=0.01), loss="mse")
    history = model.fit(xs, ys, epochs=30, batch_size=16, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < 0.5 * history[0]
