"""Optimizers against update rules written out in NumPy (every option), against Keras 3
trajectories (tests/keras_reference/optimizers.*), and their config, state and error paths."""

import json
import math
import os
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

import graphengine_kernels.cpu
from graphengine.graph.tensor import Variable
from graphengine.training import optimizers
from graphengine.training.optimizers import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    RMSprop,
    schedules,
)

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "optimizers.json")) as f:
    KERAS_CASES = json.load(f)

SHAPES = [(3,), (2, 2)]
STEPS = 6
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001, "adagrad": 0.001}


def problem(seed=0, dtype="float64", scales=(1.0, 0.3, 2.0, 0.05, 1.5, 0.7)):
    """Initial weights (magnitudes in [1, 2]) and one gradient list per step."""
    rng = np.random.default_rng(seed)
    inits = [(rng.uniform(1, 2, s) * rng.choice([-1, 1], s)).astype(dtype) for s in SHAPES]
    grads = [[(rng.normal(size=s) * c).astype(dtype) for s in SHAPES] for c in scales]
    return inits, grads


# -- the update rules, written out plainly ----------------------------------------------------


def numpy_reference(name, kwargs, inits, grads, set_lr=None):
    """Keras 3's update rules in float64 NumPy; returns the weights after every step."""
    kw = dict(kwargs)
    lr_arg = kw.pop("learning_rate", kw.pop("lr", DEFAULT_LR[name]))
    decay = kw.pop("decay", 0.0)
    wd = kw.pop("weight_decay", 0.004 if name == "adamw" else None)
    clipnorm, clipvalue = kw.pop("clipnorm", None), kw.pop("clipvalue", None)
    global_clipnorm = kw.pop("global_clipnorm", None)
    momentum = kw.pop("momentum", 0.0)
    nesterov, centered, amsgrad = (kw.pop(k, False) for k in ("nesterov", "centered", "amsgrad"))
    beta_1, beta_2, rho = kw.pop("beta_1", 0.9), kw.pop("beta_2", 0.999), kw.pop("rho", 0.9)
    eps = kw.pop("epsilon", 1e-7)
    acc0 = kw.pop("initial_accumulator_value", 0.1)
    assert not kw, kw

    ws = [w.astype("float64") for w in inits]
    m = [np.zeros_like(w) for w in ws]  # momentum / first moment
    v = [np.zeros_like(w) for w in ws]  # velocity / second moment
    v_hat = [np.zeros_like(w) for w in ws]
    avg = [np.zeros_like(w) for w in ws]
    acc = [np.full_like(w, acc0) for w in ws]
    out = []
    for t, gs in enumerate(grads):
        gs = [g.astype("float64") for g in gs]
        if set_lr and t in set_lr:
            lr_arg = set_lr[t]
        if isinstance(lr_arg, schedules.ExponentialDecay):
            p = t / lr_arg.decay_steps
            p = math.floor(p) if lr_arg.staircase else p
            lr = lr_arg.initial_learning_rate * lr_arg.decay_rate**p
        else:
            lr = lr_arg
        lr = lr / (1 + decay * t)
        if clipvalue:
            gs = [np.clip(g, -clipvalue, clipvalue) for g in gs]
        if clipnorm:
            gs = [g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm) for g in gs]
        if global_clipnorm:
            norm = np.sqrt(sum(np.sum(g * g) for g in gs))
            gs = [g * global_clipnorm / max(norm, global_clipnorm) for g in gs]
        for i, g in enumerate(gs):
            w = ws[i]
            if wd is not None:
                w = w - w * wd * lr
            if name == "sgd":
                if momentum:
                    m[i] = momentum * m[i] - lr * g
                    w = w + (momentum * m[i] - lr * g if nesterov else m[i])
                else:
                    w = w - lr * g
            elif name in ("adam", "adamw"):
                m[i] = m[i] + (g - m[i]) * (1 - beta_1)
                v[i] = v[i] + (g * g - v[i]) * (1 - beta_2)
                alpha = lr * np.sqrt(1 - beta_2 ** (t + 1)) / (1 - beta_1 ** (t + 1))
                v_hat[i] = np.maximum(v_hat[i], v[i])
                second = v_hat[i] if amsgrad else v[i]
                w = w - alpha * m[i] / (np.sqrt(second) + eps)
            elif name == "rmsprop":
                v[i] = rho * v[i] + (1 - rho) * g * g
                if centered:
                    avg[i] = rho * avg[i] + (1 - rho) * g
                    increment = lr * g / np.sqrt(v[i] - avg[i] ** 2 + eps)
                else:
                    increment = lr * g / np.sqrt(v[i] + eps)
                if momentum > 0:
                    m[i] = momentum * m[i] + increment
                    w = w - m[i]
                else:
                    w = w - increment
            elif name == "adagrad":
                acc[i] = acc[i] + g * g
                w = w - lr * g / np.sqrt(acc[i] + eps)
            ws[i] = w
        out.append([w.copy() for w in ws])
    return out


