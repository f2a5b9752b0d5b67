"""`einsum` lowered to primitives with gradients of their own: diagonals (a reshape and a strided
slice), sums over letters no other operand or the output needs, and pairwise contractions as
transpose + reshape + batched matmul, left to right. NumPy's subscript rules: letters a-z A-Z,
one `...` per operand (broadcast, right-aligned), implicit output = the `...` axes then the
letters used once, in ASCII order; size-1 axes broadcast against their letter's size."""

from __future__ import annotations

import string
from typing import Any, Sequence

import numpy as np

from graphengine.graph.tensor import format_shape
from graphengine.ops.base import apply
from graphengine.ops.matmul import Matmul
from graphengine.ops.reduce import Reduce
from graphengine.ops.shape_ops import GetItem, Reshape, Transpose

LETTERS = set(string.ascii_letters)


def _shape(x: Any) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _term(term: str, ndim: int, ellipsis_rank: int, index: int) -> list[str]:
    """The letters of one operand's subscripts, its `...` axes named ".k" (right-aligned over
    ellipsis_rank)."""
    head, dots, tail = term.partition("...")
    if "." in head + tail or any(c not in LETTERS for c in head + tail):
        raise ValueError(
            f"einsum: operand {index} has subscripts {term!r}; use letters a-z, A-Z and at most "
            "one '...'"
        )
    n_dots = ndim - len(head) - len(tail)
    if n_dots < 0 or (n_dots > 0 and not dots):
        raise ValueError(
            f"einsum: operand {index} has subscripts {term!r} for {len(head) + len(tail)} axes "
            f"but rank {ndim}"
        )
    return list(head) + [f".{ellipsis_rank - n_dots + i}" for i in range(n_dots)] + list(tail)


