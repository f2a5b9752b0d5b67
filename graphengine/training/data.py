"""fit's data preparation: inputs and targets as Keras 3 takes them (pandas objects, nested lists
of numbers, the rank of an input off by a last axis of 1), checked and made contiguous before any
work is done (shapes, dtypes, sample counts, class ids), the validation split, and the loop
arguments (batch size, epochs, verbosity) checked where the user passed them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphengine import common, tree
from graphengine.graph.tensor import format_shape
from graphengine.training import losses as losses_module
from graphengine.training import metrics as metrics_module
from graphengine.training import pipeline, whole_batch
from graphengine.training.progress import resolve_verbose


def targets_list(model: Any, y: Any) -> list:
    """One target per output, from one array, a list or a dict keyed by output name."""
    if isinstance(y, dict):
        missing = [
            n for n, f in zip(model.output_names, model._loss_fns) if f is not None and n not in y
        ]
        if missing:
            raise ValueError(f"Model '{model.name}': missing targets for outputs {missing}")
        return [
            as_array(y.get(n), f"Model '{model.name}': target '{n}'") for n in model.output_names
        ]
    y = entries(y, model.output_names, model.name, "target")
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    if len(ys) != len(model.outputs):
        raise ValueError(
            f"Model '{model.name}' has {len(model.outputs)} outputs "
            f"({', '.join(model.output_names)}), but received {len(ys)} targets"
        )
    return [
        as_array(t, f"Model '{model.name}': target {i} ('{n}')")
        for i, (t, n) in enumerate(zip(ys, model.output_names))
    ]


# -- what Keras 3 takes as data ----------------------------------------------------------------
def is_pandas(value: Any) -> bool:
    """A pandas DataFrame or Series, known without importing pandas (optional at run time)."""
    return type(value).__module__.partition(".")[0] == "pandas" and hasattr(value, "to_numpy")


def _numbers_only(value: Any) -> bool:
    """Whether `value` is a number or nested lists/tuples of numbers only (no arrays in it);
    Python strings count as numbers here: a list of them is one array (for a string input)."""
    if isinstance(value, (list, tuple)):
        return all(_numbers_only(v) for v in value)
    return isinstance(value, (int, float, bool, complex, str, np.generic))


def as_array(value: Any, what: str) -> Any:
    """A pandas object or a nested list of numbers as a NumPy array (a Series as one column, as
    Keras's data adapter); anything else as given."""
    if is_pandas(value):
        array = value.to_numpy()
        if array.dtype.kind not in "biuf" and hasattr(value, "dtypes"):  # a DataFrame
            bad = [str(c) for c, d in value.dtypes.items() if getattr(d, "kind", "O") not in "biuf"]
            raise TypeError(
                f"{what}: the DataFrame's columns {bad} are not numeric; select or convert "
                "them (e.g. df[cols].astype('float32'))"
            )
        return array[:, None] if array.ndim == 1 else array
    if isinstance(value, (list, tuple)) and _numbers_only(value):
        try:
            return np.asarray(value)
        except ValueError:
            raise ValueError(
                f"{what}: the nested list does not form an array (its rows differ in length)"
            ) from None
    if value is not None and not isinstance(value, (list, tuple)):
        pipeline.check_array_like(value, what)
    return value


def leaf_arrays(struct: Any, what: str) -> Any:
    """`struct` (arrays nested in dicts, lists and tuples) with every leaf a NumPy array: a
    pandas object or a nested list of numbers is one leaf, as `as_array` makes it. For data
    no model input describes yet (a subclassed model's first batch, a custom step's batches)."""
    if isinstance(struct, dict):
        return {k: leaf_arrays(v, f"{what} '{k}'") for k, v in struct.items()}
    if isinstance(struct, (list, tuple)) and not _numbers_only(struct):
        return type(struct)(leaf_arrays(v, f"{what} {i}") for i, v in enumerate(struct))
    return np.asarray(as_array(struct, what))


def entries(values: Any, names: list[str], owner: str, what: str) -> Any:
    """`values` with its leaves made arrays (`as_array`), Keras's rule for lists kept: a list
    holding arrays lists one entry per model input (or output); a list of numbers only is one
    array when the model has one input (or output), and one entry per input otherwise."""
    if is_pandas(values):
        return as_array(values, f"Model '{owner}': {what} 0 ('{names[0]}')")
    if isinstance(values, dict):
        return {k: as_array(v, f"Model '{owner}': {what} '{k}'") for k, v in values.items()}
    if not isinstance(values, (list, tuple)):
        return values
    if len(names) == 1:
        if _numbers_only(values):
            return as_array(values, f"Model '{owner}': {what} 0 ('{names[0]}')")
        if len(values) != 1:
            raise ValueError(
                f"Model '{owner}' expects 1 {what} ('{names[0]}'), but received a "
                f"{type(values).__name__} of {len(values)} entries holding arrays (a list lists "
                f"one entry per {what}); pass the array itself, or np.stack the entries"
            )
    return [
        as_array(v, f"Model '{owner}': {what} {i} ('{names[i] if i < len(names) else '?'}')")
        for i, v in enumerate(values)
    ]


def adjust_rank(array: Any, tensor: Any) -> Any:
    """Keras's Functional._adjust_input_rank: an array one axis short of an input whose last
    size is 1 gains that axis ((n,) feeds (None, 1)); one with an extra last axis of size 1 loses
    it. Any other rank is left for the shape check to name."""
    array = np.asarray(array)
    rank, shape = array.ndim, tensor.shape
    if rank == len(shape) + 1 and array.shape[-1] == 1:
        return array[..., 0]
    if rank == len(shape) - 1 and shape[-1] == 1:
        return array[..., None]
    return array


def expand_rank1_target(target: np.ndarray, output: Any) -> np.ndarray:
    """Keras's squeeze_or_expand_to_same_rank(expand_rank_1=True), applied by its losses and
    metrics alike: rank-1 targets of an (N, 1) output become (N, 1), so each sample keeps its
    own loss and metric values (other rank mismatches the losses and metrics squeeze)."""
    if target.ndim == 1 and len(output.shape) == 2 and output.shape[-1] == 1:
        return target[:, None]
    return target


def input_arrays(model: Any, x: Any, samples: bool = False) -> list[np.ndarray]:
    """The model's inputs from `x` (one array, a list, a dict, pandas objects, nested lists of
    numbers) as a flat list of arrays in `model.inputs` order, ranks adjusted as Keras does,
    checked against the inputs' shapes and dtypes (with `samples`, all but the first axis)."""
    model._build_from_data(x)  # a subclassed model, or a Sequential with no input shape
    feeds = model._feed_list(entries(x, model.input_names, model.name, "input"))
    model._require_graph()
    feeds = [
        adjust_rank(as_array(a, f"Model '{model.name}': input {i} ('{t.name}')"), t)
        for i, (a, t) in enumerate(zip(feeds, model.inputs))
    ]
    return model._check_arrays(feeds, model.inputs, samples=samples)


def prepare(model: Any, x: Any, y: Any = None, need_y: bool = True) -> tuple[list, list]:
    """Validated, contiguous arrays for every input and target, before any work is done: one
    sample count for all, or, for a model that runs its data whole (training/whole_batch.py),
    each target with its output's rows."""
    if x is None:
        raise ValueError(f"Model '{model.name}': x is required")
    xs = [
        np.ascontiguousarray(a, dtype=t.dtype)
        for a, t in zip(input_arrays(model, x, samples=True), model.inputs)
    ]
    ys: list = []
    if need_y:
        if y is None:
            raise ValueError(f"Model '{model.name}': y is required to compute the loss")
        for i, t in enumerate(targets_list(model, y)):
            if t is None:
                ys.append(None)
                continue
            t = np.asarray(t)
            if t.dtype.kind not in "biuf":
                raise TypeError(
                    f"Model '{model.name}': target {i} ('{model.output_names[i]}') "
                    f"must be numeric, received dtype {t.dtype}"
                )
            if t.ndim == 0:
                raise ValueError(f"Model '{model.name}': target {i} must have a batch axis")
            t = expand_rank1_target(t, model.outputs[i])
            check_class_ids(model, i, t)
            ys.append(
                np.ascontiguousarray(
                    t if t.dtype.kind in "iu" else t.astype(model.outputs[i].dtype)
                )
            )
    if model._whole_batch:  # rows of inputs and targets differ; targets match the outputs
        whole_batch.check_targets(model, xs, ys)
        return xs, ys
    sizes = [(f"input {i} ('{model.input_names[i]}')", len(a)) for i, a in enumerate(xs)]
    sizes += [
        (f"target {i} ('{model.output_names[i]}')", len(a))
        for i, a in enumerate(ys)
        if a is not None
    ]
    if len({n for _, n in sizes}) > 1:
        raise ValueError(
            f"Model '{model.name}': x and y must have the same number of samples, "
            "got " + ", ".join(f"{what}: {n}" for what, n in sizes)
        )
    if xs and len(xs[0]) == 0:  # as Keras: there is nothing to run
        raise ValueError(
            f"Model '{model.name}': expected non-empty data, but {sizes[0][0]} has 0 samples "
            f"(shape {format_shape(xs[0].shape)})"
        )
    return xs, ys


def split_point(n: int, fraction: float) -> int:
    """How many of n samples train when the last `fraction` validates (Keras's split)."""
    at = int(math.floor(n * (1.0 - fraction)))
    if at == 0 or at == n:
        raise ValueError(
            f"validation_split={fraction} leaves no samples for training or validation out of {n}"
        )
    return at


def split_arrays(parts: tuple, fraction: float, owner: str) -> tuple[tuple, tuple]:
    """(the data to train on, the data to validate on) from `parts` (x, y, sample_weight, each
    arrays nested in lists and dicts, or None): the last `fraction` of the samples held out, as
    Keras's validation_split (before any shuffling); the halves are views, not copies."""
    arrays = [
        None if p is None else leaf_arrays(p, f"{owner}: {what}")
        for p, what in zip(parts, ("x", "y", "sample_weight"))
    ]
    if arrays[0] is None:
        raise ValueError(f"{owner}: x is required")
    first = tree.flatten(arrays[0])[0]
    at = split_point(len(first) if first.ndim else 0, fraction)

    def cut(rows: slice) -> tuple:
        return tuple(
            None if a is None else tree.pack_like(a, [leaf[rows] for leaf in tree.flatten(a)])
            for a in arrays
        )

    return cut(slice(None, at)), cut(slice(at, None))


def steps(value: Any, name: str, owner: str) -> int | None:
    """A step count (steps_per_epoch, validation_steps, steps): None or an integer >= 1."""
    return None if value is None else common.check_int(value, name, owner, minimum=1)


def check_class_ids(model: Any, i: int, target: np.ndarray) -> None:
    """When output i's loss or a metric takes integer class ids, every id in `target` must lie
    in [0, classes): checked once per fit/evaluate/*_on_batch call (per batch for a dataset),
    in one vectorized pass, because the one-hot of a bad id (-1, classes, NaN, 2.5) is all zeros
    and its loss silently 0."""
    loss = model._loss_fns[i]
    users = _class_id_users(model, i, target.shape)
    ignored = losses_module.ignored_class(loss) if loss is not None else None
    if ignored is not None:  # ignore_class may lie outside the classes (-1, 255)
        target = np.where(target == ignored, 0, target)
    where = f"Model '{model.name}': target {i} ('{model.output_names[i]}')"
    for classes, user in users.items():
        common.check_class_ids(target, classes, where, user)


def _class_id_users(model: Any, i: int, shape: tuple) -> dict:
    """{classes: the name of what reads output i's targets as class ids}, for targets of this
    rank and last size, found once per compile (a metric object is made to ask each metric)."""
    key = (i, len(shape), shape[-1] if shape else None, tuple(model.outputs[i].shape))
    cache = model.__dict__.setdefault("_class_id_users", {})
    if key in cache:
        return cache[key]
    output, users = model.outputs[i], {}
    loss = model._loss_fns[i]
    axis = losses_module.class_axis(loss) if loss is not None else None
    if axis is not None:
        users.setdefault(output.shape[axis], loss.name)
    for m in model._metric_ids[i] + model._weighted_metric_ids[i]:
        name = metrics_module.class_id_metric(m, shape, tuple(output.shape))
        if name is not None:
            users.setdefault(output.shape[-1], name)
    cache[key] = users
    return users


def verbose(verbose: Any) -> int:
    """'auto', 0, 1 or 2 as an int (graphengine.training.progress.resolve_verbose)."""
    return resolve_verbose(verbose)


def batch_size(batch_size: Any, name: str = "batch_size") -> int:
    """32 for None, else a positive integer (NumPy integers too, bools not)."""
    if batch_size is None:
        return 32
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(
            f"{name} must be a positive integer, received {name}={batch_size!r} "
            f"of type {type(batch_size).__name__}"
        )
    if batch_size <= 0:
        raise ValueError(f"{name} must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def epoch_arguments(epochs: Any, initial_epoch: Any, validation_freq: Any) -> tuple[int, ...]:
    """fit()'s epoch counts as ints (NumPy integers too): TypeError for floats and bools,
    ValueError for negative counts or a validation_freq below 1."""
    return (
        common.check_int(epochs, "epochs", "fit()"),
        common.check_int(initial_epoch, "initial_epoch", "fit()"),
        common.check_int(validation_freq, "validation_freq", "fit()", minimum=1),
    )


def validation_split(validation_split: Any) -> float:
    """The fraction of samples held out, a real number in [0, 1)."""
    if isinstance(validation_split, (bool, np.bool_)) or not isinstance(
        validation_split, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"fit(): validation_split must be a number in [0, 1), received "
            f"{validation_split=!r} of type {type(validation_split).__name__}"
        )
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    return float(validation_split)
