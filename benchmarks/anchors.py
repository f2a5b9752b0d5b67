"""The compiled anchors (issue 25): graphengine next to the best CPU engines a user could pick
instead, on benchmarks/run.py's workloads, with the same weights (ours, copied) and batches.

Contenders, each optional and skipped with a printed reason when it cannot be imported:
- torch eager: run.py's PyTorch models and steps, on a copy of our weights;
- torch.compile (inductor) of the whole train step (zero_grad, forward, backward, Adam), or of
  the forward for inference; compiled in the untimed warm-up;
- JAX jit(value_and_grad) + optax Adam (eps 1e-7, Keras's), from the folder JAX_PATH names;
- ONNX Runtime on our own ONNX export (`model.export(path, format="onnx")`), inference rows
  only, from the folder ORT_PATH names.
Threads: torch.set_num_threads(2), ORT intra_op_num_threads=2; XLA's CPU client sizes its
pool to the cores it sees (2 on the benchmark machine), so it is left as it is.

Run: JAX_PATH=<pip --target folder> ORT_PATH=<folder> python -m benchmarks anchors
     [--steps 100] [--only mlp_train,cnn_train]
The contenders take turns in blocks with pauses (as run.py's `interleaved`); medians, ratios
graphengine / anchor (below 1: graphengine is faster); then the train-step memory of run.py.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
for _var in ("JAX_PATH", "ORT_PATH"):  # appended: the environment's NumPy stays first
    if os.environ.get(_var):
        sys.path.append(os.environ[_var])
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from benchmarks import memory, run  # noqa: E402

ANCHORS = ("torch eager", "torch.compile", "JAX jit", "ONNX Runtime")
TITLES = {
    "mlp_train": "MLP 784-256-256-10 b128 train (Adam)",
    "mlp_infer": "MLP 784-256-256-10 b128 inference",
    "cnn_train": "CNN b64 train (Adam)",
    "lstm_train": "LSTM(128) b64 T50 train (Adam)",
    "gru_train": "GRU(128) b64 T50 train (Adam)",
    "latency": "Dense 8-16-1 batch-1 inference",
}
TRAIN = ("mlp_train", "cnn_train", "lstm_train", "gru_train")


def _import(what: str) -> tuple[Any, str]:
    """(module or None, reason it is missing)."""
    try:
        if what == "torch":
            import torch

            torch.set_num_threads(2)
            return torch, ""
        if what == "jax":
            import jax
            import optax

            return (jax, optax), ""
        import onnxruntime

        return onnxruntime, ""
    except ImportError as error:
        hint = {"jax": " (set JAX_PATH)", "onnxruntime": " (set ORT_PATH)"}.get(what, "")
        return None, f"{what} is not importable{hint}: {error}"


# -- PyTorch: our weights in PyTorch's layouts ----------------------------------------------
def _gru_gates(a: np.ndarray, units: int) -> np.ndarray:
    """Keras's gate order (z, r, h) along the last axis as PyTorch's (r, z, n)."""
    return np.concatenate([a[..., units : 2 * units], a[..., :units], a[..., 2 * units :]], -1)


def torch_net(torch: Any, name: str, ws: list[np.ndarray]) -> Any:
    """The workload's model as a torch module holding our weights `ws` (model.weights order)."""
    nn = torch.nn
    if name in ("mlp_train", "mlp_infer", "latency"):
        dims = [w.shape for w in ws[::2]]
        layers: list[Any] = []
        for i, (n_in, n_out) in enumerate(dims):
            layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU()] if i < len(dims) - 1 else [])
        tensors = [w.T if w.ndim == 2 else w for w in ws]
    elif name == "cnn_train":
        layers = [
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10),
        ]  # fmt: skip
        # our Flatten reads (h, w, c), PyTorch's (c, h, w)
        dense = ws[4].reshape(5, 5, 64, 128).transpose(2, 0, 1, 3).reshape(1600, 128)
        tensors = [ws[0].transpose(3, 2, 0, 1), ws[1], ws[2].transpose(3, 2, 0, 1), ws[3]]
        tensors += [dense.T, ws[5], ws[6].T, ws[7]]
    else:
        return _torch_rnn(torch, name, ws)
    net = nn.Sequential(*layers)
    _load(torch, net, tensors)
    return net


