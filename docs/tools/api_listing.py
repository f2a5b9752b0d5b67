"""Lists graphengine's public API from the live modules, one line per name with its signature
and the first sentence of its docstring, grouped as Keras's API reference, and keeps the
generated blocks of docs/api.md (between `<!-- api:KEY -->` and `<!-- /api -->`) up to date.

    python docs/tools/api_listing.py            # print every block
    python docs/tools/api_listing.py --write    # rewrite the blocks of docs/api.md in place
    python docs/tools/api_listing.py --check    # exit 1 when docs/api.md is out of date

tests/test_docs.py runs the check. A public name is one in a namespace's `__all__`, or, for a
namespace without one (ge.config, ge.initializers, ...), a function or class defined in it whose
name has no leading underscore."""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"

# the namespaces listed, as attribute paths below `ge` ("" is `ge` itself)
NAMESPACES = (
    "",
    "models",
    "layers",
    "ops",
    "losses",
    "metrics",
    "optimizers",
    "optimizers.schedules",
    "callbacks",
    "activations",
    "initializers",
    "regularizers",
    "saving",
    "utils",
    "config",
    "distributed",
    "datasets",
    "datasets.digits",
    "preprocessing",
    "preprocessing.sequence",
)

# ge.layers, by the module that defines each layer
LAYER_GROUPS = {
    "base": "layers.base",
    "core": "layers.core",
    "einsum_dense": "layers.core",
    "masking": "layers.core",
    "convolutional": "layers.convolution",
    "depthwise_conv": "layers.convolution",
    "pooling": "layers.pooling",
    "recurrent": "layers.recurrent",
    "recurrent_cells": "layers.recurrent",
    "conv_lstm": "layers.recurrent",
    "wrappers": "layers.recurrent",
    "preprocessing": "layers.preprocessing",
    "preprocessing_lookup": "layers.preprocessing",
    "text_vectorization": "layers.preprocessing",
    "image_preprocessing": "layers.preprocessing",
    "normalization": "layers.normalization",
    "regularization": "layers.regularization",
    "attention": "layers.attention",
    "multi_head_attention": "layers.attention",
    "reshaping": "layers.reshaping",
    "resampling": "layers.reshaping",
    "merging": "layers.merging",
    "activations": "layers.activations",
    "graph_conv": "layers.graph",
    "graph_pooling": "layers.graph",
}
OPS_NN = {"relu", "sigmoid", "softmax", "log_softmax", "one_hot", "top_k", "in_top_k"}
OPS_CORE = {
    "cast",
    "convert_to_numpy",
    "convert_to_tensor",
    "getitem",
    "identity",
    "shape",
    "stop_gradient",
    "take_rows",
}
UTILS_GROUPS = {
    "graphengine.common": "utils.serialization",
    "graphengine.gradient_check": "utils.gradients",
    "graphengine.training.graph_data": "utils.graphs",
    "graphengine.viz.plot": "utils.plotting",
    "graphengine.viz.graph_plot": "utils.plotting",
}
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]`'\"])\.(\s+(?=[A-Z`(])|$)")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _ge() -> types.ModuleType:
    sys.path.insert(0, str(ROOT))
    import graphengine

    return graphengine


def namespace(path: str) -> types.ModuleType:
    """The module `ge.<path>` ("" is ge)."""
    module = _ge()
    for part in filter(None, path.split(".")):
        module = getattr(module, part)
    return module


def public_names(module: types.ModuleType) -> list[str]:
    """The names a namespace exports: its `__all__`, or what it defines without a leading _."""
    if hasattr(module, "__all__"):
        return sorted(module.__all__)
    return sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    )


def summary(obj: Any) -> str:
    """The first sentence of obj's own docstring, on one line ("" when it has none)."""
    doc = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
    paragraph = inspect.cleandoc(doc or "").split("\n\n")[0]
    text = " ".join(paragraph.split())
    match = _SENTENCE_END.search(text)
    return text[: match.start() + 1] if match else text


