"""Plan-time fusion (graphengine/runtime/fusion.py): BatchNormalization -> ReLU runs as one op
forward and, in training, one backward op, with exactly the numbers of the unfused pair."""

import numpy as np
import pytest

import graphengine as ge

L = ge.layers


def _model(fused: bool, channels_last_4d: bool = True) -> ge.Model:
    """Conv -> BN -> ReLU -> Dense -> BN -> ReLU -> logits; `fused=False` spells the ReLU with a
    cap no value reaches (max_value=1e30), which the fusion leaves alone: the same numbers
    through the unfused ops."""
    ge.utils.set_random_seed(3)
    relu = (lambda: L.ReLU()) if fused else (lambda: L.ReLU(max_value=1e30))
    x = ge.Input(shape=(6, 6, 2) if channels_last_4d else (5,))
    h = L.Conv2D(4, 3, use_bias=False)(x) if channels_last_4d else L.Dense(4)(x)
    h = relu()(L.BatchNormalization()(h))
    h = L.Flatten()(h) if channels_last_4d else h
    h = relu()(L.BatchNormalization(axis=-1)(L.Dense(6)(h)))
    model = ge.Model(x, L.Dense(3)(h))
    model.compile(
        optimizer=ge.optimizers.SGD(0.1),
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _plan_ops(model: ge.Model) -> list[str]:
    plan = max(model._plans.plans(), key=lambda p: len(p.steps))
    return [getattr(s.run, "__self__", None).name for s in plan.steps if hasattr(s.run, "__self__")]


@pytest.mark.parametrize("conv", [True, False], ids=["nhwc", "rows"])
def test_fused_pairs_give_the_same_bits(conv):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 6, 6, 2) if conv else (8, 5)).astype(np.float32)
    x[0, 0] = np.nan  # NaN rows and inf propagate as through the separate ops
    x[1, 1] = np.inf
    y, cot = rng.integers(0, 3, 8), rng.standard_normal((8, 3)).astype(np.float32)
    runs = {}
    for fused in (True, False):
        model = _model(fused, conv)
        losses = [model.train_on_batch(x[2:], y[2:]) for _ in range(3)]
        runs[fused] = [model.predict(x, verbose=0), *model.vjp(x, cot, training=True)[1]]
        runs[fused] += [np.array(losses)] + model.get_weights()
        if fused:
            ops = _plan_ops(model)
            assert ops.count("batch_norm_relu") == 2 and ops.count("batch_norm_relu_grad") == 2
            assert "relu" not in ops and "relu_grad" not in ops
    for a, b in zip(runs[True], runs[False]):
        np.testing.assert_array_equal(a, b)
    assert np.isnan(runs[True][0][0]).all() and np.isfinite(runs[True][0][2:]).all()


def test_a_batch_norm_output_read_elsewhere_is_not_fused():
    x = ge.Input(shape=(4,))
    y = L.BatchNormalization()(L.Dense(4)(x))
    model = ge.Model(x, L.Add()([y, L.ReLU()(y)]))  # y itself is read by Add
    model.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    model.train_on_batch(data, data)
    ops = _plan_ops(model)
    assert "batch_norm" in ops and "relu" in ops and "batch_norm_relu" not in ops
    model.summary(print_fn=lambda *_: None)  # the graph itself keeps its nodes
    assert any(n.op.name == "relu" for n in model._forward_order)


def test_channels_first_batch_norm_fuses_with_the_same_bits():
    """axis=1 of (N, C, H, W): the kernels' strided (outer, C, inner) path, not the rows'."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    runs, fused_ops = [], None
    for relu in (L.ReLU(), L.ReLU(max_value=1e30)):
        ge.utils.set_random_seed(5)
        inp = ge.Input(shape=(4, 3, 3))
        h = L.Flatten()(relu(L.BatchNormalization(axis=1)(inp)))
        model = ge.Model(inp, L.Dense(3)(h))
        model.compile(
            optimizer=ge.optimizers.SGD(0.1),
            loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        losses = [model.train_on_batch(x, y) for _ in range(2)]
        runs.append([np.array(losses), model.predict(x, verbose=0), *model.get_weights()])
        fused_ops = fused_ops or _plan_ops(model)
    assert "batch_norm_relu_grad" in fused_ops and "relu_grad" not in fused_ops
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