def run_ours(opt, inits, grads, set_lr=None, as_variables=False):
    ws = [w.copy() for w in inits]
    targets = [Variable(w, f"w{j}") for j, w in enumerate(ws)] if as_variables else ws
    out = []
    for t, gs in enumerate(grads):
        if set_lr and t in set_lr:
            opt.learning_rate = set_lr[t]
        opt.apply([g.copy() for g in gs], targets)
        out.append([(x.value if as_variables else x).copy() for x in targets])
    return out


def exp_decay(**kw):
    return schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5, **kw)


REFERENCE_CASES = [
    ("sgd", {}),
    ("sgd", {"learning_rate": 0.1}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}),
    ("sgd", {"learning_rate": 0.1, "weight_decay": 0.3}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.5, "clipnorm": 0.8}),
    ("sgd", {"learning_rate": 0.1, "clipvalue": 0.5}),
    ("sgd", {"learning_rate": 0.1, "global_clipnorm": 1.2}),
    ("sgd", {"learning_rate": 0.1, "decay": 0.5}),
    ("sgd", {"lr": 0.2, "momentum": 0.9, "decay": 0.1}),
    ("sgd", {"learning_rate": exp_decay(), "momentum": 0.9}),
    ("adam", {}),
    ("adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("adam", {"learning_rate": 0.01, "beta_1": 0.7, "beta_2": 0.9, "epsilon": 0.05}),
    ("adam", {"learning_rate": 0.01, "weight_decay": 0.1, "clipnorm": 0.5}),
    ("adam", {"lr": 0.02, "decay": 0.3, "amsgrad": True}),
    ("adam", {"learning_rate": exp_decay(staircase=True), "global_clipnorm": 0.6}),
    ("adamw", {}),
    ("adamw", {"learning_rate": 0.01, "weight_decay": 0.2, "amsgrad": True}),
    ("adamw", {"learning_rate": 0.01, "clipvalue": 0.3, "decay": 0.2}),
    ("rmsprop", {}),
    ("rmsprop", {"learning_rate": 0.01, "rho": 0.5}),
    ("rmsprop", {"learning_rate": 0.01, "momentum": 0.7}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True, "epsilon": 1e-3}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "rho": 0.8}),
    ("rmsprop", {"lr": 0.01, "decay": 0.5, "weight_decay": 0.1, "clipnorm": 0.4}),
    ("adagrad", {}),
    ("adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "epsilon": 1e-3}),
    ("adagrad", {"learning_rate": 0.1, "weight_decay": 0.05, "global_clipnorm": 0.9}),
    ("adagrad", {"learning_rate": exp_decay(), "decay": 0.1, "clipvalue": 0.2}),
]


