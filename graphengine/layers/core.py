"""Core layers: Input, Dense, Activation, Lambda, Embedding, Identity."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from graphengine import common, initializers, ops, regularizers
from graphengine.graph import node as graph_node
from graphengine.graph.node import LayerCall
from graphengine.graph.tensor import SymbolicTensor, format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.ops import activations
from graphengine.ops.base import apply, is_symbolic
from graphengine.ops.matmul import Dense as DenseOp
from graphengine.ops.pyfunc import PyFunc
from graphengine.tree import flatten, pack_like


class InputLayer(Layer):
    """The source of a model input: holds the placeholder tensor that `ge.Input` returns."""

    def __init__(
        self,
        shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        dtype: Any = None,
        name: str | None = None,
        batch_shape: Sequence | None = None,
        **kwargs: Any,
    ) -> None:
        string = isinstance(dtype, str) and dtype == "string"  # fed arrays of Python str
        super().__init__(name=name or None, dtype=None if string else dtype, **kwargs)
        if string:
            self.dtype = "string"
        self.batch_shape = self._batch_shape(shape, batch_size, batch_shape)
        tensor = SymbolicTensor(self.batch_shape, self.dtype, name=self.name)
        call = LayerCall(self, [], [], {})  # its output is the layer's `output`
        call.outputs, call.output_struct = [tensor], tensor
        tensor.layer_call = call
        self.built = True

    def get_input_at(self, node_index: int) -> Any:
        """An input layer's input is its own tensor (what `ge.Input` returned), as its output."""
        return self.get_output_at(node_index)

    def _batch_shape(self, shape: Any, batch_size: Any, batch_shape: Any) -> tuple:
        """(batch_size, *shape) or batch_shape, each entry a non-negative int or None, as
        Keras's standardize_shape: floats, bools and negative sizes raise ValueError."""
        owner = f"Input '{self.name}'"
        if batch_shape is not None:
            if shape is not None or batch_size is not None:
                raise ValueError(
                    f"{owner}: give either batch_shape or shape (with batch_size), not both; "
                    f"received {batch_shape=}, {shape=}, {batch_size=}"
                )
            return common.check_shape(batch_shape, "batch_shape", owner)
        if shape is None:
            raise ValueError("Input needs a shape (without the batch axis), e.g. shape=(28, 28, 1)")
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
            shape = (shape,)
        shape = common.check_shape(shape, "shape", owner)
        if batch_size is not None:
            batch_size = common.check_int(batch_size, "batch_size", owner)
        return (batch_size,) + shape

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}


def Input(
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    dtype: Any = None,
    name: str | None = None,
    batch_shape: Sequence[int | None] | None = None,
) -> SymbolicTensor:
    """Makes a symbolic tensor, the start of a functional model.

    `ge.Input(shape=(32,))` stands for batches of 32-vectors: a SymbolicTensor of shape
    `(None, 32)` that layers are called on, and that `ge.Model(inputs, outputs)` takes as an
    input (fed arrays of that shape by fit, evaluate, predict and `model(x)`).

    Example:

    >>> x = ge.Input(shape=(32,), name="features")
    >>> x.shape, x.dtype
    ((None, 32), 'float32')
    >>> ge.Input(shape=(), dtype="string").shape
    (None,)

    Args:
        shape: The shape of one sample, without the batch axis; None entries are sizes known
            only from the data (e.g. `(None, 8)` for sequences of any length).
        batch_size: A fixed batch size (stateful recurrent layers need one); default None.
        dtype: The dtype fed: "float32" (default), "float64", an integer type, "bool", or
            "string" (arrays of Python str, for TextVectorization and the lookup layers).
        name: The input's name, unique in a model (a dict of inputs is matched by it).
        batch_shape: The full shape, batch axis included, instead of `shape` and
            `batch_size`.

    Returns:
        A SymbolicTensor (`.shape`, `.dtype`, `.name`).
    """
    return InputLayer(
        shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape
    ).output


