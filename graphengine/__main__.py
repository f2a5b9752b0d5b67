"""`python -m graphengine plot m.gez -o m.svg` and `python -m graphengine summary m.gez`:
looking at saved models from the command line; `python -m graphengine warmup [--layers
lstm,conv]`: compiling the kernels ahead of time (graphengine/warmup.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from graphengine.warmup import FAMILIES, warmup


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m graphengine",
        description="Inspect models saved with model.save(); compile the kernels ahead of time.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    plot = sub.add_parser("plot", help="draw a saved model (.dot, .svg, .png or .html)")
    plot.add_argument("path", help="a model file written by model.save()")
    plot.add_argument(
        "-o",
        "--output",
        required=True,
        help="picture file; its suffix picks the format: .dot, .svg, .png or .html",
    )
    for flag, default, what in (
        ("shapes", True, "input and output shapes"),
        ("dtype", False, "output dtypes"),
        ("layer-names", True, "layer names"),
        ("trainable", False, "whether each layer is trainable"),
        ("layer-activations", False, "activations"),
        ("backward", False, "the backward (gradient) graph beside the forward one"),
    ):
        plot.add_argument(
            f"--show-{flag}",
            action=argparse.BooleanOptionalAction,
            default=default,
            help=f"show {what}",
        )
    plot.add_argument(
        "--expand-nested",
        action="store_true",
        help="draw nested models as clusters of their layers",
    )
    plot.add_argument("--rankdir", default="TB", choices=["TB", "LR", "BT", "RL"])
    plot.add_argument("--dpi", type=int, default=200)
    plot.add_argument("--engine", default="matplotlib", choices=["matplotlib", "graphviz", "auto"])
    summary = sub.add_parser("summary", help="print the layer table of a saved model")
    summary.add_argument("path", help="a model file written by model.save()")
    summary.add_argument("--expand-nested", action="store_true")
    summary.add_argument("--show-trainable", action="store_true")
    summary.add_argument("--line-length", type=int, default=None)
    warm = sub.add_parser(
        "warmup", help="compile the kernels of the layer families named into the disk cache"
    )
    warm.add_argument(
        "--layers",
        default=None,
        help=f"comma-separated families (default: all): {','.join(FAMILIES)}",
    )
    return parser


def _warmup(layers: str | None) -> int:
    families = None if layers is None else [n.strip() for n in layers.split(",") if n.strip()]
    try:
        seconds = warmup(families)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"warmed up {len(seconds)} layer families in {sum(seconds.values()):.1f} s; "
          "their kernels are in Numba's disk cache")  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "warmup":
        return _warmup(args.layers)
    from graphengine.training.saving import load_model

    try:
        model = load_model(args.path)
    except (OSError, ValueError) as e:
        print(f"error: cannot load {args.path!r}: {e}", file=sys.stderr)
        return 1
    if args.command == "summary":
        model.summary(
            line_length=args.line_length,
            expand_nested=args.expand_nested,
            show_trainable=args.show_trainable,
        )
        return 0
    from graphengine.viz.plot import plot_model

    try:
        out = plot_model(
            model,
            args.output,
            show_shapes=args.show_shapes,
            show_dtype=args.show_dtype,
            show_layer_names=args.show_layer_names,
            rankdir=args.rankdir,
            expand_nested=args.expand_nested,
            dpi=args.dpi,
            show_layer_activations=args.show_layer_activations,
            show_trainable=args.show_trainable,
            show_backward=args.show_backward,
            engine=args.engine,
        )
    except (OSError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
