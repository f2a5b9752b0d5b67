"""Graph convolutions with PyTorch Geometric's numbers: GraphConv (PyG's GCNConv), SAGEConv,
GATConv and GINConv. Each is called on [nodes (N, F), edges int (E, 2)] (one (source, target)
row per edge; messages flow source -> target and are summed, averaged or maxed at the target),
plus one weight per edge (E,) as an optional third input where the layer takes it. Composed
from ge.ops, the segment ops and graph_edges (ops/graph_conv.py: the node-id check)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common, initializers, ops, regularizers
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import Layer
from graphengine.layers.regularization import seed_generator
from graphengine.layers.serialization import deserialize_layer, serialize_layer
from graphengine.ops import activations
from graphengine.ops import regularization as reg
from graphengine.ops.base import apply, is_symbolic
from graphengine.ops.graph_conv import graph_edges, propagate
from graphengine.ops.matmul import Dense as DenseOp
from graphengine.ops.segment import (
    segment_max_like,
    segment_softmax_like,
    segment_sum_like,
)

AGGREGATORS = ("mean", "max", "sum")


def _product(x: Any, kernel: Any, bias: Any = None) -> Any:
    """x @ kernel (+ bias): Dense's fused op."""
    args = (x, kernel) + (() if bias is None else (bias,))
    return apply(DenseOp("linear", bias is not None), *args)


def _aggregate(aggregator: str, x: Any, src: Any, tgt: Any, weight: Any) -> Any:
    """The sum, mean or max at each target of its incoming messages x[source] (times the edge
    weights), 0 for a node without any: sums and means in one propagate pass (a mean divides by
    the edge count, at least 1, as PyG's scatter mean); a max over the gathered messages."""
    if aggregator == "max":
        return segment_max_like(_weighted(ops.take(x, src, axis=0), weight), tgt, x)
    total = propagate(x, src, tgt, x, weight)
    if aggregator == "sum":
        return total
    count = segment_sum_like(ops.ones_like(src, x.dtype), tgt, x)
    return ops.divide(total, ops.expand_dims(ops.maximum(count, 1.0), -1))


def _weighted(messages: Any, weight: Any) -> Any:
    """Messages (E, ...) times one weight per edge (E,), or unchanged without weights."""
    if weight is None:
        return messages
    return ops.multiply(messages, ops.reshape(weight, (-1,) + (1,) * (len(messages.shape) - 1)))


class GraphLayer(Layer):
    """What the graph layers share: the checks of their inputs [nodes, edges(, edge_weight)]."""

    takes_edge_weight = True

    @property
    def owner(self) -> str:
        """How error messages name the layer: its class and name."""
        return f"{type(self).__name__} '{self.name}'"

    def _expected(self) -> str:
        extra = " or [nodes, edges, edge_weight]" if self.takes_edge_weight else ""
        return f"[nodes, edges]{extra}"

    def check_shapes(self, shapes: Any) -> tuple:
        """The inputs' shapes (nodes, edges, edge_weight or None), each checked."""
        count = len(shapes) if isinstance(shapes, list) else 1
        if count not in (2, 3 if self.takes_edge_weight else 2):
            raise ValueError(
                f"{self.owner} expects inputs {self._expected()}, received {count} input"
                f"{'s' if count != 1 else ''}"
            )
        nodes, edges = shapes[0], shapes[1]
        if len(nodes) != 2 or nodes[1] is None:
            raise ValueError(
                f"{self.owner}: nodes (input 0) must have shape (N, F) with F known, received "
                f"shape {format_shape(nodes)}"
            )
        if len(edges) != 2 or edges[1] not in (None, 2):
            raise ValueError(
                f"{self.owner}: edges (input 1) must have shape (E, 2), one (source, target) "
                f"row per edge, received shape {format_shape(edges)}"
            )
        weight = shapes[2] if len(shapes) == 3 else None
        if weight is not None and len(weight) != 1:
            raise ValueError(
                f"{self.owner}: edge_weight (input 2) must have shape (E,), one weight per "
                f"edge, received shape {format_shape(weight)}"
            )
        return nodes, edges, weight

    def split(self, inputs: Any) -> tuple:
        """(nodes, edges, edge_weight or None), their shapes and dtypes checked."""
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self.check_shapes([tuple(x.shape) for x in inputs] if len(inputs) > 1 else ())
        if np.dtype(inputs[1].dtype).kind not in "iu":
            raise TypeError(
                f"{self.owner}: edges (input 1) must hold integer node ids, received dtype "
                f"{np.dtype(inputs[1].dtype).name}"
            )
        weight = inputs[2] if len(inputs) == 3 else None
        if weight is not None and np.dtype(weight.dtype).kind != "f":
            raise TypeError(
                f"{self.owner}: edge_weight (input 2) must be floating point, received dtype "
                f"{np.dtype(weight.dtype).name}"
            )
        return inputs[0], inputs[1], weight  # float inputs come cast to the layer's dtype


