"""Compiled plans are lent to one caller at a time (threads calling one model get the serial
answers), the cache of them is bounded, and predict never hands out rows it did not compute."""

import threading

import numpy as np
import pytest

import graphengine as ge
from graphengine.runtime.cache import PLAN_CACHE_SIZE, PlanCache


def _mlp() -> ge.Model:
    x = ge.Input((16,))
    h = ge.layers.Dense(256, activation="relu")(x)  # BLAS time without the GIL: calls overlap
    return ge.Model(x, ge.layers.Dense(10, activation="softmax")(h))


def _in_threads(work, n_threads: int) -> list:
    """Runs work(i) in n threads released together; returns each thread's result."""
    results: list = [None] * n_threads
    errors: list = []
    start = threading.Barrier(n_threads)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as e:  # noqa: B036 -- reported on the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("call", ["predict", "call", "predict_on_batch"])
def test_threads_calling_one_model_get_the_serial_answers(call):
    model = _mlp()
    rng = np.random.default_rng(0)
    data = [rng.normal(size=(64, 16)).astype(np.float32) for _ in range(4)]
    fns = {
        "predict": lambda d: model.predict(d, batch_size=32, verbose=0),
        "call": model,
        "predict_on_batch": model.predict_on_batch,
    }
    fn = fns[call]
    serial = [fn(d) for d in data]

    def work(i: int) -> int:
        return sum(not np.array_equal(fn(data[i]), serial[i]) for _ in range(40))

    assert _in_threads(work, 4) == [0, 0, 0, 0]
    assert all(len(idle) <= 4 for idle in model._plans._idle.values())  # one per caller at most


def test_threads_taking_gradients_get_the_serial_answers():
    model = _mlp()
    rng = np.random.default_rng(1)
    data = [rng.normal(size=(32, 16)).astype(np.float32) for _ in range(3)]
    cot = np.ones((32, 10), np.float32)
    serial = [model.vjp(d, cot) for d in data]

    def work(i: int) -> bool:
        for _ in range(40):
            dx, dw = model.vjp(data[i], cot)
            expected_dx, expected_dw = serial[i]
            if not np.array_equal(dx[0], expected_dx[0]) or not all(
                np.array_equal(a, b) for a, b in zip(dw, expected_dw)
            ):
                return False
        return True

    assert _in_threads(work, 3) == [True] * 3


def test_plan_cache_lends_a_plan_to_one_caller_and_drops_the_least_recent_key():
    built = []

    def build(name):
        return lambda: built.append(name) or name

    cache = PlanCache(size=2)
    plan_a, idle_a = cache.take("a", build("a1"))
    plan_a2, idle_a2 = cache.take("a", build("a2"))  # "a1" is lent out: a second plan
    assert (plan_a, plan_a2) == ("a1", "a2") and idle_a is idle_a2
    cache.give(plan_a, idle_a)
    cache.give(plan_a2, idle_a2)
    assert cache.take("a", build("a3"))[0] == "a2" and built == ["a1", "a2"]
    with cache.lend("b", build("b1")):
        pass
    with cache.lend("c", build("c1")):  # "a" was taken least recently: dropped
        pass
    assert len(cache) == 2 and sorted(cache.plans()) == ["b1", "c1"]
    cache.give("a2", idle_a)  # comes back to a dropped key: not kept
    assert "a2" not in cache.plans()


def test_a_recompile_drops_plans_that_were_lent_out():
    """A plan taken before a recompile goes with the old cache: nothing later runs it."""
    model = _mlp()
    x = np.ones((4, 16), np.float32)
    model(x)
    ((key, idle),) = model._plans._idle.items()
    plan, home = model._plans.take(key, lambda: None)
    model.compile(loss="mse")
    model._plans.give(plan, home)
    assert plan not in model._plans.plans()


def test_the_plan_cache_is_bounded_over_many_batch_sizes():
    """A server fed many request sizes keeps at most PLAN_CACHE_SIZE plans (one per size while
    calls do not overlap), not one per size ever seen."""
    model = _mlp()
    rng = np.random.default_rng(2)
    sizes = range(1, PLAN_CACHE_SIZE + 40)
    for n in sizes:
        x = rng.normal(size=(n, 16)).astype(np.float32)
        np.testing.assert_array_equal(model(x), model.predict(x, batch_size=n, verbose=0))
    assert len(model._plans) == PLAN_CACHE_SIZE
    assert len(model._plans.plans()) == PLAN_CACHE_SIZE
    kept = {plan.feed_buffers[0].shape[0] for plan in model._plans.plans()}
    assert kept == set(sizes[-PLAN_CACHE_SIZE:])  # the most recent ones


def test_the_plan_cache_is_bounded_for_sequence_lengths():
    model = ge.Sequential([ge.Input((None, 3)), ge.layers.LSTM(4)])
    for t in range(1, PLAN_CACHE_SIZE + 10):
        model(np.ones((2, t, 3), np.float32))
    assert len(model._plans.plans()) == PLAN_CACHE_SIZE


def test_predict_joins_batches_whose_rows_are_samples_and_equals_the_call():
    model = _mlp()
    x = np.random.default_rng(3).normal(size=(37, 16)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0), model(x), rtol=1e-6)


def test_predict_refuses_outputs_whose_rows_are_not_samples():
    """Such an output's batches cannot be joined into the whole input's answer; predict used to
    return np.empty rows for it."""
    x = ge.Input((4,))
    model = ge.Model(x, ge.ops.reshape(x, (-1, 8)))
    data = np.arange(10 * 4, dtype=np.float32).reshape(10, 4)
    with pytest.raises(ValueError, match=r"output 0 .* has shape \(2, 8\) for a batch of 4 "):
        model.predict(data, batch_size=4, verbose=0)
    # one batch is the whole input: the same as the eager call
    np.testing.assert_array_equal(model.predict(data, batch_size=10, verbose=0), model(data))
    np.testing.assert_array_equal(model(data), data.reshape(-1, 8))
    drop = ge.Sequential([ge.Input((4,)), ge.layers.Lambda(lambda a: a[::2])])
    with pytest.raises(ValueError, match=r"pass batch_size >= 10"):
        drop.predict(data, batch_size=3, verbose=0)
    np.testing.assert_array_equal(drop.predict(data, verbose=0), data[::2])
