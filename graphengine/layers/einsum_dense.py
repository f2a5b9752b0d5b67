"""EinsumDense: a dense layer whose product is an einsum equation (Keras 3's), its kernel and
bias shapes read from the equation. A product that is a plain dense one over merged axes
(`ab,bc->ac`, `abc,cde->abde`, `abcd,cde->abe`: the input's free axes, then the contracted ones
in the kernel's order, then the kernel's own) runs as the fused Dense op on reshaped views;
any other through ge.ops.einsum, the bias added and the activation applied after."""

from __future__ import annotations

import math
import re
from typing import Any

from graphengine import initializers, regularizers
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.ops import activations, api
from graphengine.ops.base import apply
from graphengine.ops.matmul import Dense as DenseOp
from graphengine.ops.shape_ops import Reshape

_SPEC = "([a-zA-Z]+)"
# (pattern, where the ellipsis is): none, left of every term, right of the input and output
_FORMS = (
    (re.compile(f"{_SPEC},{_SPEC}->{_SPEC}"), None),
    (re.compile(rf"\.\.\.{_SPEC},{_SPEC}->\.\.\.{_SPEC}"), "left"),
    (re.compile(r"([a-zA-Z]{2,})\.\.\.," + _SPEC + rf"->{_SPEC}\.\.\."), "right"),
)


def _match(equation: str) -> tuple[tuple[str, str, str], str | None]:
    """(input, kernel, output letters) and where the ellipsis is, of one of Keras's forms."""
    for pattern, elided_at in _FORMS:
        found = pattern.fullmatch(equation.replace(" ", ""))
        if found:
            return found.groups(), elided_at
    raise ValueError(
        f"Invalid einsum equation {equation!r}. Equations must be in the form "
        "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...."
    )


def analyze(equation: str, bias_axes: str | None, input_shape: tuple, output_shape: tuple) -> dict:
    """Keras's reading of the equation for an input shape: kernel and bias shapes, the full
    output shape (the partial `output_shape` completed from the input: its batch, and the axes
    the ellipsis stands for) and the kernel's input and output axes (its fans)."""
    (x_spec, w_spec, y_spec), elided_at = _match(equation)
    rank = len(input_shape)
    elided = rank - len(x_spec)
    if elided < 0 or (elided > 0 and elided_at is None):
        raise ValueError(
            f"einsum equation {equation!r} names {len(x_spec)} input axes, but the input has "
            f"shape {format_shape(input_shape)}"
        )
    left = elided if elided_at == "left" else 0
    named = len(y_spec) - (0 if elided_at == "left" else 1)  # the batch is a named axis
    if len(output_shape) != named:
        raise ValueError(
            f"output_shape={tuple(output_shape)} of equation {equation!r} must give {named} "
            "sizes (the output's axes but the batch and those of the ellipsis)"
        )
    full = [input_shape[0], *input_shape[1:left], *output_shape]
    full += list(input_shape[rank - elided :]) if elided_at == "right" else []
    x_axis = {c: left + i for i, c in enumerate(x_spec)}
    y_axis = {c: left + i for i, c in enumerate(y_spec)}
    trailing = elided if elided_at == "right" else 0  # the bias's size-1 axes for the ellipsis
    return _shapes(bias_axes, input_shape, full, (x_spec, w_spec, y_spec), x_axis, y_axis, trailing)


def _shapes(bias_axes: str | None, input_shape: tuple, full: list, specs: tuple, x_axis: dict,
            y_axis: dict, trailing: int) -> dict:  # fmt: skip
    x_spec, w_spec, y_spec = specs
    for c in x_spec:
        if (
            c in y_axis
            and full[y_axis[c]] is not None
            and full[y_axis[c]] != input_shape[x_axis[c]]
        ):
            raise ValueError(
                f"Input shape and output shape do not match at shared dimension '{c}'. Input "
                f"shape is {input_shape[x_axis[c]]}, and output shape is {full[y_axis[c]]}."
            )
    for c in y_spec:
        if c not in x_spec and c not in w_spec:
            raise ValueError(
                f"Dimension '{c}' was specified in the output '{y_spec}' but has no "
                f"corresponding dim in the input spec '{x_spec}' or weight spec '{w_spec}'"
            )
    kernel, in_axes, out_axes = [], [], []
    for i, c in enumerate(w_spec):
        if c in y_axis:
            kernel.append(full[y_axis[c]])
            out_axes.append(i)
        elif c in x_axis:
            kernel.append(input_shape[x_axis[c]])
            in_axes.append(i)
        else:
            raise ValueError(
                f"Weight dimension '{c}' did not have a match in either the input spec "
                f"'{x_spec}' or the output spec '{y_spec}'. For this layer, the weight must be "
                "fully specified."
            )
    if any(d is None for d in kernel):
        raise ValueError(
            f"the kernel shape {format_shape(tuple(kernel))} needs known sizes; input shape "
            f"{format_shape(input_shape)}, output shape {format_shape(tuple(full))}"
        )
    bias = None
    if bias_axes is not None:
        for c in bias_axes:
            if c not in y_spec:
                raise ValueError(
                    f"Bias dimension '{c}' was requested, but is not part of the output spec "
                    f"'{y_spec}'"
                )
        first = min(y_spec.index(c) for c in bias_axes)
        bias = [full[y_axis[c]] if c in bias_axes else 1 for c in y_spec[first:]]
        bias += [1] * trailing
    return {"kernel": kernel, "bias": bias, "output": full, "in_axes": in_axes, "out": out_axes}


