"""Gradient rules of the image resampling ops: the adjoint of the resampling carries dy back to
the images; the drawn transforms get none (they are random, not a function of any input)."""

from __future__ import annotations

from graphengine.autodiff.rules import no_gradient, rule
from graphengine.graph.node import Node
from graphengine.ops.base import apply
from graphengine.ops.image import AffineGrad, RandomAffine, RandomCrop, Resize, ResizeGrad

no_gradient(ResizeGrad, AffineGrad)


@rule(Resize)
def _resize(node: Node, g: list) -> list:
    return [None if g[0] is None else apply(ResizeGrad(node.op), g[0], node.inputs[0])]


@rule(RandomAffine)
@rule(RandomCrop)
def _random_affine(node: Node, g: list) -> list:
    if g[0] is None:
        return [None]
    return [apply(AffineGrad(node.op), g[0], node.outputs[1], node.inputs[0])]
