"""Generate Keras 3 reference numbers for the keras.ops functions metric and loss code uses
(logical ops, any / all, isnan / isinf / isfinite, floor / ceil / round, log1p / expm1,
divide_no_nan, count_nonzero, size, sort / argsort / top_k / in_top_k, arange / full /
full_like, convert_to_tensor) and for the dtypes of reductions and comparisons of bools,
read by tests/test_ops_keras.py. Inputs hold NaN, infinities, ties, signed zeros and empty
arrays.

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs .venv/bin/python \
        tests/keras_reference/generate_ops2.py

Writes ``ops2.json`` and ``ops2.npz`` next to this file, in generate_ops.py's format (its
case specs and runner are reused; a case with no inputs passes everything through ``args``).
"""

import json
import os


import torch
from generate import save_npz_deterministic
from generate_ops import HERE, case, const, ints, normal, positive, run_case

inf, nan = float("inf"), float("nan")
SPECIAL = [[1.5, nan, -inf, 0.0], [-0.0, inf, -2.5, nan], [3.0, -1.0, 0.0, 2.0]]
HALVES = [[0.5, 1.5, 2.5, -0.5], [-1.5, -2.5, 1.49, -0.51], [inf, -inf, nan, -0.0]]
TIES = [[1.0, 3.0, 3.0, -1.0, 2.0], [2.0, 2.0, 2.0, 5.0, 2.0], [0.5, -4.0, -4.0, 0.5, 0.5]]
SIGNED = [[0.0, -0.0, 1.0, -0.0], [-0.0, 0.0, 0.0, -1.0]]
WITH_NAN = [[0.3, nan, 0.9, 0.1, 0.9], [nan, nan, 0.2, 0.7, 0.1], [0.5, 0.5, 0.5, 0.5, 0.5]]
BOOLS = [[True, False, True], [False, False, True]]
NEAR_ZERO = [[1e-10, -1e-10, 0.0], [1e-3, -0.5, 2.0]]

