"""Nadam, Adamax, Adadelta and Lion: Keras 3 trajectories and optimizer state
(tests/keras_reference/optimizers2.*), config and saved-model round trips, argument errors, a
training smoke check (their CUDA kernels against the CPU's: tests/cuda_parity_optimizers2.py)."""

import json
import os
import tracemalloc

import numpy as np
import pytest

import graphengine as ge
from graphengine.graph.tensor import Variable
from graphengine.training import optimizers
from graphengine.training.optimizers import Adadelta, Adamax, Lion, Nadam, schedules

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "optimizers2.json")) as f:
    KERAS_CASES = json.load(f)["optimizers"]
NEW = {"nadam": Nadam, "adamax": Adamax, "adadelta": Adadelta, "lion": Lion}


def problem(seed=0, dtype="float64", steps=5):
    """Weights (magnitudes in [1, 2]) of shapes (3,) and (2, 2) and one gradient list per step."""
    rng = np.random.default_rng(seed)
    shapes = [(3,), (2, 2)]
    inits = [(rng.uniform(1, 2, s) * rng.choice([-1, 1], s)).astype(dtype) for s in shapes]
    grads = [[rng.normal(size=s).astype(dtype) for s in shapes] for _ in range(steps)]
    return inits, grads


def run(opt, inits, grads, variables=None):
    """Steps `opt` over `grads`; the weights after every step."""
    ws = variables if variables is not None else [w.copy() for w in inits]
    out = []
    for gs in grads:
        opt.apply([g.copy() for g in gs], ws)
        out.append([np.array(w, copy=True) for w in ws])
    return out


