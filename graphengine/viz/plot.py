"""`ge.plot_model` and `model.to_dot()`: Keras's arguments, and the file suffix picks the
output: .dot (text), .svg / .png (matplotlib, or Graphviz when `engine="graphviz"` or "auto"
finds it), .html (one self-contained interactive page)."""

from __future__ import annotations

import os
from typing import Any

from graphengine.viz.view import Options, View, build_view

FORMATS = (".dot", ".gv", ".svg", ".png", ".html", ".htm")


def model_view(
    model: Any,
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    show_trainable: bool = False,
    show_layer_activations: bool = False,
    show_backward: bool = False,
    profile: Any = None,
    gradient_norms: Any = None,
) -> View:
    opts = Options(
        show_shapes,
        show_dtype,
        show_layer_names,
        expand_nested,
        show_trainable,
        show_layer_activations,
        show_backward,
    )
    view = build_view(model, opts, rankdir)
    if profile is not None and gradient_norms is not None:
        raise ValueError("plot_model(): give profile or gradient_norms, not both (one colouring)")
    if isinstance(gradient_norms, (tuple, list)):
        gradient_norms = _norms_of(model, gradient_norms, expand_nested)
    for name, colouring in (("profile", profile), ("gradient_norms", gradient_norms)):
        if colouring is None:
            continue
        if not hasattr(colouring, "annotate"):
            raise TypeError(
                f"plot_model(): {name} must come from model.profile(...) or "
                f"ge.utils.gradient_norms(...) (or be (x, y)), received {type(colouring).__name__}"
            )
        if colouring.expand_nested != expand_nested:
            raise ValueError(
                f"{name} was taken with expand_nested={colouring.expand_nested}, but the "
                f"picture asks for expand_nested={expand_nested}; take it again with the same"
            )
        colouring.annotate(view)
    return view


def _norms_of(model: Any, batch: Any, expand_nested: bool) -> Any:
    """`gradient_norms=(x, y)` (or (x, y, sample_weight)): the norms of that batch."""
    from graphengine.viz.gradients import gradient_norms

    if len(batch) not in (2, 3):
        raise ValueError(
            f"plot_model(): gradient_norms=(x, y) takes a batch and its targets (and optionally "
            f"sample weights), received a {type(batch).__name__} of {len(batch)} items"
        )
    return gradient_norms(model, *batch[:2], *batch[2:], expand_nested=expand_nested)


def model_to_dot(
    model: Any,
    show_shapes: bool = True,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    show_backward: bool = False,
    profile: Any = None,
    gradient_norms: Any = None,
) -> str:
    """The DOT text of the picture `plot_model` draws."""
    from graphengine.viz.dot import to_dot

    view = model_view(
        model,
        show_shapes,
        show_dtype,
        show_layer_names,
        rankdir,
        expand_nested,
        show_trainable,
        show_layer_activations,
        show_backward,
        profile,
        gradient_norms,
    )
    return to_dot(view, show_trainable, dpi)


def plot_model(
    model: Any,
    to_file: str = "model.png",
    show_shapes: bool = True,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    show_backward: bool = False,
    profile: Any = None,
    engine: str = "matplotlib",
    gradient_norms: Any = None,
    **kwargs: Any,
) -> str:
    """Writes a picture of `model` to `to_file` and returns its path. `show_backward` draws the
    gradient graph beside the forward one; `profile` (from `model.profile(x, y)`) colours
    each layer by its time; `gradient_norms` (x, y) (or `ge.utils.gradient_norms(model, x,
    y)`) shows each layer's weight- and output-gradient norms for that batch's compiled loss,
    coloured on a log scale (vanishing gradients stand out). `engine`: "matplotlib" (default),
    "graphviz" (needs the `dot` program) or "auto" (Graphviz when installed) for .svg and
    .png."""
    if kwargs:
        from graphengine import common

        valid = common.parameter_names(plot_model)
        common.check_kwargs("plot_model()", kwargs, valid)
    to_file = os.fspath(to_file)
    suffix = os.path.splitext(to_file)[1].lower() or ".png"
    if not os.path.splitext(to_file)[1]:
        to_file += ".png"
    if suffix not in FORMATS:
        raise ValueError(
            f"plot_model(): cannot write {to_file!r}; the suffix picks the format, one of "
            f"{', '.join(FORMATS)}"
        )
    if engine not in ("matplotlib", "graphviz", "auto"):
        raise ValueError(f"plot_model(): {engine=} is not 'matplotlib', 'graphviz' or 'auto'")
    if dpi <= 0:
        raise ValueError(f"plot_model(): {dpi=} must be positive")
    view = model_view(
        model,
        show_shapes,
        show_dtype,
        show_layer_names,
        rankdir,
        expand_nested,
        show_trainable,
        show_layer_activations,
        show_backward,
        profile,
        gradient_norms,
    )
    if suffix in (".dot", ".gv"):
        from graphengine.viz.dot import to_dot

        _write_text(to_file, to_dot(view, show_trainable, dpi))
        return to_file
    if suffix in (".svg", ".png") and engine != "matplotlib":
        from graphengine.viz.dot import graphviz_available, run_graphviz, to_dot

        if graphviz_available():
            run_graphviz(to_dot(view, show_trainable, dpi), to_file, suffix[1:])
            return to_file
        if engine == "graphviz":
            raise RuntimeError(
                "plot_model(engine='graphviz') needs Graphviz's `dot` program on PATH; "
                "engine='matplotlib' draws without it"
            )
    from graphengine.viz.render import draw, save, scene

    fig = draw(view, scene(view, show_trainable), show_trainable, dpi)
    if suffix in (".html", ".htm"):
        from graphengine.viz.html import page

        _write_text(to_file, page(view, fig, view.profile_note))
    else:
        save(fig, to_file, suffix[1:], dpi)
    return to_file


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