def case_id(case):
    name, kw = case
    show = {
        k: ("schedule" if isinstance(v, schedules.LearningRateSchedule) else v)
        for k, v in kw.items()
    }
    parts = [f"{k}={v}" for k, v in show.items()]
    return f"{name}[{','.join(parts)}]"


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=case_id)
def test_matches_numpy_reference(case):
    name, kwargs = case
    inits, grads = problem(seed=REFERENCE_CASES.index(case))
    expected = numpy_reference(name, kwargs, inits, grads)
    got = run_ours(optimizers.ALL[name](**kwargs), inits, grads)
    for t in range(STEPS):
        for j in range(len(SHAPES)):
            np.testing.assert_allclose(got[t][j], expected[t][j], rtol=1e-12, err_msg=f"step {t}")


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad"])
def test_learning_rate_set_between_steps(name):
    inits, grads = problem(seed=3)
    set_lr = {2: 0.05, 4: 0.001}
    kwargs = {"learning_rate": 0.02, "momentum": 0.5} if name in ("sgd", "rmsprop") else {}
    expected = numpy_reference(name, kwargs, inits, grads, set_lr)
    got = run_ours(optimizers.ALL[name](**kwargs), inits, grads, set_lr)
    np.testing.assert_allclose(got[-1][1], expected[-1][1], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(DEFAULT_LR))
def test_float32_variables_stay_float32_and_track_reference(name):
    inits, grads = problem(seed=5, dtype="float32")
    got = run_ours(optimizers.get(name), inits, grads, as_variables=True)
    expected = numpy_reference(name, {}, inits, grads)
    assert got[-1][0].dtype == np.float32
    np.testing.assert_allclose(got[-1][1], expected[-1][1], rtol=1e-6)


def test_legacy_decay_is_time_decay_from_the_iteration_count_before_the_step():
    w = np.zeros(1)
    opt = SGD(learning_rate=0.3, decay=0.5)
    for t in range(4):
        before = w.copy()
        opt.apply([np.ones(1)], [w])
        np.testing.assert_allclose(before - w, 0.3 / (1 + 0.5 * t), rtol=1e-15)
    assert opt.learning_rate == 0.3 and opt.iterations == 4


def test_exponential_decay_formula():
    s = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    assert s(0) == 0.1 and s(4) == pytest.approx(0.05) and s(2) == pytest.approx(0.1 * 0.5**0.5)
    s = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True)
    assert s(3) == 0.1 and s(5) == pytest.approx(0.05)
    opt = SGD(learning_rate=s)
    opt.iterations = 8
    assert opt.learning_rate == pytest.approx(0.025)


