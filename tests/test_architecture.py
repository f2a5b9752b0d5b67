"""The package layers: every import (lazy ones inside functions included) points down the stack
below, and modules import no circle, except SymbolicTensor's operator overloading (graph.tensor
calls ge.ops, which build graph nodes). `python tests/test_architecture.py` prints the graph."""

import networkx as nx

from helpers import import_graph, modules


# Bottom to top; a module may import its own level and the levels below it.
LEVELS = [
    ["graphengine_kernels"],
    ["graphengine.common", "graphengine.config", "graphengine.compile_notice", "graphengine.io"],
    ["graphengine.graph", "graphengine.tree"],
    ["graphengine.ops"],
    [
        "graphengine.autodiff",
        "graphengine.initializers",
        "graphengine.regularizers",
        "graphengine.schedules",
        "graphengine.activations",
    ],
    ["graphengine.runtime"],
    ["graphengine.layers"],
    ["graphengine.viz", "graphengine.distributed", "graphengine.datasets"],
    ["graphengine.training"],
    [
        "graphengine",
        "graphengine.__main__",
        "graphengine.utils",
        "graphengine.preprocessing",
        "graphengine.warmup",
        "graphengine.models",
        "graphengine.gradient_check",
        "graphengine.optimizers",
        "graphengine.losses",
        "graphengine.metrics",
        "graphengine.callbacks",
    ],
]


def owner(module: str) -> str:
    """The LEVELS entry `module` falls under: the longest naming it or a package above it."""
    return max(
        (p for lv in LEVELS for p in lv if module == p or module.startswith(p + ".")),
        key=len,
    )


def level(module: str) -> int:
    return next(i for i, lv in enumerate(LEVELS) if owner(module) in lv)


def test_every_module_has_a_level():
    for module in modules():
        level(module)  # raises StopIteration / ValueError for a module no level names


def test_no_import_points_up():
    upward = [
        f"{a} (level {level(a)}) imports {b} (level {level(b)})"
        for a, b in import_graph().edges
        if level(b) > level(a)
    ]
    assert upward == []


def test_no_import_circle_but_the_operator_overloading():
    assert list(nx.simple_cycles(import_graph())) == []


def test_kernels_never_import_graphengine():
    assert not [
        (a, b)
        for a, b in import_graph().edges
        if a.startswith("graphengine_kernels")
        and (b == "graphengine" or b.startswith("graphengine."))
    ]


if __name__ == "__main__":
    graph = import_graph()
    for i, names in reversed(list(enumerate(LEVELS))):
        print(f"level {i}: {', '.join(names)}")
        for name in names:
            targets = sorted(
                {owner(b) for a, b in graph.edges if owner(a) == name and level(b) < level(a)}
            )
            if targets:
                print(f"    {name} -> {', '.join(targets)}")