CASES = [
    # comparisons and logical connectives give bool
    case("equal_bool", "equal", [normal(2, 3), normal(3)]),
    case("greater_special", "greater", [const(SPECIAL), const([0.0, 0.0, 0.0, 0.0])]),
    case("logical_and", "logical_and", [const(SPECIAL), const(BOOLS[0] + [True], "bool")]),
    case("logical_or", "logical_or", [const(SPECIAL), const([0.0, 0.0, 1.0, 0.0])]),
    case("logical_xor", "logical_xor", [const(BOOLS, "bool"), const([True, False, False], "bool")]),
    case("logical_not", "logical_not", [const(SPECIAL)]),
    case("logical_not_ints", "logical_not", [const([[0, 2, -1]], "int32")]),
    # truth reductions
    case("any_none", "any", [const(SPECIAL)]),
    case("any_axis1", "any", [const([[0.0, -0.0, 0.0], [0.0, nan, 0.0]])], kwargs={"axis": 1}),
    case("all_axis0_keepdims", "all", [const(SPECIAL)], kwargs={"axis": 0, "keepdims": True}),
    case("all_bools_axis1", "all", [const(BOOLS, "bool")], kwargs={"axis": 1}),
    case("any_empty_axis0", "any", [normal(0, 3)], kwargs={"axis": 0}),
    case("all_empty_axis0", "all", [normal(0, 3)], kwargs={"axis": 0}),
    case("count_nonzero_none", "count_nonzero", [const(SPECIAL)]),
    case("count_nonzero_axis0", "count_nonzero", [const(SIGNED)], kwargs={"axis": 0}),
    case("count_nonzero_axis1", "count_nonzero", [const(SPECIAL)], kwargs={"axis": 1}),
    case("count_nonzero_empty", "count_nonzero", [normal(2, 0)], kwargs={"axis": 1}),
    # float classes
    case("isnan", "isnan", [const(SPECIAL)]),
    case("isinf", "isinf", [const(SPECIAL)]),
    case("isfinite", "isfinite", [const(SPECIAL)]),
    case("isfinite_ints", "isfinite", [const([1, -2, 3], "int32")]),
    # rounding: zero gradients
    case("floor", "floor", [const(HALVES)]),
    case("ceil", "ceil", [const(HALVES)]),
    case("round", "round", [const(HALVES)]),
    case("floor_normal", "floor", [normal(2, 3)]),
    case("round_decimals", "round", [normal(3, 4)], kwargs={"decimals": 2}),
    case("round_negative_decimals", "round", [const([[15.0, 25.0, -35.0, 149.9]])], args=[-1]),
    case("round_ints", "round", [const([[15, 25, -35]], "int32")], kwargs={"decimals": -1}),
    case("floor_ints", "floor", [const([[1, -2, 3]], "int32")]),
    # log1p, expm1
    case("log1p", "log1p", [positive(2, 3)]),
    case("log1p_near_zero", "log1p", [const(NEAR_ZERO)]),
    case("log1p_edges", "log1p", [const([[-1.0, -2.0, inf, nan]])]),
    case("expm1", "expm1", [normal(2, 3)]),
    case("expm1_near_zero", "expm1", [const(NEAR_ZERO)]),
    case("expm1_edges", "expm1", [const([[-inf, inf, nan, 800.0]])]),
    # divide_no_nan
    case("divide_no_nan", "divide_no_nan", [normal(2, 3), positive(2, 3)]),
    case(
        "divide_no_nan_zeros",
        "divide_no_nan",
        [const([[1.0, nan, inf, -2.0]]), const([[0.0, 0.0, 0.0, 4.0]])],
    ),
    case("divide_no_nan_broadcast", "divide_no_nan", [normal(2, 3), const([2.0, 0.0, -1.0])]),
    # sorting
    case("sort", "sort", [normal(3, 4)]),
    case("sort_ties", "sort", [const(TIES)]),
    case("sort_nan", "sort", [const(WITH_NAN)]),
    case("sort_axis0", "sort", [normal(3, 4)], kwargs={"axis": 0}),
    case("sort_none", "sort", [normal(2, 3)], kwargs={"axis": None}),
    case("sort_ints", "sort", [ints(5, 2, 6)]),
    case("sort_empty", "sort", [normal(2, 0)]),
    case("argsort", "argsort", [normal(3, 4)]),
    case("argsort_ties", "argsort", [const(TIES)]),
    case("argsort_signed_zeros", "argsort", [const(SIGNED)]),
    case("argsort_axis0", "argsort", [const(TIES)], kwargs={"axis": 0}),
    case("argsort_none", "argsort", [normal(2, 3)], kwargs={"axis": None}),
    case("top_k", "top_k", [normal(3, 5)], args=[2]),
    case("top_k_ties", "top_k", [const(TIES)], args=[3]),
    case("top_k_all", "top_k", [normal(2, 4)], args=[4]),
    case("top_k_3d", "top_k", [normal(2, 3, 4)], kwargs={"k": 1}),
    case("top_k_ints", "top_k", [ints(5, 3, 6)], args=[3]),
    case("in_top_k", "in_top_k", [ints(5, 4), normal(4, 5)], args=[2]),
    case("in_top_k_ties", "in_top_k", [const([1, 3, 0], "int64"), const(TIES)], args=[1]),
    case("in_top_k_ties_k2", "in_top_k", [const([4, 0, 3], "int64"), const(TIES)], args=[2]),
    case("in_top_k_nan", "in_top_k", [const([1, 2, 3], "int64"), const(WITH_NAN)], args=[2]),
    case("in_top_k_k_classes", "in_top_k", [const([0, 1, 4], "int64"), normal(3, 5)], args=[5]),
    # constructors and conversion (no tensor inputs: everything is in args)
    case("arange_int", "arange", [], args=[5]),
    case("arange_float", "arange", [], args=[0.5, 3.0, 0.75]),
    case("arange_negative_step", "arange", [], args=[5, -2, -2]),
    case("arange_dtype", "arange", [], args=[1, 4], kwargs={"dtype": "float64"}),
    case("full_float", "full", [], args=[(2, 3), 1.5]),
    case("full_int", "full", [], args=[(2,), 7]),
    case("full_bool", "full", [], args=[(3,), True]),
    case("full_dtype", "full", [], args=[(2, 2), 2], kwargs={"dtype": "float64"}),
    case("full_like", "full_like", [normal(2, 3)], args=[-0.5]),
    case("full_like_int_dtype", "full_like", [normal(2, 3)], args=[3], kwargs={"dtype": "int32"}),
    case("full_like_nan", "full_like", [normal(2, 2)], args=[nan]),
    case("convert_float_list", "convert_to_tensor", [], args=[[[1.0, 2.5], [3.0, 4.0]]]),
    case("convert_int_list", "convert_to_tensor", [], args=[[1, 2, 3]]),
    case("convert_bool_list", "convert_to_tensor", [], args=[[True, False]]),
    case("convert_array_dtype", "convert_to_tensor", [normal(2, 2)], kwargs={"dtype": "float32"}),
    case("size", "size", [normal(2, 3, 4)]),
    case("size_empty", "size", [normal(0, 3)]),
    # reductions of bools and small integers
    case("sum_bools", "sum", [const(BOOLS, "bool")]),
    case("sum_bools_axis0", "sum", [const(BOOLS, "bool")], kwargs={"axis": 0}),
    case("sum_int8", "sum", [const([[100, 100, 100]], "int8")], kwargs={"axis": 1}),
    case("mean_bools", "mean", [const(BOOLS, "bool")], kwargs={"axis": 1}),
    case("max_bools", "max", [const(BOOLS, "bool")], kwargs={"axis": 1}),
    case("min_bools", "min", [const(BOOLS, "bool")], kwargs={"axis": 0}),
    case("prod_bools", "prod", [const(BOOLS, "bool")], kwargs={"axis": 1}),
]


def main():
    torch.set_num_threads(1)
    entries, arrays = [], {}
    for spec in CASES:
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    with open(os.path.join(HERE, "ops2.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(os.path.join(HERE, "ops2.npz"), arrays)


if __name__ == "__main__":
    main()
