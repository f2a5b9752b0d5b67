"""Views in a plan (reshape, squeeze, expand_dims: no step, the source's buffer reshaped): a view
of a feed, of a target or of an intermediate keeps its root's buffer from being reused while
the view is read. Checked by the buffers' overlaps, by values against NumPy, and against the
same plan with no reuse at all."""

import math

import numpy as np
import pytest

import graphengine as ge
from graphengine.graph.topo import last_uses
from graphengine.runtime.memory import BufferPool

ops = ge.ops
LR = 0.1


def assert_no_live_buffer_overwritten(plan):
    """No step writes memory that another tensor still to be read (or held: a feed, a target)
    lives in, views included."""
    last = last_uses(plan.order)
    held = set(plan.feeds) | set(plan.targets)
    born = {t: -1 for t in plan.feeds}
    for i, node in enumerate(plan.order):
        born.update((t, i) for t in node.outputs)
    end = {t: math.inf if t in held else last.get(t, i) for t, i in born.items()}
    for i, node in enumerate(plan.order):
        shapes = [plan.specs[t][0] for t in node.inputs], plan.specs[node.outputs[0]][0]
        view = node.op.is_view(*shapes, plan.ctx.training)
        for out in node.outputs[1:] if view else node.outputs:
            live = [t for t in born if t is not out and born[t] <= i <= end[t]]
            clash = [
                t.name for t in live if np.may_share_memory(plan.buffers[t], plan.buffers[out])
            ]
            assert not clash, f"step {i} ({node.op.name}) writes {out.name} over live {clash}"


def _loss_cases():
    """name -> (units, loss on symbolic tensors, the same loss in NumPy)."""
    sq = np.square
    return {
        "reshape": (
            2,
            lambda t, p: ops.mean(ops.square(ops.reshape(p, (-1,)) - ops.reshape(t, (-1,)))),
            lambda t, p: np.mean(sq(p.reshape(-1) - t.reshape(-1))),
        ),
        "squeeze": (
            1,
            lambda t, p: ops.mean(ops.square(ops.squeeze(p, -1) - ops.squeeze(t, -1))),
            lambda t, p: np.mean(sq(p[:, 0] - t[:, 0])),
        ),
        "expand_dims": (  # every output against every target: a (N, 2, 2) difference
            2,
            lambda t, p: ops.mean(ops.square(ops.expand_dims(p, 2) - ops.expand_dims(t, 1))),
            lambda t, p: np.mean(sq(p[:, :, None] - t[:, None, :])),
        ),
        "getitem": (
            3,
            lambda t, p: ops.mean(ops.square(p[:, 0] - t[:, 1])) + ops.mean(p[:, 1:] * t[:, :2]),
            lambda t, p: np.mean(sq(p[:, 0] - t[:, 1])) + np.mean(p[:, 1:] * t[:, :2]),
        ),
        "view_of_view": (
            2,
            lambda t, p: ops.mean(
                ops.square(ops.reshape(ops.expand_dims(p, 1), (-1,)) - ops.reshape(t, (-1, 1)))
            ),
            lambda t, p: np.mean(sq(p.reshape(-1) - t.reshape(-1, 1))),
        ),
    }


CASES = _loss_cases()


def _data(units):
    rng = np.random.default_rng(1)
    return rng.standard_normal((6, 3)), rng.standard_normal((6, units))


def _model(units, loss):
    ge.utils.set_random_seed(0)
    x = ge.Input((3,), dtype="float64")
    model = ge.Model(x, ge.layers.Dense(units, dtype="float64")(x))
    model.compile(optimizer=ge.optimizers.SGD(learning_rate=LR), loss=loss, metrics=["mae"])
    return model


def _numeric_grad(f, p, eps=1e-6):
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (f(up) - f(down)) / (2 * eps)
    return g


@pytest.mark.parametrize("name", CASES)
def test_a_view_of_the_output_and_target_in_a_custom_loss_trains_as_numpy(name):
    units, loss, np_loss = CASES[name]
    x, y = _data(units)
    model = _model(units, loss)
    w, b = model.get_weights()
    logs = model.train_on_batch(x, y, return_dict=True)
    pred = x @ w + b
    np.testing.assert_allclose(logs["loss"], np_loss(y, pred), rtol=1e-12)
    # metrics report in float32, Keras's floatx, whatever the model's dtype
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(pred - y)), rtol=1e-6)
    # one SGD step on the gradient of the NumPy loss with respect to the predictions
    g = _numeric_grad(lambda p: np_loss(y, p), pred)
    w1, b1 = model.get_weights()
    np.testing.assert_allclose(w1, w - LR * x.T @ g, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(b1, b - LR * g.sum(0), rtol=1e-7, atol=1e-9)
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(evaluated["loss"], np_loss(y, x @ w1 + b1), rtol=1e-12)
    plans = model._plans.plans()
    assert len(plans) == 2  # training and evaluation
    for plan in plans:
        assert_no_live_buffer_overwritten(plan)


@pytest.mark.parametrize("name", CASES)
def test_a_view_in_a_loss_gives_the_bits_of_a_plan_that_reuses_nothing(name, monkeypatch):
    units, loss, _ = CASES[name]
    x, y = _data(units)

    def train():
        model = _model(units, loss)
        losses = [model.train_on_batch(x, y) for _ in range(3)]
        return losses, model.get_weights()

    losses, weights = train()
    monkeypatch.setattr(BufferPool, "give", lambda self, buffer: None)
    losses_alone, weights_alone = train()
    np.testing.assert_array_equal(losses, losses_alone)
    for a, b in zip(weights, weights_alone):
        np.testing.assert_array_equal(a, b)


def test_outputs_that_are_views_of_an_output_and_of_an_input():
    x = ge.Input((4,), dtype="float64")
    h = ge.layers.Dense(6, dtype="float64")(x)
    y = ops.tanh(h)
    outs = [
        y,
        ops.reshape(y, (-1, 2, 3)),
        ops.squeeze(ops.expand_dims(y, 1), 1),
        ops.reshape(x, (-1, 2, 2)),
    ]
    model = ge.Model(x, outs)
    a = np.random.default_rng(0).standard_normal((5, 4))
    w, b = model.get_weights()
    ref = np.tanh(a @ w + b)
    got = model.predict(a, verbose=0)
    for g, r in zip(got, [ref, ref.reshape(-1, 2, 3), ref, a.reshape(-1, 2, 2)]):
        np.testing.assert_allclose(g, r, rtol=1e-12)
    (plan,) = model._plans.plans()
    assert_no_live_buffer_overwritten(plan)


def test_a_view_read_long_after_its_source_dies_keeps_the_buffer():
    """v = reshape(h) is read last; h dies early, and many buffers are taken and freed between:
    none may land in h's block while v is still to be read."""
    x = ge.Input((4,), dtype="float64")
    h = ops.exp(x)
    v = ops.reshape(h, (-1, 2, 2))
    z = x
    for _ in range(6):
        z = ops.tanh(z) * 1.5 + z
    out = ops.reshape(v, (-1, 4)) * z
    model = ge.Model(x, out)
    a = np.random.default_rng(2).standard_normal((3, 4))
    zz = a
    for _ in range(6):
        zz = np.tanh(zz) * 1.5 + zz
    np.testing.assert_allclose(model.predict(a, verbose=0), np.exp(a) * zz, rtol=1e-12)
    (plan,) = model._plans.plans()
    assert_no_live_buffer_overwritten(plan)