def dense_plan(equation: str, kernel_rank: int) -> tuple[int, int] | None:
    """(contracted axes, kernel output axes) where the equation is a plain dense product over
    merged axes (see the module docstring), else None."""
    (x_spec, w_spec, y_spec), elided_at = _match(equation)
    if elided_at == "right":
        return None
    shared = [c for c in x_spec if c in w_spec]
    free = [c for c in x_spec if c not in w_spec]
    own = [c for c in w_spec if c not in x_spec]
    plain = (
        shared
        and x_spec == "".join(free + shared)
        and w_spec == "".join(shared + own)
        and y_spec == "".join(free + own)
    )
    return (len(shared), len(own)) if plain and len(w_spec) == kernel_rank else None


class EinsumDense(Layer):
    """y = activation(einsum(equation, x, kernel) + bias), Keras 3's EinsumDense: `output_shape`
    is the output's shape without the batch and the ellipsis axes (None: taken from the input),
    `bias_axes` the output letters the bias spans. Kernels are initialized with their fans read
    from the equation (the input letters they contract, the output letters they make)."""

    def __init__(
        self,
        equation: str,
        output_shape: Any,
        activation: Any = None,
        bias_axes: str | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        quantization_config: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = f"EinsumDense '{self.name}'"
        unsupported = {
            "kernel_constraint": kernel_constraint,
            "bias_constraint": bias_constraint,
            "lora_rank": lora_rank,
            "lora_alpha": lora_alpha,
            "quantization_config": quantization_config,
        }
        for arg, value in unsupported.items():
            if value is not None:
                raise NotImplementedError(f"{owner}: {arg}={value!r} is not supported")
        if not isinstance(equation, str):
            raise TypeError(f"{owner}: equation must be a string, got {equation!r}")
        self.equation = equation
        shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        self.partial_output_shape = shape
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def _analyze(self, input_shape: tuple) -> dict:
        return analyze(self.equation, self.bias_axes, tuple(input_shape), self.partial_output_shape)

    def build(self, input_shape: tuple) -> None:
        shapes = self._analyze(input_shape)
        kernel = tuple(shapes["kernel"])
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling):
            # Keras's fans: the contracted input letters and the output letters, wherever they
            # sit in the kernel; the draws are i.i.d., so drawing them as that matrix is the same
            fans = (
                math.prod(kernel[i] for i in shapes["in_axes"]),
                math.prod(kernel[i] for i in shapes["out"]),
            )
            init = _Reshaped(init, fans)
        self.kernel = self.add_weight(
            kernel, init, regularizer=self.kernel_regularizer, name="kernel"
        )
        self.bias = None
        if shapes["bias"] is not None:
            self.bias = self.add_weight(
                tuple(shapes["bias"]),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                name="bias",
            )
        self.input_spec = InputSpec(ndim=len(input_shape))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The output shape the equation gives for `input_shape`."""
        return tuple(self._analyze(input_shape)["output"])

    def call(self, inputs: Any) -> Any:
        plan = dense_plan(self.equation, len(self.kernel.shape))
        bias_fits = self.bias is None or (
            plan is not None and tuple(self.bias.shape) == tuple(self.kernel.shape[-plan[1] :])
        )
        if plan is not None and bias_fits:
            return self._dense(inputs, *plan)
        y = api.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            y = api.add(y, self.bias)
        return self.activation(y)

    def _dense(self, x: Any, contracted: int, own: int) -> Any:
        """The product as Dense on views: x (..., K) with its contracted axes merged, the kernel
        (K, M) with its own axes merged, the bias (M,); the output's own axes split back."""
        kernel_shape = tuple(self.kernel.shape)
        k = math.prod(kernel_shape[:contracted])
        m = math.prod(kernel_shape[contracted:])
        lead = len(x.shape) - contracted
        if contracted > 1:
            x = apply(Reshape((*[None] * lead, k), tuple(range(lead)) + (0,)), x)
        w = apply(Reshape((k, m)), self.kernel) if len(kernel_shape) != 2 else self.kernel
        args = (x, w)
        if self.bias is not None:
            args += (apply(Reshape((m,)), self.bias) if len(self.bias.shape) != 1 else self.bias,)
        fused = activations.fused_name(self.activation, activations.BIAS)
        y = apply(DenseOp(fused or "linear", self.bias is not None), *args)
        if own > 1:
            target = (*[None] * lead, *kernel_shape[contracted:])
            y = apply(Reshape(target, tuple(range(lead)) + (0,) * own), y)
        return y if fused else self.activation(y)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_shape": list(self.partial_output_shape),
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": None,
            "bias_constraint": None,
        }


class _Reshaped(initializers.Initializer):
    """Draws `base` as a (fan_in, fan_out) matrix, reshaped to the asked shape."""

    def __init__(self, base: initializers.Initializer, fans: tuple[int, int]) -> None:
        self.base, self.fans = base, fans

    def __call__(self, shape: tuple[int, ...], dtype: Any = "float32") -> Any:
        return self.base(self.fans, dtype).reshape(shape)
