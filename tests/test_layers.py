"""Every layer in ge.layers through the layer harness against a naive NumPy reference written
here, independently of the engine; the layers' error messages; initializers; regularizers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import graphengine as ge
from layer_harness import run_layer_test

L = ge.layers

# -- naive NumPy references ----------------------------------------------------------------------
_erf = np.vectorize(math.erf)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


NP_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": np_sigmoid,
    "tanh": np.tanh,
    "softmax": np_softmax,
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1.0),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1.0)),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),  # Keras 3: approximate=False
    "softplus": lambda x: np.log(1.0 + np.exp(x)),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),  # keras.activations default slope 0.2
    "linear": lambda x: x,
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),  # Keras 3: relu6(x + 3) / 6
    "swish": lambda x: x * np_sigmoid(x),
}
ACTIVATION_NAMES = sorted(NP_ACTIVATIONS)


def dense_ref(activation="linear", use_bias=True):
    def ref(x, w):
        y = np.einsum("...i,ij->...j", x, w[0])
        if use_bias:
            y = y + w[1]
        return NP_ACTIVATIONS[activation](y)

    return ref


# -- Dense ---------------------------------------------------------------------------------------
def test_dense_2d():
    layer = run_layer_test(
        L.Dense,
        {"units": 5},
        (3, 4),
        expected_output_shape=(3, 5),
        expected_num_weights=2,
        expected_num_params=25,
        reference=dense_ref(),
    )
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 5) and bias.shape == (5,)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 3, 4)], ids=["3d", "4d"])
def test_dense_on_last_axis_of_any_rank(shape):
    run_layer_test(
        L.Dense,
        {"units": 3},
        shape,
        expected_output_shape=shape[:-1] + (3,),
        expected_num_weights=2,
        expected_num_params=15,
        reference=dense_ref(),
    )


def test_dense_without_bias():
    run_layer_test(
        L.Dense,
        {"units": 3, "use_bias": False},
        (2, 4),
        expected_output_shape=(2, 3),
        expected_num_weights=1,
        expected_num_params=12,
        reference=dense_ref(use_bias=False),
    )


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_dense_activation_strings(activation):
    run_layer_test(
        L.Dense,
        {"units": 3, "activation": activation},
        (4, 3),
        expected_output_shape=(4, 3),
        expected_num_weights=2,
        reference=dense_ref(activation),
    )


def test_seed_example_from_api():
    layer = L.Dense(units=1, use_bias=False)
    y = layer(np.zeros((64, 4, 2)))
    assert isinstance(y, np.ndarray)
    assert y.shape == (64, 4, 1)
    assert len(layer.weights) == 1
    assert layer.weights[0].shape == (2, 1)
    assert layer.get_weights()[0].shape == (2, 1)
    assert layer.count_params() == 2
    np.testing.assert_array_equal(y, 0.0)


# -- Activation layers ---------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_activation_layer(activation):
    x = 4.0 * np.random.default_rng(1).standard_normal((3, 5))  # reaches the clipped regions
    run_layer_test(
        L.Activation,
        {"activation": activation},
        (3, 5),
        input_data=x,
        expected_output_shape=(3, 5),
        expected_num_weights=0,
        reference=lambda x, w: NP_ACTIVATIONS[activation](x),
    )


def test_activation_layer_on_3d_softmax_sums_to_one():
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    y = L.Activation("softmax", dtype="float64")(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(y, np_softmax(x), rtol=1e-12)


def relu_ref(max_value=None, negative_slope=0.0, threshold=0.0):
    def ref(x, w):
        top = np.inf if max_value is None else max_value
        return np.where(
            x >= top, top, np.where(x >= threshold, x, negative_slope * (x - threshold))
        )

    return ref


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_value": 1.0},
        {"negative_slope": 0.1},
        {"threshold": 0.5},
        {"max_value": 1.5, "negative_slope": 0.2, "threshold": 0.5},
    ],
    ids=["default", "max_value", "negative_slope", "threshold", "all"],
)
def test_relu_variants(kwargs):
    x = 2.0 * np.random.default_rng(3).standard_normal((4, 5))
    run_layer_test(
        L.ReLU,
        kwargs,
        (4, 5),
        input_data=x,
        expected_output_shape=(4, 5),
        expected_num_weights=0,
        reference=relu_ref(**kwargs),
    )


@pytest.mark.parametrize(
    "kwargs,slope",
    [({}, 0.3), ({"negative_slope": 0.1}, 0.1), ({"alpha": 0.05}, 0.05)],
    ids=["keras3_default", "negative_slope", "legacy_alpha"],
)
def test_leaky_relu(kwargs, slope):
    run_layer_test(
        L.LeakyReLU,
        kwargs,
        (3, 4),
        expected_output_shape=(3, 4),
        expected_num_weights=0,
        reference=lambda x, w: np.where(x >= 0, x, slope * x),
    )


def prelu_ref(x, w):
    return np.where(x >= 0, x, w[0] * x)  # alpha broadcasts against the sample axes


def test_prelu():
    layer = run_layer_test(
        L.PReLU,
        {},
        (2, 3, 4),
        expected_output_shape=(2, 3, 4),
        expected_num_weights=1,
        expected_num_params=12,
        reference=prelu_ref,
    )
    assert layer.get_weights()[0].shape == (3, 4)


def test_prelu_default_alpha_is_zero_like_relu():
    x = np.random.default_rng(4).standard_normal((2, 5))
    layer = L.PReLU(dtype="float64")
    np.testing.assert_array_equal(layer(x), np.maximum(x, 0.0))
    np.testing.assert_array_equal(layer.get_weights()[0], np.zeros((5,)))


@pytest.mark.parametrize(
    "shared_axes,alpha_shape",
    [([1, 2], (1, 1, 4)), (1, (1, 3, 4)), ([3], (2, 3, 1))],
    ids=["spatial", "int", "last"],
)
def test_prelu_shared_axes(shared_axes, alpha_shape):
    layer = run_layer_test(
        L.PReLU,
        {"shared_axes": shared_axes},
        (2, 2, 3, 4),
        expected_output_shape=(2, 2, 3, 4),
        expected_num_weights=1,
        expected_num_params=int(np.prod(alpha_shape)),
        reference=prelu_ref,
    )
    assert layer.get_weights()[0].shape == alpha_shape


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu(alpha):
    kwargs = {} if alpha == 1.0 else {"alpha": alpha}
    run_layer_test(
        L.ELU,
        kwargs,
        (3, 4),
        expected_output_shape=(3, 4),
        expected_num_weights=0,
        reference=lambda x, w: np.where(x > 0, x, alpha * (np.exp(x) - 1.0)),
    )


@pytest.mark.parametrize("axis", [-1, 1, -2])
def test_softmax_axis(axis):
    run_layer_test(
        L.Softmax,
        {"axis": axis},
        (2, 3, 4),
        expected_output_shape=(2, 3, 4),
        expected_num_weights=0,
        reference=lambda x, w: np_softmax(x, axis=axis),
    )


# -- reshaping -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target,out", [((-1, 2), (6, 2)), ((4, 3), (4, 3)), ((12,), (12,)), ((2, -1, 3), (2, 2, 3))]
)
def test_reshape(target, out):
    run_layer_test(
        L.Reshape,
        {"target_shape": target},
        (2, 3, 4),
        expected_output_shape=(2,) + out,
        expected_num_weights=0,
        reference=lambda x, w: x.reshape((x.shape[0],) + out),
    )


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 3, 2), (3, 5)])
def test_flatten(shape):
    run_layer_test(
        L.Flatten,
        {},
        shape,
        expected_output_shape=(shape[0], math.prod(shape[1:])),
        expected_num_weights=0,
        reference=lambda x, w: np.stack([s.ravel() for s in x]),
    )


@pytest.mark.parametrize(
    "dims,shape", [((2, 1), (2, 3, 4)), ((3, 1, 2), (2, 2, 3, 4)), ((1, 3, 2), (2, 2, 3, 4))]
)
def test_permute(dims, shape):
    expected = (shape[0],) + tuple(shape[d] for d in dims)

    def ref(x, w):
        out = np.empty(expected)
        for idx in np.ndindex(*expected):  # out[n, i1, i2, ...] = x[n, ...] with axes moved
            src = [0] * x.ndim
            src[0] = idx[0]
            for out_axis, d in enumerate(dims, start=1):
                src[d] = idx[out_axis]
            out[idx] = x[tuple(src)]
        return out

    run_layer_test(
        L.Permute,
        {"dims": dims},
        shape,
        expected_output_shape=expected,
        expected_num_weights=0,
        reference=ref,
    )


def test_repeat_vector():
    def ref(x, w):
        return np.stack([x, x, x], axis=1)

    run_layer_test(
        L.RepeatVector,
        {"n": 3},
        (2, 4),
        expected_output_shape=(2, 3, 4),
        expected_num_weights=0,
        reference=ref,
    )


# -- merging -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "axis,shapes,out",
    [
        (-1, [(2, 3, 4), (2, 3, 2)], (2, 3, 6)),
        (1, [(2, 3, 4), (2, 1, 4)], (2, 4, 4)),
        (-2, [(2, 3, 4), (2, 2, 4), (2, 1, 4)], (2, 6, 4)),
        (2, [(2, 3, 1), (2, 3, 2), (2, 3, 3)], (2, 3, 6)),
    ],
    ids=["last", "axis1", "minus2_three_inputs", "axis2_three_inputs"],
)
def test_concatenate(axis, shapes, out):
    def ref(xs, w):
        ax = axis % 3
        result = np.empty(out)
        start = 0
        for x in xs:
            size = x.shape[ax]
            index = [slice(None)] * 3
            index[ax] = slice(start, start + size)
            result[tuple(index)] = x
            start += size
        return result

    run_layer_test(
        L.Concatenate,
        {"axis": axis},
        shapes,
        expected_output_shape=out,
        expected_num_weights=0,
        reference=ref,
    )


def _sum(xs):
    total = np.zeros_like(xs[0])
    for x in xs:
        total = total + x
    return total


MERGES = {
    "Add": (3, _sum),
    "Subtract": (2, lambda xs: xs[0] - xs[1]),
    "Multiply": (3, lambda xs: xs[0] * xs[1] * xs[2]),
    "Average": (3, lambda xs: _sum(xs) / len(xs)),
    "Maximum": (3, lambda xs: np.max(np.stack(xs), axis=0)),
    "Minimum": (2, lambda xs: np.min(np.stack(xs), axis=0)),
}


@pytest.mark.parametrize("name", sorted(MERGES))
def test_merge_layers(name):
    n, ref = MERGES[name]
    run_layer_test(
        getattr(L, name),
        {},
        [(3, 4)] * n,
        expected_output_shape=(3, 4),
        expected_num_weights=0,
        reference=lambda xs, w: ref(xs),
    )


def test_maximum_and_minimum_two_inputs_on_3d():
    run_layer_test(
        L.Maximum,
        {},
        [(2, 3, 2), (2, 3, 2)],
        expected_output_shape=(2, 3, 2),
        reference=lambda xs, w: np.maximum(xs[0], xs[1]),
    )
    run_layer_test(
        L.Minimum,
        {},
        [(2, 3, 2)] * 3,
        expected_output_shape=(2, 3, 2),
        reference=lambda xs, w: np.minimum(np.minimum(xs[0], xs[1]), xs[2]),
    )


# -- Embedding -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_embedding(dtype):
    def ref(ids, w):
        table = w[0]
        out = np.empty(ids.shape + (table.shape[1],))
        for idx in np.ndindex(*ids.shape):
            out[idx] = table[ids[idx]]
        return out

    ids = np.array([[0, 4, 4], [2, 0, 1]], dtype=dtype)  # repeated ids: gradients accumulate
    layer = run_layer_test(
        L.Embedding,
        {"input_dim": 5, "output_dim": 4},
        (2, 3),
        input_dtype=dtype,
        input_data=ids,
        expected_output_shape=(2, 3, 4),
        expected_num_weights=1,
        expected_num_params=20,
        reference=ref,
    )
    assert layer.get_weights()[0].shape == (5, 4)


def test_embedding_default_initializer_is_uniform_005():
    ge.utils.set_random_seed(5)
    layer = L.Embedding(400, 50)
    layer(np.zeros((1, 1), dtype="int32"))
    table = layer.get_weights()[0]
    assert np.abs(table).max() <= 0.05 and np.abs(table).max() > 0.049
    assert_std(table, 0.05 / math.sqrt(3.0))


# -- Lambda --------------------------------------------------------------------------------------
@ge.utils.register_serializable("test_layers.tanh_plus_square")
def tanh_plus_square(x):
    return ge.ops.add(ge.ops.multiply(ge.ops.tanh(x), 2.0), ge.ops.square(x))


@ge.utils.register_serializable("test_layers.gate")
def gate(xs):
    a, b = xs[0], xs[1]
    return ge.ops.multiply(a, ge.ops.sigmoid(b))


@ge.utils.register_serializable("test_layers.scaled_sum")
def scaled_sum(x, scale):
    return ge.ops.multiply(ge.ops.sum(x, axis=-1, keepdims=True), scale)


def test_lambda_from_ops():
    run_layer_test(
        L.Lambda,
        {"function": tanh_plus_square},
        (3, 4),
        expected_output_shape=(3, 4),
        expected_num_weights=0,
        reference=lambda x, w: 2.0 * np.tanh(x) + x * x,
    )


def test_lambda_two_inputs():
    run_layer_test(
        L.Lambda,
        {"function": gate},
        [(3, 4), (3, 4)],
        expected_output_shape=(3, 4),
        expected_num_weights=0,
        reference=lambda xs, w: xs[0] * np_sigmoid(xs[1]),
    )


def test_lambda_arguments():
    run_layer_test(
        L.Lambda,
        {"function": scaled_sum, "arguments": {"scale": 3.0}},
        (2, 5),
        expected_output_shape=(2, 1),
        expected_num_weights=0,
        reference=lambda x, w: 3.0 * x.sum(axis=-1, keepdims=True),
    )


# -- argument errors -----------------------------------------------------------------------------
def test_unknown_keyword_suggests_closest():
    with pytest.raises(TypeError, match="did you mean 'activation'"):
        L.Dense(units=2, activaton="relu")
    with pytest.raises(TypeError, match="did you mean 'units'"):
        L.Dense(4, unit=3)
    with pytest.raises(TypeError, match="did you mean 'negative_slope'"):
        L.LeakyReLU(negative_slop=0.1)
    with pytest.raises(TypeError, match="did you mean 'input_shape'"):
        L.Reshape((2,), input_shap=(2,))


def test_unknown_activation_lists_valid_names():
    pattern = r"Unknown activation 'rleu'.*relu.*sigmoid.*tanh"
    with pytest.raises(ValueError, match=pattern):
        L.Dense(2, activation="rleu")
    with pytest.raises(ValueError, match=pattern):
        L.Activation("rleu")


def test_activation_names_are_case_insensitive():
    x = np.linspace(-2, 2, 8).reshape(2, 4)
    np.testing.assert_allclose(L.Activation("ReLU", dtype="float64")(x), np.maximum(x, 0))


def test_unknown_initializer_and_regularizer():
    with pytest.raises(ValueError, match=r"Unknown initializer 'glorot_unifrom'.*glorot_uniform"):
        L.Dense(2, kernel_initializer="glorot_unifrom")
    with pytest.raises(ValueError, match=r"Unknown initializer 'zero_s'.*zeros"):
        L.Dense(2, bias_initializer="zero_s")
    with pytest.raises(ValueError, match=r"Unknown regularizer 'l3'.*l1.*l2"):
        L.Dense(2, kernel_regularizer="l3")


def test_dense_on_unknown_last_dim():
    x = ge.Input(shape=(None,))
    with pytest.raises(ValueError, match=r"'dense_unknown'.*last dimension.*\(None, None\)"):
        L.Dense(2, name="dense_unknown")(x)


def test_shared_dense_on_other_last_dim_names_layer_and_shapes():
    dense = L.Dense(2, name="shared_dense")
    dense(ge.Input(shape=(3,)))
    pattern = r"'shared_dense'.*3.*\(None, 4\)"
    with pytest.raises(ValueError, match=pattern):
        dense(ge.Input(shape=(4,)))
    with pytest.raises(ValueError, match=r"'shared_dense'.*3.*\(2, 4\)"):
        dense(np.zeros((2, 4)))


def test_dense_rank_one_input_is_rejected():
    with pytest.raises(ValueError, match=r"'dense_rank1'.*min_ndim=2.*\(3,\)"):
        L.Dense(2, name="dense_rank1")(np.zeros(3))


def test_concatenate_mismatched_non_axis_dims():
    a, b = ge.Input(shape=(2, 3)), ge.Input(shape=(4, 5))
    with pytest.raises(ValueError, match=r"'cat_bad'.*\(None, 4, 5\).*\(None, 2, 3\)"):
        L.Concatenate(axis=-1, name="cat_bad")([a, b])
    with pytest.raises(ValueError, match=r"'cat_bad2'"):
        L.Concatenate(axis=1, name="cat_bad2")([ge.Input(shape=(2, 3)), ge.Input(shape=(2, 4))])


def test_add_incompatible_shapes():
    with pytest.raises(ValueError, match=r"'add_bad'.*\(None, 3\).*\(None, 4\)"):
        L.Add(name="add_bad")([ge.Input(shape=(3,)), ge.Input(shape=(4,))])


def test_merge_needs_a_list_of_two():
    with pytest.raises(ValueError, match=r"'add_one'.*at least 2"):
        L.Add(name="add_one")([ge.Input(shape=(3,))])


def test_subtract_with_three_inputs():
    xs = [ge.Input(shape=(3,)) for _ in range(3)]
    with pytest.raises(ValueError, match=r"'sub3'.*exactly 2 inputs.*3"):
        L.Subtract(name="sub3")(xs)


def test_reshape_to_impossible_size():
    # (None, 3, 2) holds 6 values per sample: neither 4 nor (-1, 4) fits
    with pytest.raises(ValueError, match=r"reshape_bad.*\(None, 3, 2\)"):
        L.Reshape((4,), name="reshape_bad")(ge.Input(shape=(3, 2)))
    with pytest.raises(ValueError, match=r"reshape_bad2.*\(None, 3, 2\)"):
        L.Reshape((-1, 4), name="reshape_bad2")(ge.Input(shape=(3, 2)))
    with pytest.raises(ValueError, match=r"at most one -1"):
        L.Reshape((-1, -1))


def test_permute_with_bad_dims():
    with pytest.raises(ValueError, match=r"permutation of 1\.\.2.*\(1, 3\)"):
        L.Permute((1, 3))
    with pytest.raises(ValueError, match=r"permutation"):
        L.Permute((0, 1))
    with pytest.raises(ValueError, match=r"'perm_rank'.*ndim=3.*\(None, 2, 3, 4\)"):
        L.Permute((2, 1), name="perm_rank")(ge.Input(shape=(2, 3, 4)))


def test_set_weights_wrong_count():
    dense = L.Dense(2, name="count_dense")
    dense(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"'count_dense' expects 2 weights.*received 1"):
        dense.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"'count_dense' expects 2 weights.*received 3"):
        dense.set_weights([np.zeros((3, 2)), np.zeros(2), np.zeros(2)])


def test_set_weights_wrong_shape_names_layer_and_shapes():
    dense = L.Dense(2, name="shape_dense")
    dense(np.zeros((1, 3)))
    before = dense.get_weights()
    with pytest.raises(ValueError, match=r"'shape_dense'.*kernel.*\(3, 2\).*\(2, 3\)"):
        dense.set_weights([np.ones((2, 3)), np.ones(2)])
    with pytest.raises(ValueError, match=r"'shape_dense'.*bias.*\(2,\).*\(3,\)"):
        dense.set_weights([np.ones((3, 2)), np.ones(3)])
    for w, b in zip(dense.get_weights(), before):  # a rejected set_weights changes nothing
        np.testing.assert_array_equal(w, b)


def test_count_params_and_set_weights_before_build():
    dense = L.Dense(2, name="unbuilt_dense")
    with pytest.raises(ValueError, match=r"'unbuilt_dense'.*not been built"):
        dense.count_params()
    with pytest.raises(ValueError, match=r"'unbuilt_dense'.*not been built"):
        dense.set_weights([np.zeros((3, 2)), np.zeros(2)])


@pytest.mark.parametrize(
    "factory",
    [
        lambda: L.Dense(0),
        lambda: L.Dense(-2),
        lambda: L.Embedding(0, 3),
        lambda: L.RepeatVector(0),
        lambda: L.ReLU(max_value=-1.0),
    ],
    ids=["dense0", "dense_neg", "embedding0", "repeat0", "relu_max"],
)
def test_bad_hyperparameters(factory):
    with pytest.raises(ValueError, match=r"must be"):
        factory()


# -- initializers --------------------------------------------------------------------------------
def draw(name, shape=(300, 200), seed=0, dtype="float64"):
    ge.utils.set_random_seed(seed)
    w = ge.initializers.get(name)(shape, dtype)
    assert w.shape == tuple(shape) and w.dtype == np.dtype(dtype)
    return w


def assert_std(w, std, rel=0.03):
    assert abs(w.std() - std) < rel * std, f"std {w.std()} vs {std}"
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size), f"mean {w.mean()}"


@pytest.mark.parametrize(
    "name,fan", [("glorot_uniform", 250.0), ("he_uniform", 300.0 / 2), ("lecun_uniform", 300.0)]
)
def test_uniform_variance_scaling(name, fan):
    w = draw(name)
    limit = math.sqrt(3.0 / fan)  # glorot: sqrt(6 / (fan_in + fan_out)); he: sqrt(6 / fan_in)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert_std(w, limit / math.sqrt(3.0))


def test_glorot_uniform_limit_formula():
    w = draw("glorot_uniform", (30, 20))
    limit = math.sqrt(6.0 / (30 + 20))
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit


def test_glorot_uniform_on_a_conv_kernel_counts_the_receptive_field():
    w = draw("glorot_uniform", (3, 3, 8, 16))
    limit = math.sqrt(6.0 / (3 * 3 * 8 + 3 * 3 * 16))
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.98 * limit


@pytest.mark.parametrize(
    "name,std",
    [
        ("glorot_normal", math.sqrt(2.0 / 500)),
        ("he_normal", math.sqrt(2.0 / 300)),
        ("lecun_normal", math.sqrt(1.0 / 300)),
    ],
)
def test_truncated_normal_variance_scaling(name, std):
    w = draw(name)
    assert_std(w, std)
    # Keras: a normal of stddev std / 0.8796 truncated at two of its stddevs
    bound = 2.0 * std / 0.87962566103423978
    assert np.abs(w).max() <= bound + 1e-12
    assert np.abs(w).max() > 0.97 * bound


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 3, 4), (5, 5)])
def test_orthogonal(shape):
    w = draw("orthogonal", shape)
    flat = w.reshape(-1, shape[-1])
    if flat.shape[0] >= flat.shape[1]:
        np.testing.assert_allclose(flat.T @ flat, np.eye(flat.shape[1]), atol=1e-12)
    else:
        np.testing.assert_allclose(flat @ flat.T, np.eye(flat.shape[0]), atol=1e-12)


def test_orthogonal_gain():
    w = ge.initializers.Orthogonal(gain=2.0, seed=1)((6, 4), "float64")
    np.testing.assert_allclose(w.T @ w, 4.0 * np.eye(4), atol=1e-12)


def test_zeros_and_ones():
    np.testing.assert_array_equal(draw("zeros", (3, 2)), np.zeros((3, 2)))
    np.testing.assert_array_equal(draw("ones", (4,)), np.ones(4))
    assert draw("ones", (2, 2), dtype="float32").dtype == np.float32


def test_random_normal_default_is_keras3():
    w = draw("random_normal")
    assert_std(w, 0.05)


def test_random_uniform_default_is_keras3():
    w = draw("random_uniform")
    assert w.min() >= -0.05 and w.max() <= 0.05
    assert w.min() < -0.0495 and w.max() > 0.0495
    assert_std(w, 0.05 / math.sqrt(3.0))


def test_dense_default_initializers():
    ge.utils.set_random_seed(11)
    dense = L.Dense(200, dtype="float64")
    dense(np.zeros((1, 300)))
    kernel, bias = dense.get_weights()
    limit = math.sqrt(6.0 / 500)
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.99 * limit
    np.testing.assert_array_equal(bias, 0.0)


def test_initializer_by_class_and_config():
    dense = L.Dense(
        3,
        kernel_initializer=ge.initializers.RandomNormal(mean=1.0, stddev=0.0),
        bias_initializer="ones",
    )
    dense(np.zeros((1, 4)))
    np.testing.assert_array_equal(dense.get_weights()[0], np.ones((4, 3)))
    np.testing.assert_array_equal(dense.get_weights()[1], np.ones(3))


def test_seeded_initializer_repeats_and_seeds_differ():
    a = ge.initializers.GlorotUniform(seed=3)((5, 4))
    b = ge.initializers.GlorotUniform(seed=3)((5, 4))
    c = ge.initializers.GlorotUniform(seed=4)((5, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_set_random_seed_makes_weights_reproducible():
    def weights(seed):
        ge.utils.set_random_seed(seed)
        dense = L.Dense(3)
        dense(np.zeros((1, 4)))
        emb = L.Embedding(6, 2)
        emb(np.zeros((1, 1), dtype="int32"))
        return dense.get_weights() + emb.get_weights()

    first, again, other = weights(7), weights(7), weights(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])
    assert not np.allclose(first[2], other[2])


# -- regularizers --------------------------------------------------------------------------------
def built_dense(**kwargs):
    dense = L.Dense(3, dtype="float64", **kwargs)
    dense(np.zeros((1, 4)))
    dense.set_weights(
        [np.arange(-6, 6, dtype=float).reshape(4, 3) / 4.0, np.array([0.5, -1.0, 2.0])]
    )
    return dense


def test_no_regularizer_no_losses():
    assert built_dense().losses == []


@pytest.mark.parametrize(
    "reg,penalty",
    [
        ("l1", lambda w: 0.01 * np.abs(w).sum()),
        ("l2", lambda w: 0.01 * (w**2).sum()),
        (ge.regularizers.L1(0.3), lambda w: 0.3 * np.abs(w).sum()),
        (ge.regularizers.L2(0.2), lambda w: 0.2 * (w**2).sum()),
        (
            ge.regularizers.L1L2(l1=0.01, l2=0.02),
            lambda w: 0.01 * np.abs(w).sum() + 0.02 * (w**2).sum(),
        ),
    ],
    ids=["l1_string", "l2_string", "L1", "L2", "L1L2"],
)
def test_kernel_regularizer_values(reg, penalty):
    dense = built_dense(kernel_regularizer=reg)
    kernel = dense.get_weights()[0]
    assert len(dense.losses) == 1
    np.testing.assert_allclose(float(dense.losses[0]), penalty(kernel), rtol=1e-12)


def test_kernel_and_bias_regularizers():
    dense = built_dense(
        kernel_regularizer=ge.regularizers.L2(0.1), bias_regularizer=ge.regularizers.L1(0.5)
    )
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(
        dense.losses, [0.1 * (kernel**2).sum(), 0.5 * np.abs(bias).sum()], rtol=1e-12
    )
    dense.set_weights([2 * kernel, bias])  # losses follow the current weights
    np.testing.assert_allclose(dense.losses[0], 0.4 * (kernel**2).sum(), rtol=1e-12)


def test_keras_lowercase_regularizer_aliases():
    # Keras exports l1, l2 and l1_l2 as callables: kernel_regularizer=keras.regularizers.l2(1e-4)
    for alias, cls in (("l1", "L1"), ("l2", "L2"), ("l1_l2", "L1L2")):
        assert getattr(ge.regularizers, alias, None) is getattr(ge.regularizers, cls), (
            f"ge.regularizers.{alias} is missing (Keras: keras.regularizers.{alias} = {cls})"
        )
    dense = built_dense(kernel_regularizer=ge.regularizers.l1_l2(l1=0.1, l2=0.2))
    kernel = dense.get_weights()[0]
    want = 0.1 * np.abs(kernel).sum() + 0.2 * (kernel**2).sum()
    np.testing.assert_allclose(dense.losses, [want])


def test_embedding_and_prelu_regularizers():
    emb = L.Embedding(4, 2, embeddings_regularizer="l2", dtype="float64")
    emb(np.zeros((1, 1), dtype="int32"))
    table = emb.get_weights()[0]
    np.testing.assert_allclose(emb.losses, [0.01 * (table**2).sum()], rtol=1e-12)
    prelu = L.PReLU(
        alpha_regularizer=ge.regularizers.L1(2.0), alpha_initializer="ones", dtype="float64"
    )
    prelu(np.zeros((1, 3)))
    np.testing.assert_allclose(prelu.losses, [6.0], rtol=1e-12)


def test_regularizer_config_round_trip():
    dense = built_dense(kernel_regularizer=ge.regularizers.L1L2(l1=0.01, l2=0.02))
    clone = L.Dense.from_config(dense.get_config())
    clone(np.zeros((1, 4)))
    clone.set_weights(dense.get_weights())
    np.testing.assert_allclose(clone.losses, dense.losses, rtol=1e-12)
    assert re.search("L1L2", str(dense.get_config()["kernel_regularizer"]))
