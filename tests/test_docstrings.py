"""Docstrings of the public API: every public function, class and method of `ge`'s namespaces has
one; the most used layers and the Model methods read like Keras's (a summary, then `Args:` naming
every constructor argument); and the examples in them run (doctest)."""

import doctest
import importlib.util
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import graphengine as ge

ROOT = Path(__file__).resolve().parents[1]
L = ge.layers
# the layers and models whose docstrings are written in full, as Keras's are
KERAS_STYLE = [
    L.Dense, L.Conv1D, L.Conv2D, L.Conv3D, L.LSTM, L.GRU, L.SimpleRNN, L.Embedding,
    L.BatchNormalization, L.LayerNormalization, L.Dropout, L.MaxPooling2D,
    L.GlobalAveragePooling2D, L.Flatten, L.Reshape, L.Concatenate, L.Add, L.MultiHeadAttention,
    L.Attention, L.TextVectorization, L.Normalization, L.Bidirectional, L.TimeDistributed,
    ge.Input, ge.Model, ge.Sequential, L.Layer,
]  # fmt: skip
MODEL_METHODS = ["fit", "evaluate", "predict", "compile", "save", "summary"]


def _listing():
    spec = importlib.util.spec_from_file_location("api_listing", ROOT / "docs/tools/api_listing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def public_objects() -> dict[str, object]:
    """Every public function and class of the namespaces docs/api.md lists, by qualified name."""
    listing = _listing()
    found = {}
    for path in listing.NAMESPACES:
        module = listing.namespace(path)
        for name in listing.public_names(module):
            obj = getattr(module, name)
            if inspect.isclass(obj) or callable(obj):
                found[".".join(filter(None, ("ge", path, name)))] = obj
    return found


def public_members(cls: type) -> dict[str, object]:
    """The public methods and properties a public class has from graphengine's own classes."""
    members = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith("graphengine"):
            continue
        for name, raw in vars(klass).items():
            if name in members or (name.startswith("_") and name != "__call__"):
                continue
            if isinstance(raw, property):
                members[name] = raw
            elif isinstance(raw, (classmethod, staticmethod)) or inspect.isfunction(raw):
                members[name] = getattr(cls, name)
    return members


def arguments(fn) -> list[str]:
    """The named parameters of fn (a class: its constructor), without self and **kwargs; none for
    a layer that takes only the standard layer keyword arguments (its docstring's **kwargs)."""
    if inspect.isclass(fn) and fn is not L.Layer and fn.__init__ is L.Layer.__init__:
        return []
    fn = fn.__init__ if inspect.isclass(fn) else fn
    params = inspect.signature(fn).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind is not p.VAR_KEYWORD]


def test_every_public_function_and_class_has_a_docstring():
    objects = public_objects()
    assert len(objects) > 400  # the walk found the namespaces
    missing = [name for name, obj in objects.items() if not (obj.__doc__ or "").strip()]
    assert not missing, f"no docstring: {missing}"


def test_every_public_method_has_a_docstring():
    classes = {id(o): o for o in public_objects().values() if inspect.isclass(o)}
    missing = []
    for cls in classes.values():
        for name, member in public_members(cls).items():
            if not inspect.getdoc(member):
                missing.append(f"{cls.__name__}.{name}")
    assert not missing, f"no docstring: {sorted(set(missing))}"


def test_the_walk_sees_a_missing_docstring():
    class Undocumented(ge.layers.Layer):
        """A layer with one undocumented method of its own."""

        def tweak(self):
            return 1

    Undocumented.__module__ = "graphengine.layers.example"  # as if it were one of ours

    members = public_members(Undocumented)
    assert "tweak" in members and not inspect.getdoc(members["tweak"])
    assert inspect.getdoc(members["get_config"])  # inherited from Layer's


@pytest.mark.parametrize("obj", KERAS_STYLE, ids=lambda o: o.__name__)
def test_main_docstrings_read_like_keras(obj):
    doc = inspect.getdoc(obj)
    summary, _, rest = doc.partition("\n\n")
    assert summary and len(summary.splitlines()) <= 3, "a short summary paragraph first"
    assert "Args:" in rest
    args = rest.split("Args:")[1]
    for name in arguments(obj):
        assert re.search(rf"^\s+{name}( \(.*\))?:", args, flags=re.M) or f"{name}, " in args, (
            f"{obj.__name__}: argument {name!r} not described under Args:"
        )
    assert ">>>" in rest or "```python" in rest, "an example"


@pytest.mark.parametrize("name", MODEL_METHODS)
def test_model_methods_document_their_arguments(name):
    method = getattr(ge.Model, name)
    doc = inspect.getdoc(method)
    assert "Args:" in doc, f"Model.{name}"
    args = doc.split("Args:")[1]
    for arg in arguments(method):
        assert re.search(rf"^\s+{arg}:", args, flags=re.M), f"Model.{name}: {arg!r} missing"


def test_help_of_lstm_reads_like_keras():
    doc = inspect.getdoc(ge.layers.LSTM)
    assert doc.startswith("Long Short-Term Memory layer")
    for section in ("Args:", "Call arguments:", "Output shape:"):
        assert section in doc
    assert "recurrent_activation: Activation function to use for the recurrent step" in doc


@pytest.mark.parametrize("obj", KERAS_STYLE, ids=lambda o: o.__name__)
def test_docstring_examples_run(obj):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(obj, obj.__name__, globs={"ge": ge, "np": np})
    for test in tests:
        runner.run(test, out=lambda text: pytest.fail(text))
    if ">>>" in (obj.__doc__ or ""):
        assert runner.tries > 0