# -- against Keras 3 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_arrays():
    with np.load(os.path.join(REF, "optimizers.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c["id"])
def test_matches_keras(case, keras_arrays):
    cid = case["id"]
    kwargs = dict(case["kwargs"])
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = schedules.deserialize(kwargs["learning_rate"])
    opt = getattr(optimizers, case["optimizer"])(**kwargs)
    ws = [keras_arrays[f"{cid}/w{j}"].copy() for j in range(len(SHAPES))]
    if case["dtype"] == "float32":
        rtol = 1e-6
    elif any(k in kwargs for k in ("clipnorm", "global_clipnorm")):
        rtol = 1e-7  # Keras on torch rounds the clipping threshold to float32 in ops.maximum
    else:
        rtol = 1e-12
    for t in range(len(keras_arrays[f"{cid}/g0"])):
        if str(t) in case["set_lr"]:
            opt.learning_rate = case["set_lr"][str(t)]
        opt.apply([keras_arrays[f"{cid}/g{j}"][t].copy() for j in range(len(ws))], ws)
        for j, w in enumerate(ws):
            assert w.dtype == case["dtype"]
            np.testing.assert_allclose(
                w, keras_arrays[f"{cid}/traj{j}"][t], rtol=rtol, err_msg=f"{cid} step {t}"
            )


# -- state, config and the kernel seam ---------------------------------------------------------

CONFIGURED = [
    SGD(learning_rate=0.1, momentum=0.9, nesterov=True, clipvalue=0.5, decay=0.01),
    Adam(learning_rate=exp_decay(staircase=True), amsgrad=True, weight_decay=0.01),
    AdamW(weight_decay=0.1, beta_1=0.8, global_clipnorm=2.0),
    RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True, clipnorm=1.0),
    Adagrad(learning_rate=0.05, initial_accumulator_value=0.2, epsilon=1e-3),
]


@pytest.mark.parametrize("opt", CONFIGURED, ids=lambda o: type(o).__name__)
def test_config_round_trip_gives_the_same_steps(opt):
    config = json.loads(json.dumps(optimizers.serialize(opt)))  # plain JSON, no objects
    clone = optimizers.get(config)
    assert type(clone) is type(opt) and clone.get_config() == opt.get_config()
    inits, grads = problem(seed=7)
    first = run_ours(type(opt).from_config(opt.get_config()), inits, grads)
    np.testing.assert_array_equal(run_ours(clone, inits, grads)[-1][0], first[-1][0])


def test_variables_order_names_and_restore():
    inits, grads = problem(seed=11)
    straight = run_ours(Adam(learning_rate=0.01, amsgrad=True), inits, grads)
    opt = Adam(learning_rate=0.01, amsgrad=True)
    ws = [Variable(w.copy(), f"dense/w{j}") for j, w in enumerate(inits)]
    for gs in grads[:3]:
        opt.apply([g.copy() for g in gs], ws)
    assert opt.variable_names == [
        "iteration", "dense_w0_momentum", "dense_w0_velocity", "dense_w1_momentum",
        "dense_w1_velocity", "dense_w0_velocity_hat", "dense_w1_velocity_hat",
    ]  # fmt: skip
    saved = opt.get_weights()
    assert int(saved[0]) == 3 and [s.shape for s in saved[1:3]] == [(3,), (3,)]
    resumed = Adam(learning_rate=0.01, amsgrad=True)
    resumed.build(ws)
    resumed.set_weights(saved)
    for gs in grads[3:]:
        resumed.apply([g.copy() for g in gs], ws)
    np.testing.assert_allclose(ws[1].value, straight[-1][1], rtol=1e-15)
    with pytest.raises(ValueError, match="has 7 variables, got 6 weights"):
        resumed.set_weights(saved[:6])
    with pytest.raises(ValueError, match="'dense_w1_momentum' has shape"):
        resumed.set_weights(saved[:3] + [np.zeros(4)] + saved[4:])


def test_slots_start_as_keras_does():
    ws = [np.ones((2, 3), "float32")]
    adagrad, sgd, rms = Adagrad(), SGD(), RMSprop(momentum=0.5, centered=True)
    for opt in (adagrad, sgd, rms):
        opt.build(ws)
    np.testing.assert_array_equal(adagrad.variables[1], np.full((2, 3), 0.1, "float32"))
    assert adagrad.variables[1].dtype == np.float32
    assert len(sgd.variables) == 1  # no momentum slot without momentum, as Keras
    assert rms.variable_names == [
        "iteration",
        "variable_0_velocity",
        "variable_0_momentum",
        "variable_0_average_gradient",
    ]


def test_apply_updates_variables_in_place_and_skips_none_gradients():
    a, b = Variable(np.ones(3, "float32"), "a"), Variable(np.ones(2, "float32"), "b")
    array_a = a.value
    opt = SGD(learning_rate=0.5, weight_decay=0.1)
    opt.apply([np.ones(3, "float32"), None], [a, b])
    assert a.value is array_a
    np.testing.assert_allclose(a.value, 1 - 0.05 - 0.5)
    np.testing.assert_array_equal(b.value, 1.0)  # no gradient: no decay either, as Keras
    opt.apply([np.ones(3, "float32"), np.ones(2, "float32")])  # built: variables may be omitted
    assert opt.iterations == 2 and b.value[0] < 1


def test_build_is_idempotent_and_a_subset_can_be_updated():
    ws = [np.ones(2), np.ones(3)]
    opt = Adam()
    opt.build(ws)
    slots = opt.variables[1]
    opt.build(ws)
    assert opt.variables[1] is not None and len(opt.variables) == 5
    opt.apply([np.ones(3)], [ws[1]])
    np.testing.assert_array_equal(ws[0], 1.0)
    assert ws[1][0] < 1 and np.all(slots == 0)


def test_exclude_from_weight_decay():
    kernel, bias = Variable(np.ones(2), "kernel"), Variable(np.ones(2), "bias")
    opt = AdamW(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([np.zeros(2), np.zeros(2)], [kernel, bias])
    np.testing.assert_allclose(kernel.value, 0.95)
    np.testing.assert_array_equal(bias.value, 1.0)
    with pytest.raises(ValueError, match="must come before build"):
        opt.exclude_from_weight_decay(var_names=["kernel"])


def test_clipping_writes_into_the_gradient_buffers_and_nonfinite_norm_gives_nan():
    g = np.array([3.0, 4.0])
    SGD(clipnorm=1.0).apply([g], [np.zeros(2)])
    np.testing.assert_allclose(g, [0.6, 0.8])
    w = np.zeros(2)
    SGD(global_clipnorm=1.0).apply([np.array([np.inf, 1.0])], [w])
    assert np.all(np.isnan(w))


def test_kernels_argument_routes_every_call():
    calls = []

    def recorder(name):
        def call(*args):
            calls.append(name)
            return getattr(graphengine_kernels.cpu, name)(*args)

        return call

    names = ["adam_update", "clip_gradient_by_value", "gradient_sum_of_squares", "scale_gradient"]
    fake = SimpleNamespace(**{n: recorder(n) for n in names})
    Adam(clipvalue=0.5).apply([np.ones(3)], [np.ones(3)], kernels=fake)
    Adam(clipnorm=0.1).apply([np.ones(3)], [np.ones(3)], kernels=fake)
    assert calls == [
        "clip_gradient_by_value",
        "adam_update",
        "gradient_sum_of_squares",
        "scale_gradient",
        "adam_update",
    ]


def test_apply_allocates_no_arrays():
    n = 50_000  # 200 kB per float32 array
    ws = [np.ones(n, "float32"), np.ones(n, "float32")]
    gs = [np.full(n, 0.5, "float32"), np.full(n, -2.0, "float32")]
    opts = [
        Adam(amsgrad=True, global_clipnorm=1.0, weight_decay=0.1, decay=0.1),
        RMSprop(momentum=0.5, centered=True, clipnorm=1.0),
        Adagrad(clipvalue=0.1),
        SGD(momentum=0.9, nesterov=True, learning_rate=exp_decay()),
        Adagrad(),
    ]
    for opt in opts:
        opt.apply(gs, ws)  # build (allocates the slots) and compile
    tracemalloc.start()
    try:
        for opt in opts:
            for _ in range(3):
                opt.apply(gs, ws)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000, peak


# -- errors ------------------------------------------------------------------------------------


def test_get():
    assert isinstance(optimizers.get("ADAM"), Adam)
    assert isinstance(optimizers.get("AdamW"), AdamW)
    opt = RMSprop()
    assert optimizers.get(opt) is opt
    sgd = optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.3, "momentum": 0.1}})
    assert isinstance(sgd, SGD) and sgd.learning_rate == 0.3 and sgd.momentum == 0.1
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'; valid names: adadelta, "):
        optimizers.get("adamm")
    with pytest.raises(ValueError, match="Unknown optimizer 'Ftrl'"):
        optimizers.get({"class_name": "Ftrl", "config": {}})
    with pytest.raises(TypeError, match="Could not interpret optimizer 3"):
        optimizers.get(3)