def _torch_rnn(torch: Any, name: str, ws: list[np.ndarray]) -> Any:
    nn = torch.nn
    kernel, recurrent, bias, head_w, head_b = ws
    units = recurrent.shape[0]
    if name == "lstm_train":  # same gate order (i, f, c/g, o); one bias
        rnn = nn.LSTM(kernel.shape[0], units, batch_first=True)
        tensors = [kernel.T, recurrent.T, bias, np.zeros_like(bias)]
    else:  # reset_after: input and recurrent biases, as PyTorch's b_ih and b_hh
        rnn = nn.GRU(kernel.shape[0], units, batch_first=True)
        tensors = [_gru_gates(w, units) for w in (kernel, recurrent, bias[0], bias[1])]
        tensors[:2] = [tensors[0].T, tensors[1].T]  # (3 units, in), PyTorch's layout

    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn, self.head = rnn, nn.Linear(units, head_w.shape[1])

        def forward(self, x: Any) -> Any:
            return self.head(self.rnn(x)[0][:, -1])

    net = Classifier()
    _load(torch, net, tensors + [head_w.T, head_b])
    return net


def _load(torch: Any, net: Any, tensors: list[np.ndarray]) -> None:
    with torch.no_grad():
        for p, w in zip(net.parameters(), tensors, strict=True):
            p.copy_(torch.from_numpy(np.ascontiguousarray(w)))


def torch_steps(torch: Any, name: str, ws: list, x: np.ndarray, y: Any) -> dict[str, Callable]:
    """Eager and compiled closures on separate copies of the same net."""
    net = torch_net(torch, name, ws)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2) if x.ndim == 4 else x))
    if name not in TRAIN:

        def infer(module: Any) -> Callable:
            def step() -> np.ndarray:
                with torch.no_grad():
                    return module(xt).numpy()

            return step

        return {
            "torch eager": infer(net),
            "torch.compile": infer(torch.compile(copy.deepcopy(net))),
        }
    yt = torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def train(module: Any, compiled: bool) -> Callable:
        opt = torch.optim.Adam(module.parameters(), lr=1e-3, eps=1e-7)

        def step() -> Any:
            opt.zero_grad()
            loss = loss_fn(module(xt), yt)
            loss.backward()
            opt.step()
            return loss.detach()

        run_step = torch.compile(step) if compiled else step
        outer = lambda: float(run_step())  # noqa: E731
        outer.net, outer.opt = module, opt  # for benchmarks/memory.py
        return outer

    return {"torch eager": train(net, False), "torch.compile": train(copy.deepcopy(net), True)}


# -- JAX: the same models as pure functions of our weights ----------------------------------
def jax_forward(jax: Any, name: str) -> Callable:
    """forward(params, x) -> logits, params in model.weights order and our layouts."""
    jnp, lax = jax.numpy, jax.lax
    if name in ("mlp_train", "mlp_infer", "latency"):

        def forward(p: list, x: Any) -> Any:
            for i in range(0, len(p) - 2, 2):
                x = jax.nn.relu(x @ p[i] + p[i + 1])
            return x @ p[-2] + p[-1]

        return forward
    if name == "cnn_train":

        def conv_pool(x: Any, k: Any, b: Any) -> Any:
            dims = ("NHWC", "HWIO", "NHWC")
            h = jax.nn.relu(
                lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=dims) + b
            )
            return lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

        def forward(p: list, x: Any) -> Any:
            h = conv_pool(conv_pool(x, p[0], p[1]), p[2], p[3]).reshape(x.shape[0], -1)
            return jax.nn.relu(h @ p[4] + p[5]) @ p[6] + p[7]

        return forward
    return _jax_rnn(jax, name)


