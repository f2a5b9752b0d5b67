"""fit / evaluate / predict on data that is not one array: Python generators and iterators,
ge.utils.PyDataset (read ahead on threads or processes), steps_per_epoch / validation_steps,
and the TypeError for what is not data."""

import threading
import warnings

import numpy as np
import pytest

import graphengine as ge

RNG = np.random.default_rng(7)
X = RNG.standard_normal((40, 4)).astype("float32")
Y = RNG.integers(0, 3, 40).astype("int32")


def make_model(seed=0):
    ge.utils.set_random_seed(seed)
    model = ge.Sequential(
        [ge.Input((4,)), ge.layers.Dense(5, activation="relu"), ge.layers.Dense(3, "softmax")]
    )
    model.compile(optimizer=ge.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


class Batches(ge.utils.PyDataset):
    """Batches of 8 of X, Y in order; records which batch indices were read, on which thread."""

    def __init__(self, batch_size=8, endless=False, **kwargs):
        super().__init__(**kwargs)
        self.batch_size, self.endless = batch_size, endless
        self.read, self.threads, self.epochs_ended = [], set(), 0

    def __len__(self):
        return int(np.ceil(len(X) / self.batch_size))

    def __getitem__(self, i):
        self.read.append(i)
        self.threads.add(threading.get_ident())
        i = i % len(self) if self.endless else i
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return X[rows], Y[rows]

    def on_epoch_end(self):
        self.epochs_ended += 1


class Endless(Batches):
    num_batches = None  # no length: Keras's endless PyDataset


class Picklable(ge.utils.PyDataset):
    """A dataset for worker processes: module level (so it pickles), no shared state."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return X[i * 8 : (i + 1) * 8], Y[i * 8 : (i + 1) * 8]


def generator(epochs=1):
    for _ in range(epochs):
        for i in range(0, len(X), 8):
            yield X[i : i + 8], Y[i : i + 8]


@pytest.fixture(scope="module")
def reference():
    """The weights and history of 2 epochs on the arrays, batches of 8, in order."""
    model = make_model()
    history = model.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return model.get_weights(), history.history


def assert_same_training(model, history, reference):
    weights, logs = reference
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    for key in logs:
        np.testing.assert_allclose(history.history[key], logs[key], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"workers": 3}, {"workers": 2, "max_queue_size": 1}],
    ids=["in-step", "3-threads", "2-threads-queue-1"],
)
def test_a_pydataset_trains_as_the_arrays_do(kwargs, reference):
    model, data = make_model(), Batches(**kwargs)
    history = model.fit(data, epochs=2, shuffle=False, verbose=0)
    assert_same_training(model, history, reference)
    assert sorted(data.read) == sorted(list(range(5)) * 2) and data.epochs_ended == 2
    main = {threading.get_ident()}
    assert (data.threads == main) == (kwargs.get("workers", 1) == 1)


def test_a_pydataset_on_worker_processes_trains_as_the_arrays_do(reference):
    model = make_model()
    history = model.fit(
        Picklable(workers=2, use_multiprocessing=True), epochs=2, shuffle=False, verbose=0
    )
    assert_same_training(model, history, reference)


def test_a_generator_trains_as_the_arrays_do(reference):
    model = make_model()
    history = model.fit(generator(2), steps_per_epoch=5, epochs=2, verbose=0)
    assert_same_training(model, history, reference)


def test_an_iterator_of_batches_is_taken_too(reference):
    model = make_model()
    batches = [(X[i : i + 8], Y[i : i + 8]) for i in range(0, 40, 8)] * 2
    history = model.fit(iter(batches), steps_per_epoch=5, epochs=2, verbose=0)
    assert_same_training(model, history, reference)


def test_shuffle_permutes_a_pydataset_batches_each_epoch():
    data = Batches()
    ge.utils.set_random_seed(3)
    make_model().fit(data, epochs=3, verbose=0)  # shuffle=True, as Keras's default
    epochs = [data.read[i : i + 5] for i in range(0, 15, 5)]
    assert all(sorted(e) == list(range(5)) for e in epochs)
    assert any(e != list(range(5)) for e in epochs)


def test_steps_per_epoch_continues_a_pass_across_epochs():
    data = Batches()
    with pytest.warns(UserWarning, match="ran out of data after 1 of 2 batches"):
        make_model().fit(data, epochs=4, steps_per_epoch=2, shuffle=False, verbose=0)
    # as Keras's EpochIterator: 2 + 2 batches, epoch 3 gets the pass's last one (and the
    # warning), epoch 4 starts a new pass
    assert data.read == [0, 1, 2, 3, 4, 0, 1]


def test_an_endless_pydataset_needs_steps_per_epoch():
    with pytest.raises(ValueError, match="endless.*steps_per_epoch"):
        make_model().fit(Endless(endless=True), epochs=1, verbose=0)
    data = Endless(endless=True)
    history = make_model().fit(data, epochs=2, steps_per_epoch=3, verbose=0)
    assert len(history.history["loss"]) == 2 and data.read == [0, 1, 2, 3, 4, 5]


def test_a_generator_that_runs_out_stops_training_with_keras_warning():
    model = make_model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(generator(1), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1  # the first epoch trained, then nothing was left
    with pytest.warns(UserWarning, match="ran out of data after 5 of 7 batches"):
        history = model.fit(generator(1), epochs=1, steps_per_epoch=7, verbose=0)
    assert len(history.history["loss"]) == 1


def test_validation_data_may_be_a_dataset_with_validation_steps():
    model = make_model()
    history = model.fit(
        X, Y, batch_size=8, epochs=2, verbose=0, shuffle=False,
        validation_data=Batches(), validation_steps=2,
    )  # fmt: skip
    first_two = make_model()
    first_two.set_weights(model.get_weights())
    # as Keras, the validation pass goes on where the last one stopped: batches 2 and 3
    expected = first_two.evaluate(X[16:32], Y[16:32], verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-6)
    history = model.fit(X, Y, epochs=1, verbose=0, validation_data=generator(1))
    assert "val_loss" in history.history


def test_evaluate_and_predict_take_datasets_and_steps():
    model = make_model()
    want = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    got = model.evaluate(Batches(workers=2), verbose=0, return_dict=True)
    assert got == pytest.approx(want, rel=1e-6)
    assert model.evaluate(generator(1), verbose=0) == pytest.approx(list(want.values()))
    head = model.evaluate(Batches(), steps=2, verbose=0)
    assert head == pytest.approx(model.evaluate(X[:16], Y[:16], verbose=0), rel=1e-6)
    np.testing.assert_allclose(model.predict(Batches(), verbose=0), model.predict(X, verbose=0))
    np.testing.assert_allclose(
        model.predict((x for x, _ in generator(1)), verbose=0), model.predict(X, verbose=0)
    )
    np.testing.assert_allclose(
        model.predict(X, batch_size=8, steps=2, verbose=0), model.predict(X[:16], verbose=0)
    )


def test_fit_validation_calls_the_test_hooks_inside_the_epoch():
    calls = []

    class Hooks(ge.callbacks.Callback):
        def on_test_begin(self, logs=None):
            calls.append("test_begin")

        def on_test_batch_end(self, batch, logs=None):
            calls.append(f"test_batch_{batch}")

        def on_test_end(self, logs=None):
            calls.append(("test_end", sorted(logs)))

        def on_epoch_end(self, epoch, logs=None):
            calls.append("epoch_end")

    make_model().fit(X, Y, batch_size=20, epochs=1, validation_split=0.5, verbose=0,
                     callbacks=[Hooks()])  # fmt: skip
    assert calls == ["test_begin", "test_batch_0", ("test_end", ["accuracy", "loss"]),
                     "epoch_end"]  # fmt: skip


class Broken(Picklable):
    """Batch 3 cannot be read (module level, so worker processes can take it)."""

    def __getitem__(self, i):
        if i == 3:
            raise KeyError("batch 3 is gone")
        return super().__getitem__(i)


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_a_batch_worker_error_reaches_the_caller_at_its_turn(processes):
    trained = []

    class Count(ge.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            trained.append(batch)

    data = Broken(workers=2, use_multiprocessing=processes)
    with pytest.raises(KeyError, match="batch 3 is gone"):
        make_model().fit(data, epochs=1, shuffle=False, verbose=0, callbacks=[Count()])
    assert trained == [0, 1, 2]  # as Keras: the batches before it trained


class SequenceLike:
    """What Keras 2's Sequence or a torch Dataset looks like: indexable, with a length."""

    def __len__(self):
        return 10**9

    def __getitem__(self, i):
        return X[:8], Y[:8]


@pytest.mark.parametrize(
    "data, match",
    [
        (SequenceLike(), "SequenceLike.*subclass ge.utils.PyDataset"),
        ({1, 2, 3}, "received a set"),
        ("x.csv", "received a str"),
    ],
    ids=["sequence-like", "set", "string"],
)
def test_what_is_not_data_raises_a_type_error_naming_what_is(data, match):
    model = make_model()
    for call in (lambda: model.fit(data, Y, verbose=0), lambda: model.predict(data, verbose=0)):
        with pytest.raises(TypeError, match=match):
            call()
    with pytest.raises(TypeError, match="ge.utils.PyDataset, or a Python generator"):
        model.evaluate(data, Y, verbose=0)


def test_dataset_arguments_are_checked_where_given():
    model = make_model()
    with pytest.raises(ValueError, match="y must not be passed"):
        model.fit(Batches(), Y, verbose=0)
    with pytest.raises(ValueError, match="sample_weight must not be passed"):
        model.fit(generator(), sample_weight=np.ones(40), verbose=0)
    with pytest.raises(ValueError, match="validation_split is only supported for arrays"):
        model.fit(Batches(), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch must be an integer >= 1"):
        model.fit(X, Y, steps_per_epoch=0, verbose=0)

    class NoSuper(ge.utils.PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

    with pytest.raises(ValueError, match=r"must call super\(\).__init__"):
        model.fit(NoSuper(), verbose=0)
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        Batches(workers=0)
    with pytest.raises(ValueError, match="validation_data must be"):
        model.fit(X, Y, validation_data=(X,), verbose=0)


def test_arrays_with_steps_per_epoch_use_keras_batch_size():
    # Keras: no batch_size with steps_per_epoch makes the batch ceil(n / steps)
    model = make_model()
    seen = []

    class Sizes(ge.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, Y, steps_per_epoch=4, epochs=1, verbose=0, callbacks=[Sizes()])
    assert seen == [0, 1, 2, 3]
