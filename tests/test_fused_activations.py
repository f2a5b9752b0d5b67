"""The one table of fused activations (kernels/activation_codes.py): layers fuse exactly what it
says, ops refuse what it does not list with a named error, and the bias family's kernels take
every listed activation (linear included) as the standalone one. The bit-for-bit comparisons of
fused and standalone activations, CPU and CUDA, are test_nonfinite.py's (its FUSED is this
table's bias list)."""

import networkx as nx
import numpy as np
import pytest

import graphengine as ge
import graphengine_kernels.cpu as cpu
from graphengine.ops import activations
from graphengine.ops.conv import Conv
from graphengine.ops.matmul import Dense
from graphengine.ops.recurrent import RecurrentSequence
from graphengine_kernels import activation_codes as table
from helpers import import_graph


def producer(tensor, kind):
    """The nearest op of type `kind` that `tensor` was computed from, or None."""
    stack = [tensor]
    while stack:
        node = getattr(stack.pop(), "node", None)
        if node is None:
            continue
        if isinstance(node.op, kind):
            return node.op
        stack.extend(node.inputs)
    return None


def test_the_table_names_codes_and_places():
    codes = [code for code, _ in table.FUSED.values()]
    assert len(set(codes)) == len(codes), "two activations share a code"
    for name, (code, places) in table.FUSED.items():
        assert activations.get(name) is activations.ACTIVATIONS[name]
        assert places and set(places) <= set(table.WHERE), name
        for where in table.WHERE:
            assert table.fuses(name, where) == (where in places)
            assert table.codes(where).get(name, code) == code
    for where in table.WHERE:  # layers fall back to a linear fused op plus the activation
        assert table.codes(where)["linear"] == table.LINEAR
    assert not table.fuses("hard_sigmoid", table.BIAS) and not table.fuses("elu", table.RECURRENT)


def test_an_unknown_place_is_a_named_error():
    with pytest.raises(ValueError, match=r"fused activations: where='gates' is not one of bias"):
        table.fuses("relu", "gates")
    with pytest.raises(ValueError, match=r"where='conv' is not one of bias, recurrent"):
        activations.fused_name("relu", "conv")


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_dense_and_conv_fuse_what_the_table_lists(name):
    fused = table.fuses(name, table.BIAS)
    x = ge.Input(shape=(4,))
    op = producer(ge.layers.Dense(4, activation=name)(x), Dense)  # even: glu halves it
    assert op.activation == (name if fused else "linear")
    img = ge.Input(shape=(3, 3, 1))
    op = producer(ge.layers.Conv2D(2, 1, activation=name)(img), Conv)
    assert op.activation == (name if fused else "linear")


@pytest.mark.parametrize("name", ["tanh", "relu", "hard_sigmoid", "linear", "elu", "softplus"])
def test_recurrent_layers_fuse_what_the_table_lists(name):
    x = ge.Input(shape=(2, 3))
    y = ge.layers.LSTM(2, activation=name)(x)
    assert (producer(y, RecurrentSequence) is not None) == table.fuses(name, table.RECURRENT)
    y = ge.layers.GRU(2, recurrent_activation=name)(x)
    assert (producer(y, RecurrentSequence) is not None) == table.fuses(name, table.RECURRENT)


@pytest.mark.parametrize("layer", ["SimpleRNN", "LSTM", "GRU"])
def test_a_registered_activation_runs_the_cell_unrolled(layer):
    """A registered custom activation serializes to a dict: the cell used to look that dict up
    in the codes' dict (TypeError: unhashable) instead of falling back to the unrolled cell."""

    @ge.utils.register_serializable(f"test_fused_activations.tanh_{layer}")
    def my_tanh(x):
        return ge.ops.tanh(x)

    x = ge.Input(shape=(3, 2))
    builtin = getattr(ge.layers, layer)(4)
    custom = getattr(ge.layers, layer)(4, activation=my_tanh)
    builtin_y, custom_y = builtin(x), custom(x)
    assert producer(builtin_y, RecurrentSequence) is not None
    assert producer(custom_y, RecurrentSequence) is None
    custom.set_weights(builtin.get_weights())
    builtin_model, custom_model = ge.Model(x, builtin_y), ge.Model(x, custom_y)
    seq = np.random.default_rng(0).uniform(-1, 1, (2, 3, 2)).astype("float32")
    np.testing.assert_allclose(
        custom_model.predict(seq, verbose=0), builtin_model.predict(seq, verbose=0), atol=1e-5
    )


def test_ops_refuse_activations_the_kernels_do_not_fuse():
    with pytest.raises(ValueError, match=r"Dense: activation 'elu' cannot be fused; valid: "):
        Dense("elu")
    with pytest.raises(ValueError, match=r"Dense: activation 'hard_sigmoid' cannot be fused"):
        Dense("hard_sigmoid")  # fuses in the recurrent gates only
    with pytest.raises(ValueError, match=r"Conv: activation 'gelu' cannot be fused; valid: "):
        Conv(2, (1, 1), "valid", (1, 1), activation="gelu")
    with pytest.raises(
        ValueError,
        match=r"lstm: activation='softplus' has no fused kernel; supported: linear, relu",
    ):
        RecurrentSequence("lstm", 4, activation="softplus")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", table.names(table.BIAS))
def test_bias_backward_kernels_take_every_listed_activation(name, dtype):
    """bias_activation_backward writes dz (for linear dz = dy; the others' bits against the
    standalone kernels are test_nonfinite's) and db, the column sums of dz, for every activation
    of the bias list; bias_backward the sums alone."""
    rng = np.random.default_rng(1)
    y = rng.uniform(-3, 3, (300, 5)).astype(dtype)  # 300 rows: two summing blocks
    cpu.bias_activation(y, None, name)
    dy = rng.standard_normal((300, 5)).astype(dtype)
    dz, db = np.full_like(y, np.nan), np.full(5, np.nan, dtype)
    cpu.bias_activation_backward(y, dy, name, dz, db)
    assert np.isfinite(dz).all() and (name != "linear" or (dz == dy).all()), name
    np.testing.assert_allclose(db, dz.sum(0, dtype="float64"), rtol=1e-5, atol=1e-5)
    dz_alone = np.full_like(y, np.nan)
    cpu.bias_activation_backward(y, dy, name, dz_alone, None)
    np.testing.assert_array_equal(dz_alone, dz)
    sums = np.full(5, np.nan, dtype)
    cpu.bias_backward(dy.reshape(20, 15, 5), sums)
    np.testing.assert_allclose(sums, dy.sum(0, dtype="float64"), rtol=1e-5, atol=1e-5)


def test_the_bias_family_breaks_the_cuda_import_circles():
    """Dense's bias pass lived in conv.py, which takes the GEMM from matmul.py (matmul <-> conv);
    shape.sum_to and reduce.broadcast_scaled imported each other's modules (shape <-> reduce)."""
    circles = [set(c) for c in nx.simple_cycles(import_graph())]
    for a, b in [("conv", "matmul"), ("reduce", "shape"), ("bias", "matmul"), ("bias", "reduce")]:
        pair = {f"graphengine_kernels.cuda.{a}", f"graphengine_kernels.cuda.{b}"}
        assert not [c for c in circles if pair <= c], pair
