"""The graph layers' own primitive (ops/graph_conv.py) has integer outputs, ids only: no gradient
flows through it. The layers' gradients come from the ops they compose."""

from __future__ import annotations

from graphengine.autodiff.rules import no_gradient
from graphengine.ops.graph_conv import GraphEdges

no_gradient(GraphEdges)