class _UnitsLayer(GraphLayer):
    """A graph layer with `units`, `activation`, `use_bias` and Dense's weight arguments."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = common.check_int(units, "units", self.owner, minimum=1)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def add_kernel(self, shape: tuple, name: str = "kernel") -> Any:
        """A kernel weight with the layer's kernel initializer and regularizer."""
        return self.add_weight(
            shape, self.kernel_initializer, regularizer=self.kernel_regularizer, name=name
        )

    def add_bias(self, size: int) -> Any:
        """A (size,) bias weight with the layer's bias initializer and regularizer."""
        return self.add_weight(
            (size,), self.bias_initializer, regularizer=self.bias_regularizer, name="bias"
        )

    def finish(self, y: Any) -> Any:
        """activation(y + bias)."""
        if self.use_bias:
            y = ops.add(y, self.bias)
        return self.activation(y)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }


class GraphConv(_UnitsLayer):
    """Kipf & Welling's graph convolution, PyG's GCNConv: y = activation(D^-1/2 (A + I) D^-1/2
    x @ kernel + bias), A[t, s] the summed weights of the edges s -> t (1 without edge weights),
    D the row sums of A + I. add_self_loops: PyG's add_remaining_self_loops (a node's self loop
    keeps its weight, others get 1; several weighted self loops of one node add up);
    normalize=False: the plain weighted sum A x @ kernel, no loops (as PyG, which then refuses
    add_self_loops=True). Weights: kernel (F, units), bias (units,)."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        add_self_loops: bool = True,
        normalize: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, activation, use_bias, **kwargs)
        self.add_self_loops = bool(add_self_loops)
        self.normalize = bool(normalize)

    def build(self, input_shape: Any) -> None:
        nodes, _, _ = self.check_shapes(input_shape)
        self.kernel = self.add_kernel((nodes[1], self.units))
        self.bias = self.add_bias(self.units) if self.use_bias else None

    def call(self, inputs: Any) -> Any:
        x, edges, weight = self.split(inputs)
        h = _product(x, self.kernel)
        src, tgt, norm = self.propagation(x, edges, weight)
        return self.finish(propagate(h, src, tgt, x, norm))

    def propagation(self, x: Any, edges: Any, weight: Any) -> tuple:
        """(sources, targets, edge weights or None) of the normalized adjacency (gcn_norm)."""
        if not self.normalize:
            return (*graph_edges(edges, x, weight), weight)
        if self.add_self_loops:
            src, tgt, weight = _with_self_loops(x, edges, weight, self.dtype)
        else:
            src, tgt = graph_edges(edges, x, weight)
            weight = ops.ones_like(src, self.dtype) if weight is None else weight
        degree = segment_sum_like(weight, tgt, x)
        empty = ops.equal(degree, 0.0)  # PyG: deg^-1/2 of 0 is inf, set to 0
        scale = ops.where(empty, 0.0, ops.power(ops.where(empty, 1.0, degree), -0.5))
        norm = ops.multiply(
            ops.multiply(ops.take(scale, src, axis=0), weight), ops.take(scale, tgt, axis=0)
        )
        return src, tgt, norm

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "add_self_loops": self.add_self_loops,
            "normalize": self.normalize,
        }


def _with_self_loops(x: Any, edges: Any, weight: Any, dtype: str) -> tuple:
    """PyG's add_remaining_self_loops with fill value 1: (sources, targets, weights) of the
    edges whose self loops are replaced by one loop per node, appended after them. An existing
    loop's weight becomes its node's (several add up); the replaced edges get weight 0."""
    src, tgt, loops = graph_edges(edges, x, weight, self_loops=True)
    kept = ops.not_equal(src, tgt)
    if weight is None:
        edge_w, loop_w = ops.cast(kept, dtype), ops.ones_like(loops, dtype)
    else:
        edge_w = ops.where(kept, weight, 0.0)  # selections: a loop's NaN stays its own
        loop_count = segment_sum_like(ops.cast(ops.logical_not(kept), dtype), tgt, x)
        loop_sum = segment_sum_like(ops.where(kept, 0.0, weight), tgt, x)
        loop_w = ops.where(ops.greater(loop_count, 0.0), loop_sum, 1.0)
    cat = ops.concatenate
    return cat([src, loops]), cat([tgt, loops]), cat([edge_w, loop_w])


class SAGEConv(_UnitsLayer):
    """GraphSAGE (Hamilton et al.), PyG's SAGEConv: y = activation(agg_j(x_j) @ kernel + bias
    + x @ root_kernel), agg the mean, max or sum over a node's incoming edges (0 for a node
    without any), then L2-normalized rows with `normalize`. Edge weights (not in PyG) multiply
    the messages x_j first, as DGL's. Weights: kernel (F, units) = PyG's lin_l.weight.T,
    root_kernel (F, units) = lin_r.weight.T (root_weight only), bias (units,) = lin_l.bias."""

    def __init__(
        self,
        units: int,
        aggregator: str = "mean",
        activation: Any = None,
        use_bias: bool = True,
        normalize: bool = False,
        root_weight: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, activation, use_bias, **kwargs)
        if aggregator not in AGGREGATORS:
            raise ValueError(
                f"{self.owner}: aggregator must be one of {', '.join(map(repr, AGGREGATORS))}, "
                f"received aggregator={aggregator!r}"
            )
        self.aggregator = aggregator
        self.normalize = bool(normalize)
        self.root_weight = bool(root_weight)

    def build(self, input_shape: Any) -> None:
        nodes, _, _ = self.check_shapes(input_shape)
        self.kernel = self.add_kernel((nodes[1], self.units))
        self.root_kernel = (
            self.add_kernel((nodes[1], self.units), "root_kernel") if self.root_weight else None
        )
        self.bias = self.add_bias(self.units) if self.use_bias else None

    def call(self, inputs: Any) -> Any:
        x, edges, weight = self.split(inputs)
        src, tgt = graph_edges(edges, x, weight)
        y = _product(_aggregate(self.aggregator, x, src, tgt, weight), self.kernel, self.bias)
        if self.root_kernel is not None:
            y = ops.add(y, _product(x, self.root_kernel))
        if self.normalize:  # F.normalize: y / max(|y|, 1e-12), as UnitNormalization
            y = ops.divide(y, ops.sqrt(ops.maximum(ops.sum(ops.square(y), -1, True), 1e-24)))
        return self.activation(y)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "aggregator": self.aggregator,
            "normalize": self.normalize,
            "root_weight": self.root_weight,
        }


class GATConv(_UnitsLayer):
    """Graph attention (Velickovic et al.), PyG's GATConv: h = x @ kernel as (N, heads,
    units); per edge s -> t and head the score leaky_relu(h_s . attention_source + h_t .
    attention_target), softmax over each target's incoming edges (with one self loop per node,
    existing ones replaced, when add_self_loops), dropout on those coefficients in training;
    y = activation(sum_s alpha h_s, heads concatenated (concat) or averaged, + bias). Weights:
    kernel (F, heads*units) = lin.weight.T, attention_source (heads, units) = att_src[0],
    attention_target (heads, units) = att_dst[0], bias (heads*units if concat else units,)."""

    takes_edge_weight = False

    def __init__(
        self,
        units: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        activation: Any = None,
        use_bias: bool = True,
        attention_initializer: Any = "glorot_uniform",
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, activation, use_bias, **kwargs)
        self.heads = common.check_int(heads, "heads", self.owner, minimum=1)
        self.concat = bool(concat)
        self.negative_slope = float(negative_slope)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.number)):
            raise TypeError(f"{self.owner}: dropout must be a float, received {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{self.owner}: dropout must be in [0, 1), received {dropout=}")
        self.dropout = float(dropout)
        self.add_self_loops = bool(add_self_loops)
        self.attention_initializer = initializers.get(attention_initializer)
        self.seed, self._rng = seed_generator(self, seed)

    def build(self, input_shape: Any) -> None:
        nodes, _, _ = self.check_shapes(input_shape)
        H, U = self.heads, self.units
        self.kernel = self.add_kernel((nodes[1], H * U))
        self.attention_source = self.add_weight(
            (H, U), self.attention_initializer, name="attention_source"
        )
        self.attention_target = self.add_weight(
            (H, U), self.attention_initializer, name="attention_target"
        )
        self.bias = self.add_bias(H * U if self.concat else U) if self.use_bias else None

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x, edges, _ = self.split(inputs)
        h = ops.reshape(_product(x, self.kernel), (-1, self.heads, self.units))
        score_src = ops.sum(ops.multiply(h, self.attention_source), -1)  # (N, heads)
        score_tgt = ops.sum(ops.multiply(h, self.attention_target), -1)
        src, tgt, kept = self._edges(x, edges)
        score = ops.add(ops.take(score_src, src, axis=0), ops.take(score_tgt, tgt, axis=0))
        score = ops.relu(score, negative_slope=self.negative_slope)
        if kept is not None:  # replaced self loops: exp(-inf) = 0, exactly as left out
            score = ops.where(ops.expand_dims(kept, -1), score, -np.inf)
        alpha = self._drop(segment_softmax_like(score, tgt, x), training)
        y = propagate(h, src, tgt, x, alpha)  # (N, heads, units)
        y = ops.reshape(y, (-1, self.heads * self.units)) if self.concat else ops.mean(y, 1)
        return self.finish(y)

    def _edges(self, x: Any, edges: Any) -> tuple:
        """(sources, targets, which edges count or None): with add_self_loops, PyG's
        remove_self_loops then add_self_loops, the loops appended after the edges."""
        if not self.add_self_loops:
            return (*graph_edges(edges, x), None)
        src, tgt, loops = graph_edges(edges, x, self_loops=True)
        kept = ops.concatenate([ops.not_equal(src, tgt), ops.ones_like(loops, "bool")])
        return ops.concatenate([src, loops]), ops.concatenate([tgt, loops]), kept

    def _drop(self, alpha: Any, training: Any) -> Any:
        if self.dropout == 0.0:
            return alpha
        rng = self._rng
        if rng is None and not is_symbolic(alpha):
            rng = common.rng()  # eager calls: reproducible under ge.utils.set_random_seed
        return apply(reg.Dropout(self.dropout, None, training, rng), alpha)[0]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "heads": self.heads,
            "concat": self.concat,
            "negative_slope": self.negative_slope,
            "dropout": self.dropout,
            "add_self_loops": self.add_self_loops,
            "attention_initializer": initializers.serialize(self.attention_initializer),
            "seed": self.seed,
        }


class GINConv(GraphLayer):
    """The graph isomorphism network layer (Xu et al.), PyG's GINConv: y = mlp((1 + eps) x +
    sum_s x_s) over each node's incoming edges (edge weights, not in PyG, multiply the
    messages), `mlp` any ge layer or model, called as a layer of its own. Weights: eps (a
    scalar; trainable only with train_eps), then the mlp's."""

    def __init__(self, mlp: Any, eps: float = 0.0, train_eps: bool = False, **kwargs: Any) -> None:
        if not isinstance(mlp, Layer):
            raise TypeError(
                f"GINConv: mlp must be a ge layer or model (e.g. a ge.Sequential of Dense "
                f"layers), received {mlp!r}"
            )
        super().__init__(**kwargs)
        self.mlp = mlp
        self.initial_eps = float(eps)
        self.train_eps = bool(train_eps)

    def build(self, input_shape: Any) -> None:
        self.check_shapes(input_shape)
        self.eps = self.add_weight(
            (), initializers.Constant(self.initial_eps), trainable=self.train_eps, name="eps"
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x, edges, weight = self.split(inputs)
        src, tgt = graph_edges(edges, x, weight)
        total = propagate(x, src, tgt, x, weight)
        total = ops.add(total, ops.multiply(ops.add(self.eps, 1.0), x))
        return self.mlp(total, **({} if training is None else {"training": training}))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "mlp": serialize_layer(self.mlp),
            "eps": self.initial_eps,
            "train_eps": self.train_eps,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GINConv:
        config = dict(config)
        return cls(deserialize_layer(config.pop("mlp")), **config)
