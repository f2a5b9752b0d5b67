"""Buffer reuse by liveness: the pool's best-fit-or-grow planning, and training plans whose
footprint stays near their largest live set while giving the same results."""

import numpy as np

import graphengine as ge
from graphengine.runtime.devices import get_device
from graphengine.runtime.memory import BufferPool


def test_pool_places_buffers_whose_lives_do_not_overlap_in_the_same_memory():
    pool = BufferPool(get_device("cpu"))
    a = pool.take((10,), "float32")
    b = pool.take((2, 2), "float32")
    pool.give(a)
    c = pool.take((8,), "float32")  # a is dead: c may take its memory, b may not
    d = pool.take((3,), "float64")  # another dtype: another arena
    pool.give(b)
    pool.give(c)
    e = pool.take((5, 4), "float32")  # lives on with d
    assert pool.live_peak_bytes == pool.live_bytes == 20 * 4 + 3 * 8  # e and d
    pool.allocate()
    # largest first: e at 0; a and c (dead before e) at 0 too; b, alive beside a and c, after
    # them; every buffer on a 64-byte line (16 float32, 8 float64)
    assert pool.allocated_bytes == 32 * 4 + 8 * 8
    arrays = [pool.resolve(t) for t in (a, b, c, d, e)]
    assert [x.shape for x in arrays] == [(10,), (2, 2), (8,), (3,), (5, 4)]
    assert all(x.flags.c_contiguous and x.ctypes.data % 64 == 0 for x in arrays)
    assert np.shares_memory(arrays[0], arrays[4]) and np.shares_memory(arrays[0], arrays[2])
    assert not np.shares_memory(arrays[0], arrays[1]) and not np.shares_memory(arrays[1], arrays[2])
    assert pool.resolve(a) is arrays[0] and pool.resolve(None) is None
    view = pool.resolve(e.reshape((4, 5)))
    assert view.shape == (4, 5) and np.shares_memory(view, arrays[4])


def test_buffers_alive_at_once_never_share_memory():
    """Random schedules: any two buffers whose lives overlap get disjoint memory, and the
    arenas hold no more than one buffer of each at a time would."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        pool, alive, lives = BufferPool(get_device("cpu")), [], []
        for _ in range(60):
            if alive and rng.random() < 0.45:
                t = alive.pop(int(rng.integers(len(alive))))
                pool.give(t)
                lives[t.block][1] = pool._events
            else:
                dtype = ["float32", "int32", "float64"][int(rng.integers(3))]
                t = pool.take((int(rng.integers(1, 300)),), dtype)
                alive.append(t)
                lives.append([pool._events, None, t])
        pool.allocate()
        arrays = [pool.resolve(t) for _, _, t in lives]
        for i, (f1, l1, _) in enumerate(lives):
            for j, (f2, l2, _) in enumerate(lives[:i]):
                if f1 <= (l2 or 1e9) and f2 <= (l1 or 1e9):
                    assert not np.shares_memory(arrays[i], arrays[j])
        assert pool.allocated_bytes <= sum(a.nbytes + 64 for a in arrays)


def _cnn():
    ge.utils.set_random_seed(0)
    L = ge.layers
    x = ge.Input((16, 16, 1))
    h = L.MaxPooling2D(2)(L.Conv2D(8, 3, activation="relu")(x))
    h = L.MaxPooling2D(2)(L.Conv2D(16, 3, activation="relu")(h))
    model = ge.Model(x, L.Dense(4)(L.Dense(32, activation="relu")(L.Flatten()(h))))
    model.compile(optimizer="adam", loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _train(x, y):
    model = _cnn()
    losses = [model.train_on_batch(x, y) for _ in range(3)]
    (plan,) = model._plans.plans()
    return plan.pool, losses, model.get_weights()


def test_training_plan_stays_near_its_largest_live_set(monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 16, 16, 1), dtype=np.float32), rng.integers(0, 4, 32)
    pool, losses, weights = _train(x, y)
    assert pool.live_peak_bytes <= pool.allocated_bytes <= 1.2 * pool.live_peak_bytes
    # the same steps with a block of its own for every tensor: the same losses and weights
    monkeypatch.setattr(BufferPool, "give", lambda self, buffer: None)
    alone, losses_alone, weights_alone = _train(x, y)
    assert pool.allocated_bytes < 0.7 * alone.allocated_bytes
    np.testing.assert_array_equal(losses, losses_alone)
    for a, b in zip(weights, weights_alone):
        np.testing.assert_array_equal(a, b)


def test_an_activation_gradient_takes_its_dying_inputs_buffer(monkeypatch):
    """BiasActivationGrad's dz may take dy's buffer (Op.in_place) where dy dies at it: the
    step reads and writes one array, and training gives the numbers it gave with a buffer of its
    own."""
    from graphengine.ops.bias import BiasActivationGrad

    rng = np.random.default_rng(0)
    x, y = rng.random((32, 16, 16, 1), dtype=np.float32), rng.integers(0, 4, 32)
    model = _cnn()
    losses = [model.train_on_batch(x, y) for _ in range(3)]
    (plan,) = model._plans.plans()
    grads = [
        s for s in plan.steps if isinstance(getattr(s.run, "__self__", None), BiasActivationGrad)
    ]
    assert grads and any(s.outputs[0] is s.inputs[1] for s in grads)
    for s in grads:  # never the buffer of an input that lives on (y, read by other steps)
        assert not np.shares_memory(s.outputs[0], s.inputs[0]) or s.outputs[0] is s.inputs[0]
    monkeypatch.setattr(BiasActivationGrad, "in_place", ())
    model2 = _cnn()
    losses2 = [model2.train_on_batch(x, y) for _ in range(3)]
    (plan2,) = model2._plans.plans()
    assert plan2.pool.allocated_bytes > plan.pool.allocated_bytes
    np.testing.assert_array_equal(losses, losses2)
    for a, b in zip(model.get_weights(), model2.get_weights()):
        np.testing.assert_array_equal(a, b)