def test_constructor_errors():
    with pytest.raises(TypeError, match="unexpected keyword argument 'momentun'.*'momentum'"):
        SGD(momentun=0.9)
    with pytest.raises(TypeError, match="Adam got an unexpected keyword argument 'nesterov'"):
        Adam(nesterov=True)
    with pytest.raises(TypeError, match="both learning_rate=0.1 and its legacy alias lr=0.2"):
        Adam(learning_rate=0.1, lr=0.2)
    with pytest.raises(TypeError, match="both learning_rate=0.01"):
        SGD(0.01, lr=0.2)  # even when equal to the default
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        RMSprop(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="got clipnorm and clipvalue"):
        SGD(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="AdamW expects weight_decay to be a float"):
        AdamW(weight_decay=None)
    with pytest.raises(ValueError, match=r"momentum to be a float in \[0, 1\], got momentum=1.5"):
        SGD(momentum=1.5)
    with pytest.raises(
        ValueError, match=r"Adam expects beta_1 to be a float in \[0, 1\), got beta_1=1"
    ):
        Adam(beta_1=1)
    with pytest.raises(ValueError, match=r"AdamW expects epsilon to be a float in \[0, inf\]"):
        AdamW(epsilon=-1.0)
    with pytest.raises(ValueError, match="legacy decay to be >= 0"):
        Adagrad(decay=-1.0)
    with pytest.raises(TypeError, match="learning_rate to be a number or a LearningRateSchedule"):
        Adam(learning_rate="fast")
    with pytest.raises(ValueError, match="decay_steps > 0, got decay_steps=0"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    opt = SGD(learning_rate=exp_decay())
    with pytest.raises(TypeError, match="cannot be set to a number"):
        opt.learning_rate = 0.1


def test_apply_errors():
    opt = SGD()
    with pytest.raises(ValueError, match="not built; call build"):
        opt.apply([np.ones(2)])
    w = np.ones(2)
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(3,\), but variable 'variable_0'"):
        opt.apply([np.ones(3)], [w])
    with pytest.raises(ValueError, match="got 2 gradients for 1 variables"):
        opt.apply([np.ones(2), np.ones(2)], [w])
    with pytest.raises(ValueError, match="no gradients provided for any variable"):
        opt.apply([None], [w])
    with pytest.raises(ValueError, match="built for other variables"):
        opt.apply([np.ones(2)], [np.ones(2)])
    with pytest.raises(TypeError, match="variable 0 has dtype int64, not a float"):
        SGD().build([np.ones(2, "int64")])
    with pytest.raises(ValueError, match="variable 0 must be a C-contiguous writeable array"):
        SGD().build([np.ones((3, 2)).T])


TINY = np.finfo(np.float32).tiny  # float32's smallest normal


def _denormal(a):
    return (a != 0) & (np.abs(a) < TINY)


@pytest.mark.parametrize("name", sorted(optimizers.ALL))
def test_states_below_the_smallest_normal_become_zero(name):
    """A quiet gradient leaves the decaying states (Adam's v, momentum) below float32's
    smallest normal; the updates run with denormals flushed to zero, as TensorFlow's CPU
    kernels, so those states become 0 instead of slowing every later step (an Adam update
    about 18x). The caller's own arithmetic keeps its denormals."""
    kwargs = {"momentum": 0.9} if name in ("sgd", "rmsprop") else {}
    opt = optimizers.ALL[name](**kwargs)
    w = Variable(np.ones(64, "float32"), "w")
    opt.build([w])
    slots = dict((n, v) for n, v in zip(opt.variable_names, opt.variables) if v.shape == (64,))
    assert slots
    for v in slots.values():
        v[:] = np.float32(3e-39)  # denormal states, as many quiet steps leave them
    for _ in range(2):
        opt.apply([np.zeros(64, "float32")], [w])
    for slot, v in slots.items():
        assert not _denormal(v).any(), slot
    assert np.isfinite(w.value).all()
    assert _denormal(np.float32(1e-38) * np.float32(0.01))  # this thread's mode is as it was


def test_a_tiny_gradient_gives_adam_no_denormal_velocity():
    """g = 1e-20 squares to 1e-40: with the flush, v stays 0 and the step is the same as
    with no velocity at all."""
    w = Variable(np.ones(8, "float32"), "w")
    opt = Adam(learning_rate=0.1)
    opt.apply([np.full(8, 1e-20, "float32")], [w])
    v = dict(zip(opt.variable_names, opt.variables))["w_velocity"]
    np.testing.assert_array_equal(v, 0.0)
    assert np.isfinite(w.value).all()