def signature(obj: Any, method: bool = False) -> str:
    """`(a, b=1, *args, **kwargs)` without annotations (a method's without `self` / `cls`), or
    "" where Python cannot tell."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    parameters = list(sig.parameters.values())
    if method and parameters and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]
    params = []
    star_seen = False
    for p in parameters:
        if p.kind is p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            star_seen = True
        elif p.kind is p.VAR_KEYWORD:
            params.append(f"**{p.name}")
        else:
            if p.kind is p.KEYWORD_ONLY and not star_seen:
                params.append("*")
                star_seen = True
            default = "" if p.default is p.empty else "=" + _ADDRESS.sub("", repr(p.default))
            params.append(p.name + default)
    return "(" + ", ".join(params) + ")"


def _line(qualified: str, obj: Any) -> str:
    short = qualified.rsplit(".", 1)[-1]
    canonical = getattr(obj, "__name__", short)
    if inspect.isclass(obj) and canonical != short:
        return f"- `{qualified}`: alias of `{canonical}`."
    if isinstance(obj, types.ModuleType):
        return f"- `{qualified}`: module; {summary(obj)}"
    if isinstance(obj, property):
        return f"- `{qualified}` (property): {summary(obj)}"
    if not callable(obj):
        return f"- `{qualified}`: {type(obj).__name__} {obj!r}"
    text = summary(obj)
    method = not qualified.startswith("ge.")
    if inspect.isclass(obj) and obj.__init__ is not object.__init__:
        obj, method = obj.__init__, True  # not the signature of a __new__ taking (*args, **kwargs)
    return f"- `{qualified}{signature(obj, method)}`" + (f": {text}" if text else "")


def _group(path: str, name: str, obj: Any) -> str:
    """The block of docs/api.md that lists `ge.<path>.<name>`."""
    module = getattr(obj, "__module__", "") or ""
    if path == "layers":
        return LAYER_GROUPS.get(module.rsplit(".", 1)[-1], "layers.other")
    if path == "ops":
        if name.startswith("segment_"):
            return "ops.segment"
        return "ops.nn" if name in OPS_NN else "ops.core" if name in OPS_CORE else "ops.numpy"
    if path in ("losses", "metrics"):
        if inspect.isclass(obj) or name == "get":
            return path
        return path + ".functions"
    if path == "utils":
        return UTILS_GROUPS.get(module, "utils.data")
    if path.startswith(("datasets", "preprocessing")):
        return "datasets"
    return path or "ge"


def _methods(cls: type, stop: tuple[type, ...]) -> list[tuple[str, Any]]:
    """The public methods and properties cls defines or inherits, up to the classes in stop."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass in stop or klass is object:
            continue
        for name, obj in vars(klass).items():
            public = not name.startswith("_") or name == "__call__"
            if public and (callable(obj) or isinstance(obj, (property, classmethod))):
                # a classmethod bound to its class, so that inspect finds an inherited docstring
                found[name] = getattr(klass, name) if isinstance(obj, classmethod) else obj
    return sorted(found.items())


def blocks() -> dict[str, list[str]]:
    """Every block of docs/api.md: its key and its lines, each public name in exactly one."""
    ge = _ge()
    out: dict[str, list[str]] = {}

    def add(key: str, line: str) -> None:
        out.setdefault(key, []).append(line)

    for path in NAMESPACES:
        module = namespace(path)
        for name in public_names(module):
            obj = getattr(module, name)
            qualified = ".".join(filter(None, ("ge", path, name)))
            add(_group(path, name, obj), _line(qualified, obj))
    for key, cls, stop in (
        ("methods.layer", ge.layers.Layer, ()),
        ("methods.model", ge.Model, (ge.layers.Layer,)),
        ("methods.sequential", ge.Sequential, (ge.Model, ge.layers.Layer)),
    ):
        for name, obj in _methods(cls, stop):
            add(key, _line(f"{cls.__name__}.{name}", obj))
    return out


def render(text: str, generated: dict[str, list[str]]) -> str:
    """text with each `<!-- api:KEY -->` block's lines replaced by the generated ones."""

    def fill(match: re.Match) -> str:
        lines = generated.get(match.group(1), ["(no such block)"])
        return f"<!-- api:{match.group(1)} -->\n" + "\n".join(lines) + "\n<!-- /api -->"

    return _BLOCK.sub(fill, text)


_BLOCK = re.compile(r"<!-- api:([\w.]+) -->\n.*?<!-- /api -->", re.S)


def block_keys(text: str) -> list[str]:
    """The keys of the blocks a page holds, in order."""
    return _BLOCK.findall(text)


def main(argv: list[str], write: Callable[[str], Any] = print) -> int:
    generated = blocks()
    if not argv:
        for key, lines in generated.items():
            write(f"<!-- api:{key} -->\n" + "\n".join(lines) + "\n<!-- /api -->\n")
        return 0
    text = API_MD.read_text()
    new = render(text, generated)
    if argv == ["--write"]:
        API_MD.write_text(new)
        return 0
    if argv == ["--check"]:
        return 0 if new == text else 1
    write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