def parse(subscripts: str, shapes: Sequence[tuple]) -> tuple[list[list[str]], list[str]]:
    """(letters of each operand, letters of the output)."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: subscripts {subscripts!r} name {len(terms)} operands but {len(shapes)} "
            "were given"
        )
    dots = [len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes)]
    rank = max([d if "..." in t else 0 for t, d in zip(terms, dots)] + [0])
    ins = [_term(t, len(s), rank, i) for i, (t, s) in enumerate(zip(terms, shapes))]
    dot_names = [f".{i}" for i in range(rank)]
    if not arrow:
        used = [c for term in ins for c in term if not c.startswith(".")]
        return ins, dot_names + sorted(c for c in set(used) if used.count(c) == 1)
    head, has_dots, tail = rhs.partition("...")
    if "." in head + tail or any(c not in LETTERS for c in head + tail):
        raise ValueError(f"einsum: output subscripts {rhs!r}: use letters and at most one '...'")
    if rank and not has_dots:
        raise ValueError(
            f"einsum: {subscripts!r} has '...' axes in its operands but none in its output"
        )
    out = list(head) + (dot_names if has_dots else []) + list(tail)
    for c in out:
        if out.count(c) > 1:
            raise ValueError(f"einsum: output subscript {c!r} is repeated in {subscripts!r}")
        if not any(c in term for term in ins):
            raise ValueError(f"einsum: output subscript {c!r} appears in no operand")
    return ins, out


def _check_sizes(ins: list[list[str]], shapes: Sequence[tuple]) -> None:
    """Every letter has one size across the operands, or 1 (broadcast)."""
    sizes: dict[str, tuple[int, int]] = {}
    for i, (term, shape) in enumerate(zip(ins, shapes)):
        for c, d in zip(term, shape):
            if d is None or d == 1:
                continue
            if c in sizes and sizes[c][0] != d:
                j = sizes[c][1]
                name = "..." if c.startswith(".") else c
                raise ValueError(
                    f"einsum: subscript {name!r} is {sizes[c][0]} in operand {j} (shape "
                    f"{format_shape(shapes[j])}) but {d} in operand {i} (shape "
                    f"{format_shape(shape)})"
                )
            sizes[c] = (d, i)


def _dim_entry(shape: tuple, axes: list[int], target: list, copy: list) -> None:
    """Appends the Reshape entry of one new axis made of `axes` of `shape`: a lone axis keeps its
    size (None included), none is 1, known sizes multiply, an unknown group is the one -1."""
    dims = [shape[a] for a in axes]
    if len(axes) == 1:
        target.append(None)
        copy.append(axes[0])
        return
    if None in dims:
        if -1 in target:
            raise ValueError(
                f"einsum: cannot group the axes of shape {format_shape(shape)} with more than "
                "one unknown size"
            )
        target.append(-1)
    else:
        target.append(int(np.prod(dims, dtype=np.int64)))
    copy.append(0)


def _group(t: Any, sizes: list[int]) -> Any:
    """t with its consecutive axes merged into groups of `sizes` (0: a new axis of size 1)."""
    shape, target, copy, start = _shape(t), [], [], 0
    for n in sizes:
        _dim_entry(shape, list(range(start, start + n)), target, copy)
        start += n
    if all(n == 1 for n in sizes):
        return t
    return apply(Reshape(tuple(target), tuple(copy)), t)


def _transpose(t: Any, letters: list[str], order: list[str]) -> Any:
    perm = tuple(letters.index(c) for c in order)
    return t if perm == tuple(range(len(perm))) else apply(Transpose(perm), t)


def _sum(t: Any, letters: list[str], drop: Sequence[str], keepdims: bool = False) -> Any:
    axes = tuple(sorted(letters.index(c) for c in drop))
    return apply(Reduce("sum", axes, keepdims), t) if axes else t


def _diagonals(t: Any, letters: list[str]) -> tuple[Any, list[str]]:
    """The diagonal of every letter repeated within one operand ("ii->i"): the two axes moved
    last, merged, and every (n + 1)-th element kept, which selects and never multiplies."""
    while len(set(letters)) < len(letters):
        c = next(c for c in letters if letters.count(c) > 1)
        p = letters.index(c)
        q = letters.index(c, p + 1)
        rest = [i for i in range(len(letters)) if i not in (p, q)]
        t = apply(Transpose(tuple(rest + [p, q])), t)
        n = _shape(t)[-1]
        if n is None:
            raise ValueError(f"einsum: the diagonal of {c!r} needs its size, which is unknown")
        t = _group(t, [1] * len(rest) + [2])
        t = apply(GetItem((slice(None),) * len(rest) + (slice(None, None, n + 1),)), t)
        letters = [letters[i] for i in rest] + [c]
    return t, letters


def _contract(a: Any, la: list[str], b: Any, lb: list[str], needed: set[str]) -> tuple:
    """(a and b contracted over their shared letters that nothing later needs, its letters):
    batch letters lead, then a's own, then b's own."""
    batch = [c for c in la if c in lb and c in needed]
    summed = [c for c in la if c in lb and c not in needed]
    for c in summed:  # a size-1 axis broadcast against a longer one: sum the longer one first
        da, db = _shape(a)[la.index(c)], _shape(b)[lb.index(c)]
        if da == 1 and db != 1:
            b = _sum(b, lb, [c], keepdims=True)
        elif db == 1 and da != 1:
            a = _sum(a, la, [c], keepdims=True)
    a_only = [c for c in la if c not in lb]
    b_only = [c for c in lb if c not in la]
    own = [[_shape(a)[la.index(c)] for c in a_only], [_shape(b)[lb.index(c)] for c in b_only]]
    nb, nk = len(batch), len(summed)
    a = _group(_transpose(a, la, batch + a_only + summed), [1] * nb + [len(a_only), nk])
    b = _group(_transpose(b, lb, batch + summed + b_only), [1] * nb + [nk, len(b_only)])
    out = apply(Matmul(), a, b)
    # (batch..., M, N) back to (batch..., a's own axes..., b's own axes...)
    target, copy = [None] * nb, list(range(nb))
    for dims, axis in zip(own, (nb, nb + 1)):
        if len(dims) == 1:
            target.append(None)
            copy.append(axis)
            continue
        for d in dims:
            if d is None and -1 in target:
                raise ValueError("einsum: more than one unknown size in a contraction's result")
            target.append(-1 if d is None else d)
            copy.append(0)
    return apply(Reshape(tuple(target), tuple(copy)), out), batch + a_only + b_only


def einsum(subscripts: str, *operands: Any) -> Any:
    """Lowers np.einsum(subscripts, *operands) to primitive ops (see the module docstring)."""
    if not operands:
        raise ValueError("einsum: at least one operand is required")
    shapes = [_shape(x) for x in operands]
    ins, out = parse(subscripts, shapes)
    _check_sizes(ins, shapes)
    terms = []
    for i, (x, letters) in enumerate(zip(operands, ins)):
        x, letters = _diagonals(x, letters)
        others = {c for j, term in enumerate(ins) if j != i for c in term} | set(out)
        alone = [c for c in letters if c not in others]
        terms.append((_sum(x, letters, alone), [c for c in letters if c in others]))
    x, letters = terms[0]
    for k in range(1, len(terms)):
        needed = set(out).union(*(set(term) for _, term in terms[k + 1 :]))
        x, letters = _contract(x, letters, *terms[k], needed)
    x = _sum(x, letters, [c for c in letters if c not in out])
    letters = [c for c in letters if c in out]
    return _transpose(x, letters, out)
