"""The registries that replace hand-kept lists: every op has a gradient rule or is marked as having
none; the ops a saved config may name register themselves (never one that runs user code, never a
backward op); graphengine_kernels.cpu and graphengine_kernels.cuda export the same names; and every
kernel an op calls exists in them."""

import ast
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import graphengine as ge
import graphengine.ops
import graphengine_kernels.cpu as cpu
from graphengine.autodiff.backward import gradients
from graphengine.autodiff.rules import BINARY_GRADS, RULES, NotDifferentiableError
from graphengine.ops import api, elementwise
from graphengine.ops.base import SERIALIZABLE_OPS, Kernels, Op

ROOT = Path(__file__).resolve().parent.parent


def defined_ops() -> list[type]:
    """Every concrete Op subclass defined in a module of graphengine.ops (all imported first)."""
    for info in pkgutil.iter_modules(graphengine.ops.__path__, "graphengine.ops."):
        importlib.import_module(info.name)
    found, todo = set(), [Op]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("graphengine.ops.") and not inspect.isabstract(cls):
            found.add(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


OPS = defined_ops()


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


# -- gradient rules ---------------------------------------------------------------------------
def test_the_walk_finds_the_ops_of_every_family():
    modules = {cls.__module__.rsplit(".", 1)[1] for cls in OPS}
    families = {"elementwise", "reduce", "shape_ops", "matmul", "conv", "pooling", "recurrent"}
    assert families <= modules and len(OPS) >= 40
    # the shared bases are abstract, not ops of their own
    assert not {"ConvBase", "RandomMask"} & {cls.__name__ for cls in OPS}


def test_every_op_has_a_gradient_rule_or_is_marked_without_one():
    missing = [qualified(cls) for cls in OPS if cls not in RULES]
    assert missing == [], "add @rule(Op) in autodiff/rules.py, or list the op in no_gradient()"


def test_a_gradient_through_an_op_marked_without_one_is_an_error():
    x = ge.Input(shape=(3,))
    y = ge.ops.tanh(x)
    (gx,) = gradients([y], [y], [x])  # built from tanh's backward op
    with pytest.raises(NotDifferentiableError, match="no gradient rule for op 'tanh_grad'"):
        gradients([gx], [gx], [x])


def test_the_binary_table_covers_every_kind_with_one_rule_each():
    assert set(BINARY_GRADS) == set(elementwise.BINARY)
    a, b = ge.Input(shape=(3,)), ge.Input(shape=(3,))
    for kind in elementwise.BINARY:
        ga, gb = gradients([getattr(ge.ops, kind)(a, b)], [a], [a, b])
        assert ga.shape == gb.shape == a.shape, kind


# -- ops a saved config may name --------------------------------------------------------------
def test_the_ops_ge_ops_builds_register_themselves_for_configs():
    built_by_api = {
        v.__name__ for v in vars(api).values() if isinstance(v, type) and issubclass(v, Op)
    }
    assert set(SERIALIZABLE_OPS) == built_by_api
    assert all(SERIALIZABLE_OPS[name].__name__ == name for name in SERIALIZABLE_OPS)


def test_no_config_may_name_user_code_or_a_backward_op():
    for name, cls in SERIALIZABLE_OPS.items():
        assert not cls.host_code, name
        assert RULES.get(cls) is not None, name  # marked without a gradient: a backward op


def test_an_op_that_runs_user_code_cannot_opt_in():
    with pytest.raises(TypeError, match=r"HostOp.*host_code.*cannot be named by a saved config"):

        class HostOp(Op, serializable=True):
            host_code = True


def test_two_config_ops_of_one_name_are_an_error():
    with pytest.raises(TypeError, match=r"'Binary'.*graphengine\.ops\.elementwise\.Binary"):

        class Binary(Op, serializable=True):
            pass


@pytest.mark.parametrize("name", ["PyFunc", "UnaryGrad", "SumTo", "Dense", "Op", "object"])
def test_a_config_naming_any_other_op_is_refused(name):
    x = ge.Input(shape=(3,))
    model = ge.Model(x, ge.ops.tanh(x) * 2.0)
    config = json.loads(json.dumps(model.get_config()))
    site = next(s for s in config["sites"] if s.get("op") == "Unary")
    site["op"] = name
    with pytest.raises(ValueError, match=f"unknown op '{name}' in the saved config.*Binary"):
        ge.Model.from_config(config)


# -- kernel backends --------------------------------------------------------------------------
NAMES_SCRIPT = """
import json, types
import graphengine_kernels.cpu, graphengine_kernels.cuda

def kernels_of(package):
    # the public functions the backend defines (not names it re-exports, such as numba's njit)
    return sorted(
        name for name, v in vars(package).items()
        if not name.startswith("_") and callable(v) and not isinstance(v, types.ModuleType)
        and (getattr(v, "__module__", None) or "").startswith(package.__name__ + ".")
    )

print(json.dumps({"cpu": kernels_of(graphengine_kernels.cpu), "cuda":
kernels_of(graphengine_kernels.cuda)}))
"""


def test_cpu_and_cuda_export_the_same_kernel_names():
    """Imported in Numba's CUDA simulator (read once per process, hence a subprocess)."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", NAMES_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = json.loads(done.stdout)
    assert len(names["cpu"]) > 100
    assert sorted(set(names["cpu"]) ^ set(names["cuda"])) == []


def kernel_attributes(path: Path) -> set[str]:
    """The `k.<name>` members read in functions of `path` that take the kernels as `k`."""
    found = set()
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, ast.FunctionDef) and "k" in [a.arg for a in fn.args.args]:
            found.update(
                node.attr
                for node in ast.walk(fn)
                if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "k"
            )
    return found


def test_every_kernel_an_op_calls_exists():
    named = set().union(*(kernel_attributes(p) for p in (ROOT / "graphengine/ops").glob("*.py")))
    built = {f"{kind}_{stage}" for kind in elementwise.UNARY for stage in ("forward", "backward")}
    built |= set(elementwise.BINARY) | set(elementwise.COMPARISONS)
    built |= {f"{kind}_forward" for kind in ("sum", "mean", "max")}
    assert len(named) > 50
    assert sorted(n for n in named | built if not hasattr(cpu, n)) == []


def test_the_kernels_protocol_members_have_the_cpu_kernels_parameters():
    spelled = [n for n in vars(Kernels) if not n.startswith("_") and callable(vars(Kernels)[n])]
    assert {"copy", "cast", "to_host", "from_host"} <= set(spelled)
    for name in spelled:
        want = list(inspect.signature(vars(Kernels)[name]).parameters)[1:]  # less self
        kernel = getattr(cpu, name)
        assert list(inspect.signature(getattr(kernel, "py_func", kernel)).parameters) == want, name
    assert isinstance(cpu.NAME, str) and "NAME" in Kernels.__annotations__