def _jax_rnn(jax: Any, name: str) -> Callable:
    jnp, sig = jax.numpy, jax.nn.sigmoid

    def lstm_cell(rk: Any, carry: tuple, xk_t: Any) -> tuple:
        h, c = carry
        i, f, g, o = jnp.split(xk_t + h @ rk, 4, axis=-1)
        c = sig(f) * c + sig(i) * jnp.tanh(g)
        return (sig(o) * jnp.tanh(c), c)

    def gru_cell(rk: Any, rb: Any, h: Any, xk_t: Any) -> Any:
        xz, xr, xh = jnp.split(xk_t, 3, axis=-1)
        hz, hr, hh = jnp.split(h @ rk + rb, 3, axis=-1)
        z, r = sig(xz + hz), sig(xr + hr)
        return z * h + (1 - z) * jnp.tanh(xh + r * hh)

    def forward(p: list, x: Any) -> Any:
        kernel, rk, bias, head_w, head_b = p
        units = rk.shape[0]
        h0 = jnp.zeros((x.shape[0], units), x.dtype)
        if name == "lstm_train":
            xk = jnp.swapaxes(x @ kernel + bias, 0, 1)  # (time, batch, 4 units)
            step = lambda carry, xt: (lstm_cell(rk, carry, xt), None)  # noqa: E731
            h = jax.lax.scan(step, (h0, h0), xk)[0][0]
        else:
            xk = jnp.swapaxes(x @ kernel + bias[0], 0, 1)
            step = lambda carry, xt: (gru_cell(rk, bias[1], carry, xt), None)  # noqa: E731
            h = jax.lax.scan(step, h0, xk)[0]
        return h @ head_w + head_b

    return forward


def jax_step(modules: tuple, name: str, ws: list, x: np.ndarray, y: Any) -> Callable:
    """One jitted train step (value_and_grad + optax Adam, buffers donated) or forward."""
    jax, optax = modules
    forward = jax_forward(jax, name)
    params = [jax.device_put(w) for w in ws]
    xj = jax.device_put(x)
    if name not in TRAIN:
        infer = jax.jit(forward)
        return lambda: np.asarray(infer(params, xj))
    yj = jax.device_put(y.astype(np.int32))
    opt = optax.adam(1e-3, eps=1e-7)

    def loss_of(p: list) -> Any:
        logits = forward(p, xj)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yj).mean()

    def train(p: list, state: Any) -> tuple:
        loss, grads = jax.value_and_grad(loss_of)(p)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    update = jax.jit(train, donate_argnums=(0, 1))
    held = {"params": params, "state": opt.init(params)}

    def step() -> float:
        held["params"], held["state"], loss = update(held["params"], held["state"])
        return float(loss)  # waits for the step

    return step


# -- ONNX Runtime on our export -------------------------------------------------------------
def ort_step(onnxruntime: Any, model: Any, x: np.ndarray) -> Callable:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.onnx")
        model.export(path, format="onnx", verbose=False)
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)[0]


# -- timing and the table -------------------------------------------------------------------
def contenders(name: str, libs: dict[str, Any]) -> tuple[dict[str, Callable], Any]:
    """graphengine's step first, then every anchor that is importable and fits the row."""
    ge_step, _, _ = run.WORKLOADS[name][1]()
    model, (x, y) = ge_step.model, ge_step.batch
    ws = [np.array(w.value) for w in model.weights]
    steps = {"graphengine": ge_step}
    if libs["torch"] is not None:
        steps.update(torch_steps(libs["torch"], name, ws, x, y))
    if libs["jax"] is not None:
        steps["JAX jit"] = jax_step(libs["jax"], name, ws, x, y)
    if libs["onnxruntime"] is not None and name not in TRAIN:
        steps["ONNX Runtime"] = ort_step(libs["onnxruntime"], model, x)
    return steps, model


