"""Graph-level pooling after PyTorch Geometric's global_add/mean/max_pool: inputs [nodes (N, ...),
graph_index int (N,)], one graph id per node, to one row per graph (G, ...), G = max(graph_index)
+ 1 (a graph without nodes gives zeros, as PyG's scatter)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphengine.graph.tensor import format_shape
from graphengine.layers.base import Layer
from graphengine.ops import segment


class _GlobalGraphPool(Layer):
    """One segment reduction of the node rows by graph id; subclasses name it."""

    reduce: Callable[..., Any]

    def _check(self, shapes: Any) -> None:
        owner = f"{type(self).__name__} '{self.name}'"
        count = len(shapes) if isinstance(shapes, list) else 1
        if count != 2:
            raise ValueError(
                f"{owner} expects inputs [nodes, graph_index], received {count} input"
                f"{'s' if count != 1 else ''}"
            )
        nodes, index = shapes
        if len(nodes) < 1 or len(index) != 1:
            raise ValueError(
                f"{owner}: nodes (input 0) must have one row per node and graph_index (input 1) "
                f"shape (N,), one graph id per node; received shapes {format_shape(nodes)} and "
                f"{format_shape(index)}"
            )
        if None not in (nodes[0], index[0]) and nodes[0] != index[0]:
            raise ValueError(
                f"{owner}: graph_index has {index[0]} ids for {nodes[0]} nodes; it must have "
                "one graph id per node"
            )

    def build(self, input_shape: Any) -> None:
        self._check(input_shape)

    def call(self, inputs: Any) -> Any:
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._check([tuple(x.shape) for x in inputs] if len(inputs) > 1 else ())
        nodes, index = inputs
        if np.dtype(index.dtype).kind not in "iu":
            raise TypeError(
                f"{type(self).__name__} '{self.name}': graph_index (input 1) must hold integer "
                f"graph ids, received dtype {np.dtype(index.dtype).name}"
            )
        return type(self).reduce(nodes, index)


class GlobalGraphSumPool(_GlobalGraphPool):
    """y[g] = the sum of the rows of graph g's nodes (PyG's global_add_pool)."""

    reduce = staticmethod(segment.segment_sum)


class GlobalGraphMeanPool(_GlobalGraphPool):
    """y[g] = the mean of the rows of graph g's nodes (PyG's global_mean_pool)."""

    reduce = staticmethod(segment.segment_mean)


class GlobalGraphMaxPool(_GlobalGraphPool):
    """y[g] = the largest value of each feature over graph g's nodes (PyG's global_max_pool)."""

    reduce = staticmethod(segment.segment_max)
