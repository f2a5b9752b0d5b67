"""Stateful recurrent layers on CUDA against the CPU, in Numba's CUDA simulator (run by
test_cuda.py): states live in device mirrors that predict and fit update and the host reads
back; reset_states zeros both. No new kernels: ConvLSTM2D and the state ops compose existing
ones (their kernels' parity is checked in cuda_parity.py)."""

import numpy as np

import cuda_device  # noqa: F401  (the simulator or a GPU)

import graphengine as ge  # noqa: E402

L = ge.layers


def _run(device):
    """Predict over two batches, reset, predict one, fit one epoch: every result, states read
    after each step."""
    ge.utils.set_random_seed(0)  # the same initial weights on both devices
    x = ge.Input(batch_shape=(2, 2, 3))
    layer = L.SimpleRNN(2, stateful=True, return_sequences=True)
    model = ge.Model(x, layer(x))
    model.compile(optimizer="sgd", loss="mse", device=device)
    data = np.random.default_rng(0).standard_normal((4, 2, 3)).astype("float32")
    results = [model.predict(data, batch_size=2, verbose=0)]
    results += [v.numpy() for v in layer.states]
    layer.reset_states()
    results.append(model.predict(data[:2], batch_size=2, verbose=0))
    model.fit(data, np.zeros_like(results[0]), batch_size=2, shuffle=False, verbose=0)
    return results + [v.numpy() for v in layer.states] + model.get_weights()


def test_stateful_rnn_predict_reset_and_fit_match_the_cpu():
    for got, want in zip(_run("cuda"), _run("cpu")):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