def rounds(steps: dict[str, Callable], n: int, block: int) -> tuple[dict, dict]:
    """First outputs (the compiling call) and median seconds: the contenders take turns in
    blocks after a warm-up, with a pause before each turn for the others' idle threads."""
    first = {name: step() for name, step in steps.items()}
    for step in steps.values():
        for _ in range(9):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    while len(times["graphengine"]) < n:
        for name, step in steps.items():
            time.sleep(0.3)
            for _ in range(block):
                t = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - t)
    return first, {name: float(np.median(t)) for name, t in times.items()}


def agreement(first: dict[str, Any]) -> str:
    """How far the contenders' first outputs (losses or predictions) are from ours."""
    ours = np.asarray(first["graphengine"], dtype=np.float64)
    if ours.size > 1:
        gaps = [np.abs(np.asarray(v, dtype=np.float64) - ours).max() for v in first.values()]
        return f"max |prediction - ours| {max(gaps):.2g}"
    firsts = ", ".join(f"{k} {float(np.ravel(v)[0]):.5f}" for k, v in first.items())
    return f"first loss or output: {firsts}"


def row(title: str, medians: dict[str, float]) -> str:
    ours = medians["graphengine"]
    cells = [f"{title:38s} {ours * 1e3:9.4f}"]
    for anchor in ANCHORS:
        s = medians.get(anchor)
        cells.append(f"{s * 1e3:9.4f} {ours / s:5.2f}" if s else f"{'-':>9s} {'-':>5s}")
    best = min((a for a in ANCHORS if a in medians), key=medians.get, default=None)
    cells.append(f"{best} {ours / medians[best]:.2f}" if best else "-")
    return " ".join(cells)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per contender")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    args = parser.parse_args(argv)
    names = [n for n in TITLES if not args.only or n in args.only.split(",")]
    libs = {}
    for what in ("torch", "jax", "onnxruntime"):
        libs[what], reason = _import(what)
        if reason:
            print(f"skipped: {reason}")
    versions(libs)
    head = " ".join(f"{a:>9s} {'ratio':>5s}" for a in ANCHORS)
    print(f"{'workload (ms, ratio graphengine/anchor)':38s} {'ours':>9s} {head} best")
    trained = {}
    for name in names:
        steps, model = contenders(name, libs)
        if name == "latency":  # calls of a few microseconds: longer turns, more of them
            first, medians = rounds(steps, 20 * args.steps, 100)
        else:
            first, medians = rounds(steps, args.steps, 10)
        print(row(TITLES[name], medians), flush=True)
        print(f"    ({agreement(first)})", flush=True)
        if name in run.MEMORY:
            trained[name] = (model, steps["graphengine"], steps.get("torch eager"))
    memory_rows(trained)


def memory_rows(trained: dict[str, tuple]) -> None:
    """run.py's train-step memory report, graphengine next to PyTorch eager."""
    if not trained:
        return
    print(f"\n{'peak memory of a training step':46s} {'graphengine':>12s} {'PyTorch':>10s} ratio")
    for name, (model, ge_step, pt_step) in trained.items():
        ge_bytes = memory.graphengine_step(model, ge_step)
        pt_bytes = memory.torch_step(pt_step.net, pt_step.opt, pt_step) if pt_step else None
        print(memory.report(TITLES[name], ge_bytes, pt_bytes), flush=True)


def versions(libs: dict[str, Any]) -> None:
    import numba

    found = [f"numpy {np.__version__}", f"numba {numba.__version__}"]
    if libs["torch"] is not None:
        found.append(f"torch {libs['torch'].__version__}")
    if libs["jax"] is not None:
        jax, optax = libs["jax"]
        found.append(f"jax {jax.__version__} (devices {jax.devices()}), optax {optax.__version__}")
    if libs["onnxruntime"] is not None:
        found.append(f"onnxruntime {libs['onnxruntime'].__version__}")
    print("versions: " + ", ".join(found))


if __name__ == "__main__":
    main()
