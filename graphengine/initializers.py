"""Weight initializers with Keras 3 names, defaults and formulas."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphengine import common

# std of a standard normal truncated to [-2, 2], to rescale truncated draws to unit variance
_TRUNC_STD = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """fan_in and fan_out as Keras: kernels (..., in, out) count the receptive field."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Callable `(shape, dtype) -> np.ndarray`; seeded ones repeat, unseeded use the global rng."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed) if self.seed is not None else common.rng()

    def __call__(self, shape: tuple[int, ...], dtype: Any = "float32") -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict (Keras's config)."""
        return {"seed": self.seed}


class Constant(Initializer):
    """Fills the tensor with `value`."""

    def __init__(self, value: float = 0.0) -> None:
        super().__init__()
        self.value = value

    def __call__(self, shape: tuple[int, ...], dtype: Any = "float32") -> np.ndarray:
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class Zeros(Constant):
    """Fills the tensor with zeros (the default bias initializer)."""

    def __init__(self) -> None:
        super().__init__(0.0)

    def get_config(self) -> dict[str, Any]:
        return {}


class Ones(Constant):
    """Fills the tensor with ones."""

    def __init__(self) -> None:
        super().__init__(1.0)

    def get_config(self) -> dict[str, Any]:
        return {}


class RandomNormal(Initializer):
    """Draws from a normal distribution of `mean` and `stddev`; a `seed` repeats the draw."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: tuple[int, ...], dtype: Any = "float32") -> np.ndarray:
        return self._rng().normal(self.mean, self.stddev, shape).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Draws uniformly from [minval, maxval); a `seed` repeats the draw."""

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape: tuple[int, ...], dtype: Any = "float32") -> np.ndarray:
        return self._rng().uniform(self.minval, self.maxval, shape).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class VarianceScaling(Initializer):
    """Draws with variance scale / fan (fan_in, fan_out or their mean): truncated normal,
    untruncated normal, or uniform on [-limit, limit] with limit = sqrt(3 * scale / fan)."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        common.lookup("mode", mode, {m: m for m in ("fan_in", "fan_out", "fan_avg")})
        common.lookup(
            "distribution",
            distribution,
            {d: d for d in ("truncated_normal", "untruncated_normal", "uniform")},
        )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape: tuple[int, ...], dtype: Any = "float32") -> np.ndarray:
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), shape).astype(dtype)
        std = math.sqrt(variance) / _TRUNC_STD
        draw = rng.standard_normal(shape)
        while np.any(bad := np.abs(draw) > 2.0):  # resample outside two std, as truncated_normal
            draw[bad] = rng.standard_normal(int(bad.sum()))
        return (draw * std).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed scale, mode and distribution; only the seed is configured."""

    preset: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(*self.preset, seed=seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Glorot (Xavier) uniform: uniform on [-limit, limit], limit = sqrt(6 / (fan_in +
    fan_out)); the default kernel initializer."""

    preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Glorot (Xavier) normal: a normal truncated at two standard deviations, of stddev
    sqrt(2 / (fan_in + fan_out))."""

    preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """He uniform: uniform on [-limit, limit], limit = sqrt(6 / fan_in)."""

    preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """He normal: a normal truncated at two standard deviations, of stddev sqrt(2 / fan_in)."""

    preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """LeCun uniform: uniform on [-limit, limit], limit = sqrt(3 / fan_in)."""

    preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """LeCun normal: a normal truncated at two standard deviations, of stddev sqrt(1 / fan_in)."""

    preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal draw (Saxe et al. 2014),
    the shape flattened to (prod(shape[:-1]), shape[-1])."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: tuple[int, ...], dtype: Any = "float32") -> np.ndarray:
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))  # makes the decomposition unique (uniformly distributed q)
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed}


ALL: dict[str, type] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "uniform": RandomUniform,
    "normal": RandomNormal,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
    "variance_scaling": VarianceScaling,
}
_BY_CLASS = {cls.__name__: cls for cls in ALL.values()}


def get(identifier: Any) -> Initializer:
    """An initializer from a name ('glorot_uniform' or 'GlorotUniform'), a config dict or an
    instance; unknown names raise ValueError listing the valid ones."""
    if (
        isinstance(identifier, Initializer)
        or callable(identifier)
        and not isinstance(identifier, type)
    ):
        return identifier
    if isinstance(identifier, dict) and "registered" in identifier:
        return common.registered(identifier["registered"])
    if isinstance(identifier, dict):
        cls = _BY_CLASS.get(identifier["class_name"]) or common.lookup(
            "initializer", identifier["class_name"], ALL
        )
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _BY_CLASS.get(identifier) or common.lookup("initializer", identifier, ALL)
        return cls()
    raise TypeError(f"Could not interpret initializer {identifier!r}")


def serialize(init: Any) -> Any:
    """`{"class_name", "config"}` for an Initializer, `{"registered": name}` for a registered
    function; `get` reads both back."""
    if isinstance(init, Initializer):
        return {"class_name": type(init).__name__, "config": init.get_config()}
    name = common.registered_name(init)
    if name is None:
        raise ValueError(
            f"initializer {init!r} cannot be serialized; register it with "
            "ge.utils.register_serializable"
        )
    return {"registered": name}