# -- against Keras 3 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_arrays():
    with np.load(os.path.join(REF, "optimizers2.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c["id"])
def test_matches_keras(case, keras_arrays):
    """Every step's weights, then the slots (and Nadam's u_product) against Keras's variables
    in Keras's order."""
    cid, kwargs = case["id"], dict(case["kwargs"])
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = schedules.deserialize(kwargs["learning_rate"])
    opt = getattr(optimizers, case["optimizer"])(**kwargs)
    ws = [keras_arrays[f"{cid}/w{j}"].copy() for j in range(2)]
    clipped = any(k in kwargs for k in ("clipnorm", "global_clipnorm"))
    if case["dtype"] == "float32":
        rtol, state_tol = 1e-6, 2e-6
    else:  # Keras on torch rounds a norm clipping threshold to float32 in ops.maximum
        rtol, state_tol = (1e-7, 1e-6) if clipped else (1e-12, 1e-12)
    steps = len(keras_arrays[f"{cid}/g0"])
    for t in range(steps):
        if str(t) in case["set_lr"]:
            opt.learning_rate = case["set_lr"][str(t)]
        opt.apply([keras_arrays[f"{cid}/g{j}"][t].copy() for j in range(2)], ws)
        for j, w in enumerate(ws):
            assert w.dtype == case["dtype"]
            np.testing.assert_allclose(
                w, keras_arrays[f"{cid}/traj{j}"][t], rtol=rtol, err_msg=f"{cid} step {t}"
            )
    state = opt.variables
    keras_state = [keras_arrays[k] for k in sorted(keras_arrays) if k.startswith(f"{cid}/state")]
    assert int(state[0]) == steps and len(state) == len(keras_state) + 1
    for name, mine, theirs in zip(opt.variable_names[1:], state[1:], keras_state):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype, name
        scale = np.max(np.abs(theirs))
        np.testing.assert_allclose(
            mine, theirs, rtol=state_tol, atol=state_tol * scale, err_msg=name
        )


# -- the base-class machinery ------------------------------------------------------------------


def test_get_and_names():
    for name, cls in NEW.items():
        assert type(optimizers.get(name)) is cls
        assert type(ge.optimizers.get(name.upper())) is cls
        assert getattr(ge.optimizers, cls.__name__) is cls
        opt = optimizers.get({"class_name": cls.__name__, "config": {"learning_rate": 0.5}})
        assert type(opt) is cls and opt.learning_rate == 0.5
        assert type(small_model(name).optimizer) is cls  # compile(optimizer="nadam")
    defaults = [(o.learning_rate, o.get_config()) for o in (Nadam(), Adamax(), Adadelta(), Lion())]
    assert [lr for lr, _ in defaults] == [0.001] * 4
    nadam, adamax, adadelta, lion = (c for _, c in defaults)
    assert (nadam["beta_1"], nadam["beta_2"], nadam["epsilon"]) == (0.9, 0.999, 1e-7)
    assert (adamax["beta_1"], adamax["beta_2"], adamax["epsilon"]) == (0.9, 0.999, 1e-7)
    assert (adadelta["rho"], adadelta["epsilon"]) == (0.95, 1e-7)
    assert (lion["beta_1"], lion["beta_2"]) == (0.9, 0.99) and "epsilon" not in lion


CONFIGURED = [
    Nadam(
        learning_rate=schedules.CosineDecay(0.01, 4, warmup_target=0.02, warmup_steps=2),
        beta_1=0.8,
        clipnorm=0.5,
        weight_decay=0.01,
    ),
    Adamax(learning_rate=0.02, beta_2=0.9, epsilon=1e-3, global_clipnorm=1.0),
    Adadelta(learning_rate=schedules.PiecewiseConstantDecay([2], [1.0, 0.5]), rho=0.7),
    Lion(learning_rate=schedules.CosineDecayRestarts(0.01, 2), beta_2=0.95, clipvalue=0.3),
]


@pytest.mark.parametrize("opt", CONFIGURED, ids=lambda o: type(o).__name__)
def test_config_round_trip_gives_the_same_steps(opt):
    config = json.loads(json.dumps(optimizers.serialize(opt)))
    clone = optimizers.get(config)
    assert type(clone) is type(opt) and clone.get_config() == opt.get_config()
    inits, grads = problem(seed=1)
    first = run(type(opt).from_config(opt.get_config()), inits, grads)
    np.testing.assert_array_equal(run(clone, inits, grads)[-1][1], first[-1][1])


@pytest.mark.parametrize("name", sorted(NEW))
def test_legacy_lr_and_decay_are_time_decay_of_the_rate(name):
    """lr= is learning_rate=, and decay=d steps at lr / (1 + d * iterations)."""
    inits, grads = problem(seed=2)
    legacy = run(NEW[name](lr=0.05, decay=0.5), inits, grads)
    by_hand = NEW[name](learning_rate=0.05)
    ws = [w.copy() for w in inits]
    for t, gs in enumerate(grads):
        by_hand.learning_rate = 0.05 / (1 + 0.5 * t)
        by_hand.apply([g.copy() for g in gs], ws)
    for a, b in zip(legacy[-1], ws):
        np.testing.assert_array_equal(a, b)
    assert NEW[name](lr=0.3).learning_rate == 0.3


def test_variable_names_and_resuming_from_saved_state():
    """Nadam's u_product comes after the slots and takes the first weight's dtype, as Keras's;
    restoring the state midway (u_product included) continues the same trajectory."""
    inits, grads = problem(seed=3, steps=6)
    straight = run(Nadam(learning_rate=0.05), inits, grads)
    opt = Nadam(learning_rate=0.05)
    ws = [Variable(w.copy(), f"dense/w{j}") for j, w in enumerate(inits)]
    run(opt, inits, grads[:3], ws)
    assert opt.variable_names == [
        "iteration", "dense_w0_momentum", "dense_w0_velocity", "dense_w1_momentum",
        "dense_w1_velocity", "u_product",
    ]  # fmt: skip
    saved = opt.get_weights()
    assert saved[-1].shape == () and saved[-1].dtype == np.float64 and saved[-1] < 0.9**3
    resumed = Nadam(learning_rate=0.05)
    resumed.build(ws)
    resumed.set_weights(saved)
    run(resumed, inits, grads[3:], ws)
    np.testing.assert_allclose(ws[1].value, straight[-1][1], rtol=1e-15)
    names = {
        Adamax: ["momentum", "norm"],
        Adadelta: ["accumulated_grad", "accumulated_delta_var"],
        Lion: ["momentum"],
    }
    for cls, slots in names.items():
        other = cls()
        other.build([np.ones(2, "float32")])
        assert other.variable_names == ["iteration"] + [f"variable_0_{s}" for s in slots]
    f32 = Nadam()
    f32.build([np.ones(2, "float32"), np.ones(1)])
    assert f32.variables[-1].dtype == np.float32


def test_nonfinite_gradients_stay_nonfinite():
    """A NaN gradient poisons its own entry (Adamax's norm keeps the NaN as Keras's maximum
    does; Lion's sign of NaN is NaN), never its neighbours."""
    for opt in (Adamax(0.1), Lion(0.1), Nadam(0.1), Adadelta(1.0)):
        w = np.ones(3)
        opt.apply([np.array([np.nan, 1.0, -1.0])], [w])
        opt.apply([np.array([1.0, 1.0, -1.0])], [w])
        assert np.isnan(w[0]) and np.all(np.isfinite(w[1:])), type(opt).__name__
    adamax = Adamax()
    w = np.ones(2)
    adamax.apply([np.array([np.nan, 1.0])], [w])
    adamax.apply([np.array([5.0, 1.0])], [w])
    assert np.isnan(adamax.variables[2][0]) and adamax.variables[2][1] == 1.0


def test_lion_steps_by_the_sign():
    w = np.zeros(4)
    Lion(learning_rate=0.25).apply([np.array([3.0, -1e-20, 0.0, 7.0])], [w])
    np.testing.assert_array_equal(w, [-0.25, 0.25, 0.0, -0.25])


def test_apply_allocates_no_arrays():
    n = 50_000
    ws = [np.ones(n, "float32"), np.ones(n, "float32")]
    gs = [np.full(n, 0.5, "float32"), np.full(n, -2.0, "float32")]
    opts = [
        Nadam(weight_decay=0.1, clipnorm=1.0, decay=0.1),
        Adamax(global_clipnorm=1.0, learning_rate=schedules.CosineDecay(0.1, 10)),
        Adadelta(clipvalue=0.1, learning_rate=schedules.PiecewiseConstantDecay([1], [1.0, 0.5])),
        Lion(weight_decay=0.1, learning_rate=schedules.PolynomialDecay(0.1, 5, cycle=True)),
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


@pytest.mark.parametrize("name", sorted(optimizers.ALL))
def test_negative_learning_rate_is_refused(name):
    cls = optimizers.ALL[name]
    with pytest.raises(ValueError, match=rf"{cls.__name__} expects learning_rate to be >= 0, got "
                       r"learning_rate=-0.1"):  # fmt: skip
        cls(learning_rate=-0.1)
    opt = cls()
    with pytest.raises(ValueError, match="learning_rate=nan"):
        opt.learning_rate = float("nan")
    with pytest.raises(ValueError, match="learning_rate=-1"):
        cls(lr=-1)


def test_argument_errors():
    cases = [
        (Nadam, {"beta_1": 1.0}, r"Nadam expects beta_1 to be a float in \[0, 1\), got beta_1=1.0"),
        (Nadam, {"beta_2": -0.1}, r"beta_2 to be a float in \[0, 1\), got beta_2=-0.1"),
        (Nadam, {"epsilon": -1e-7}, r"epsilon to be a float in \[0, inf\], got epsilon=-1e-07"),
        (Adamax, {"beta_2": 1.5}, r"Adamax expects beta_2 to be a float in \[0, 1\), got beta_2"),
        (Adamax, {"beta_1": "0.9"}, r"beta_1 to be a float in \[0, 1\), got beta_1='0.9'"),
        (Adadelta, {"rho": 1.5}, r"Adadelta expects rho to be a float in \[0, 1\], got rho=1.5"),
        (Adadelta, {"rho": -0.5}, r"rho to be a float in \[0, 1\], got rho=-0.5"),
        (Adadelta, {"epsilon": -1.0}, r"epsilon to be a float in \[0, inf\], got epsilon=-1.0"),
        (Lion, {"beta_1": 0.0}, r"Lion expects beta_1 to be a float in \(0, 1\], got beta_1=0.0"),
        (Lion, {"beta_1": 1.1}, r"beta_1 to be a float in \(0, 1\], got beta_1=1.1"),
        (Lion, {"beta_2": 2.0}, r"Lion expects beta_2 to be a float in \[0, 1\], got beta_2=2.0"),
        (Lion, {"clipnorm": 1.0, "clipvalue": 1.0}, "only one of clipnorm, clipvalue"),
    ]
    for cls, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            cls(**kwargs)
    with pytest.raises(TypeError, match="Lion got an unexpected keyword argument 'epsilon'"):
        Lion(epsilon=1e-7)
    with pytest.raises(TypeError, match="unexpected keyword argument 'betta_1'.*'beta_1'"):
        Nadam(betta_1=0.9)
    with pytest.raises(TypeError, match="both learning_rate=0.1 and its legacy alias lr=0.2"):
        Adadelta(learning_rate=0.1, lr=0.2)
    with pytest.raises(ValueError, match=r"Unknown optimizer 'nadamw'; valid names: adadelta, "):
        optimizers.get("nadamw")


# -- in a model --------------------------------------------------------------------------------


def small_model(optimizer):
    ge.utils.set_random_seed(0)
    model = ge.Sequential(
        [ge.Input((3,)), ge.layers.Dense(4, activation="tanh"), ge.layers.Dense(1)]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def regression_data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3).astype("float32")


@pytest.mark.parametrize("name", sorted(NEW))
def test_training_lowers_the_loss(name):
    x, y = regression_data()
    kwargs = {"adadelta": {"learning_rate": 1.0, "epsilon": 1e-3}, "lion": {"learning_rate": 0.01}}
    model = small_model(NEW[name](**kwargs.get(name, {"learning_rate": 0.05})))
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0) < 0.7 * before


SAVED = {
    "nadam": lambda: Nadam(learning_rate=0.02, clipnorm=1.0),
    "adamax": lambda: Adamax(learning_rate=schedules.InverseTimeDecay(0.02, 2, 0.5)),
    "adadelta": lambda: Adadelta(learning_rate=1.0, weight_decay=0.01),
    "lion": lambda: Lion(
        learning_rate=schedules.CosineDecay(0.0, 8, warmup_target=0.01, warmup_steps=3)
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", sorted(SAVED))
def test_save_and_load_keep_the_optimizer_state(name, tmp_path):
    x, y = regression_data()
    model = small_model(SAVED[name]())
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "m.gez"
    model.save(path)
    loaded = ge.models.load_model(path)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.variable_names == model.optimizer.variable_names
    for a, b in zip(loaded.optimizer.get_weights(), model.optimizer.get_weights()):
        np.testing.assert_array_equal(a, b)
    h1 = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    h2 = loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert h1.history == h2.history and loaded.optimizer.iterations == 8
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