class Dense(Layer):
    """Just your regular densely-connected NN layer.

    `Dense` computes `output = activation(dot(input, kernel) + bias)`, where `activation` is
    applied elementwise, `kernel` is a weights matrix made by the layer, and `bias` a bias
    vector (only when `use_bias` is True). It acts on the last axis of an input of any rank
    >= 2: `(batch, d0, d1)` gives `(batch, d0, units)`, as in Keras. The product, bias and a
    relu, sigmoid, tanh, relu6 or step activation run as one fused kernel.

    Weights (`get_weights()` order): kernel `(input_dim, units)`, bias `(units,)`.

    Example:

    >>> x = ge.Input(shape=(16,))
    >>> ge.layers.Dense(32, activation="relu")(x).shape
    (None, 32)
    >>> ge.layers.Dense(1, use_bias=False)(np.zeros((64, 4, 2), "float32")).shape
    (64, 4, 1)

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function to use: a name (`"relu"`, `"softmax"`, ...), a
            `ge.activations` function, or a function written with `ge.ops`. If you don't
            specify anything, no activation is applied (`a(x) = x`).
        use_bias: Boolean, whether the layer uses a bias vector.
        kernel_initializer: Initializer for the kernel weights matrix (default
            `"glorot_uniform"`).
        bias_initializer: Initializer for the bias vector (default `"zeros"`).
        kernel_regularizer: Regularizer function applied to the kernel weights matrix.
        bias_regularizer: Regularizer function applied to the bias vector.
        **kwargs: Standard layer keyword arguments (`name`, `dtype`, `trainable`,
            `input_shape`, `input_dim`, `activity_regularizer`). Weight constraints and LoRA
            are not supported.

    Input shape:
        N-D tensor with shape `(batch_size, ..., input_dim)`; the last axis must be known.

    Output shape:
        N-D tensor with shape `(batch_size, ..., units)`.
    """

    supports_masking = True

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
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                f"Dense '{self.name}': units must be a positive integer, got {units!r}"
            )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: tuple) -> None:
        last = input_shape[-1] if len(input_shape) else None
        if last is None:
            raise ValueError(
                f"Layer '{self.name}' (Dense): the last dimension of the input must be "
                f"known, received shape {format_shape(input_shape)}"
            )
        self.kernel = self.add_weight(
            (last, self.units),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = (
            self.add_weight(
                (self.units,), self.bias_initializer, regularizer=self.bias_regularizer, name="bias"
            )
            if self.use_bias
            else None
        )
        self.input_spec = InputSpec(min_ndim=2, axes={-1: last})

    def call(self, inputs: Any) -> Any:
        """One fused op (product, bias, activation) where the activation can be fused."""
        fused = activations.fused_name(self.activation, activations.BIAS)
        args = (inputs, self.kernel) + ((self.bias,) if self.bias is not None else ())
        y = apply(DenseOp(fused or "linear", self.bias is not None), *args)
        return y if fused else self.activation(y)

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


class Activation(Layer):
    """y = activation(x)."""

    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Any) -> Any:
        return self.activation(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Lambda(Layer):
    """Wraps `function(inputs, **arguments)`. Built from ge.ops it is part of the graph and
    differentiable; any other (NumPy) function runs forward only, as an opaque op."""

    def __init__(
        self,
        function: Callable,
        output_shape: Any = None,
        mask: Any = None,
        arguments: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': function must be callable, got {function!r}")
        self.function = function
        self.output_shape = tuple(output_shape) if output_shape is not None else None
        self.mask = mask
        self.arguments = dict(arguments or {})

    def call(self, inputs: Any) -> Any:
        if not any(is_symbolic(x) for x in flatten(inputs)):
            return self.function(inputs, **self.arguments)
        call = graph_node._call_stack[-1]
        n_nodes = len(call.nodes)
        try:
            return self.function(inputs, **self.arguments)
        except (TypeError, AttributeError):
            del call.nodes[n_nodes:]  # drop what the failed symbolic trace recorded
        return apply(
            PyFunc(self._numpy_function(inputs), self.output_shape, self.name), *flatten(inputs)
        )

    def _numpy_function(self, structure: Any) -> Callable:
        def run(*arrays: np.ndarray) -> Any:
            return self.function(pack_like(structure, list(arrays)), **self.arguments)

        return run

    def get_config(self) -> dict[str, Any]:
        from graphengine import common

        name = common.registered_name(self.function)
        if name is None:
            raise ValueError(
                f"Lambda '{self.name}': its function {self.function!r} is not "
                "registered, so the layer cannot be serialized; decorate the function "
                "with @ge.utils.register_serializable()"
            )
        return {
            **super().get_config(),
            "function": {"registered": name},
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "arguments": self.arguments,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Lambda:
        from graphengine import common

        config = dict(config)
        fn = config.pop("function")
        return cls(common.registered(fn["registered"]) if isinstance(fn, dict) else fn, **config)


class Embedding(Layer):
    """Turns nonnegative integers (indexes) into dense vectors of fixed size.

    e.g. `[[4], [20]] -> [[[0.25, 0.1]], [[0.6, -0.2]]]`: each id selects a row of the
    `(input_dim, output_dim)` table. This layer can only be used on integer inputs of a fixed
    range (float ids are cast to integers, as in Keras); an id outside `[0, input_dim)` raises a
    ValueError when the layer runs, rather than reading past the table.

    Weights: embeddings `(input_dim, output_dim)`.

    Example:

    >>> ids = ge.Input(shape=(10,), dtype="int32")
    >>> ge.layers.Embedding(1000, 64)(ids).shape
    (None, 10, 64)

    Args:
        input_dim: Integer, size of the vocabulary, i.e. maximum integer index + 1.
        output_dim: Integer, dimension of the dense embedding.
        embeddings_initializer: Initializer for the embeddings matrix (default `"uniform"`:
            uniform on [-0.05, 0.05]).
        embeddings_regularizer: Regularizer function applied to the embeddings matrix.
        mask_zero: Boolean, whether the input value 0 is a special "padding" value that should
            be masked out: the output then carries a mask (False where the id is 0) that
            recurrent layers, attention and GlobalAveragePooling1D use. Index 0 then cannot be
            used in the vocabulary (`input_dim` should be vocabulary size + 1).
        weights: Optional initial table, an array `(input_dim, output_dim)` (or a list
            holding it).
        **kwargs: Standard layer keyword arguments. Keras 2's `input_length` is ignored with a
            warning, as Keras 3 does.

    Input shape:
        Tensor of integer ids of any shape `(batch_size, ...)`, e.g. `(batch_size,
        input_length)`.

    Output shape:
        The input's shape with `output_dim` appended, e.g. `(batch_size, input_length,
        output_dim)`.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        mask_zero: bool = False,
        weights: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("input_length", None) is not None:  # Keras 2's; Keras 3 drops it too
            warnings.warn(
                "Embedding: argument `input_length` is deprecated (Keras 3 ignores it). "
                "Just remove it.",
                UserWarning,
                stacklevel=2,
            )
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(
                    f"Embedding '{self.name}': {arg} must be a positive integer, got {value!r}"
                )
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = mask_zero
        if weights is not None:  # Keras's initial table: one array, or a list holding it
            self.build(None)
            self.built = True
            self.set_weights(
                weights if isinstance(weights, list) and len(weights) == 1 else [weights]
            )

    def build(self, input_shape: tuple | None) -> None:
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim),
            self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            name="embeddings",
        )

    def _autocast(self, inputs: Any) -> Any:
        return inputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """With mask_zero, id 0 is padding: the mask is 1.0 where ids != 0."""
        return ops.not_equal(inputs, 0) if self.mask_zero else None

    def call(self, inputs: Any) -> Any:
        dtype = inputs.dtype if isinstance(inputs, SymbolicTensor) else inputs.dtype.name
        if np.dtype(dtype).kind not in "iu":
            inputs = ops.cast(inputs, "int32")  # Keras casts float ids to integers too
        return ops.take_rows(self.embeddings, inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "mask_zero": self.mask_zero,
        }


class Identity(Layer):
    """Returns its input unchanged (any nesting of tensors), masks included: a placeholder where
    no operation is wanted."""

    supports_masking = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.built = True  # nothing to build (Keras builds it at construction)

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask
