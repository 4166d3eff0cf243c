"""The layer rules, checked on the import graph resolved to modules and followed transitively
(``import_graph``): the core is pure Python -- no I/O, no threads, no clock reads through ``time``,
no outer layer, not even by way of another module; the layers point one way (entrypoints -> wiring
-> adapters -> core); the core's capability folders are layered, each importing only the ones
below it, its ports kept beside the capability they serve; the deployed entrypoints reach adapters
only through the wiring; the CDK app reads the configuration and nothing else of the package; the
kernel is built by one builder. Every way around a rule that was ever found is a probe below, and
each probe must fail its rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.unit.import_graph import DYNAMIC, REPO, ROOTS, Graph, top, under

GRAPH = Graph.of_project()
CORE = "quantterminal.core"
FORBIDDEN_IN_CORE = {  # I/O, threads, processes, the wall clock, dynamic imports, outer libraries
    *("boto3", "botocore", "redis", "psycopg", "psycopg2", "sqlite3", "socket", "ssl", "requests", "urllib"),
    *("http", "websocket", "websockets", "aiohttp", "alpaca", "subprocess", "csv", "pathlib", "io", "shutil"),
    *("tempfile", "os", "sys", "time", "threading", "multiprocessing", "concurrent", "asyncio", "queue", "signal"),
    *("importlib", "matplotlib", "rich", "aws_lambda_powertools", "pyarrow", "pydantic", "optuna", "tomllib"),
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval"}
# The core's capability folders, lowest first. Each may import the shared vocabulary (models,
# money) and the folders before it; ``settings`` (the configuration's sections) sits on top, and
# ``ports`` (every port, for the outer layers) is not for the core itself.
CORE_LAYERS = ("market_data", "strategies", "accounting", "risk", "trading", "simulation", "research", "reporting")
VOCABULARY = ("models", "money")
OUTER = {  # a layer may not load these, directly or through another module
    "quantterminal.adapters": ("quantterminal.wiring", "quantterminal.config", "quantterminal.cli"),
    "quantterminal.config": ("quantterminal.adapters", "quantterminal.wiring", "quantterminal.cli"),
    "quantterminal.wiring": ("quantterminal.cli",),
}
ENTRYPOINT_PACKAGES = ("lambdas", "ecs_feed", "quantterminal_cdk")


def modules(prefix: str, graph: Graph = GRAPH) -> list[str]:
    return sorted(name for name in graph.sources if under(name, [prefix]))


def folder_of(name: str) -> str:
    """The core folder (or root module) ``name`` belongs to: ``quantterminal.core.risk.gate`` -> ``risk``."""
    return name.split(".")[2] if under(name, [CORE]) and name != CORE else ""


# --- the rules, each returning what breaks it -----------------------------------------------------


def core_purity(name: str, graph: Graph = GRAPH) -> list[str]:
    """A core module loads only the core and the standard library's pure parts, however indirectly."""
    if not under(name, [CORE]):
        return []
    broken = []
    for target, via in graph.closure(name).items():
        if target == DYNAMIC:
            broken.append(f"{via} imports a module named at run time")
        elif graph.is_module(target) and not under(target, [CORE]):
            broken.append(f"{via} loads {target}, outside the core")
        elif not graph.is_module(target) and top(target) in FORBIDDEN_IN_CORE:
            broken.append(f"{via} imports {target}: the core stays free of I/O, threads and the clock")
        elif target == "quantterminal.core.ports":
            broken.append(f"{via} imports quantterminal.core.ports: import a port from its capability's module")
    return broken


def core_layering(name: str, graph: Graph = GRAPH) -> list[str]:
    """A module of a core folder loads only its own folder, the ones below it and the vocabulary."""
    folder = folder_of(name)
    if folder not in CORE_LAYERS:
        return []
    allowed = {*CORE_LAYERS[: CORE_LAYERS.index(folder) + 1], *VOCABULARY}
    broken = []
    for target, via in graph.closure(name).items():
        if graph.is_module(target) and under(target, [CORE]) and folder_of(target) not in allowed | {""}:
            broken.append(f"{via} loads {target}: {folder_of(target)} is not below {folder}")
    return broken


def outer_layering(name: str, graph: Graph = GRAPH) -> list[str]:
    """Adapters, configuration and wiring never load the layers above them, nor any entrypoint."""
    layer = next((layer for layer in OUTER if under(name, [layer])), None)
    if layer is None:
        return []
    above = (*OUTER[layer], *ENTRYPOINT_PACKAGES)
    return [
        f"{via} loads {target}, a layer above {layer}"
        for target, via in graph.closure(name).items()
        if graph.is_module(target) and under(target, above)
    ]


def entrypoint_rules(name: str, graph: Graph = GRAPH) -> list[str]:
    """The Lambdas and the feed task reach adapters only through the wiring; the CDK app takes
    only the configuration and the shared names from the package, and loads no adapter, wiring or
    CLI; the CLI loads no deployed entrypoint and composes no more than it did."""
    direct = graph.imports(name)
    broken = []
    if under(name, ["lambdas", "ecs_feed"]):
        broken += [
            f"{name} imports {t}: wire it in quantterminal.wiring"
            for t in direct
            if under(t, ["quantterminal.adapters"])
        ]
    if under(name, ["quantterminal_cdk"]) or name.startswith("cdk"):
        allowed = ("quantterminal.constants", "quantterminal.config")
        broken += [
            f"{name} imports {t}: the CDK app reads the configuration, nothing else"
            for t in direct
            if under(t, ["quantterminal"]) and t != "quantterminal" and not under(t, allowed)
        ]
        broken += [
            f"{via} loads {t}"
            for t, via in graph.closure(name).items()
            if under(t, ["quantterminal.adapters", "quantterminal.wiring", "quantterminal.cli"])
        ]
    if under(name, ["quantterminal.cli"]):
        broken += [f"{via} loads {t}" for t, via in graph.closure(name).items() if under(t, ENTRYPOINT_PACKAGES)]
        broken += [
            f"{name} imports {t}: compose it in quantterminal.wiring"
            for t in direct
            if under(t, ["quantterminal.adapters"])
        ]
    return broken


RULES = (core_purity, core_layering, outer_layering, entrypoint_rules)


# --- the project keeps them ---------------------------------------------------------------------


def test_the_graph_holds_every_module_of_the_project() -> None:
    assert {"quantterminal.core.trading.desk", "lambdas.bar_handler", "ecs_feed.main"} <= set(GRAPH.sources)
    assert "quantterminal_cdk.pipeline" in GRAPH.sources
    assert set(CORE_LAYERS) == {
        p.name for p in (ROOTS["quantterminal"] / "core").iterdir() if (p / "__init__.py").exists()
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_every_module_keeps_the_layer_rules(rule: object) -> None:
    broken = [line for name in GRAPH.sources for line in rule(name)]  # type: ignore[operator]
    assert not broken, "\n".join(sorted(set(broken)))


def test_the_cdk_app_keeps_the_rules() -> None:
    app = REPO / "cdk" / "app.py"
    graph = GRAPH.with_module("cdk_app", app.read_text(encoding="utf-8"))
    assert entrypoint_rules("cdk_app", graph) == []
    assert entrypoint_rules("cdk_app", graph.with_module("cdk_app", "from quantterminal.wiring import runtime"))


@pytest.mark.parametrize("name", modules(CORE), ids=lambda n: n.removeprefix("quantterminal."))
def test_core_module_calls_no_io_builtin(name: str) -> None:
    source, _ = GRAPH.sources[name]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{name}:{node.lineno} calls {node.func.id}()"


def test_cli_parses_and_prints_and_composes_nothing() -> None:
    """All composition lives in wiring/: no module of cli/ imports an adapter."""
    found = {
        (n, t) for n in modules("quantterminal.cli") for t in GRAPH.imports(n) if under(t, ["quantterminal.adapters"])
    }
    assert found == set()


# --- every way around a rule that was ever found fails it ---------------------------------------

PROBES = [
    ("quantterminal.core.trading.probe", "from ...adapters.state import memory_state", core_purity),
    ("quantterminal.core.trading.probe", "from quantterminal import wiring", core_purity),
    ("quantterminal.core.market_data.probe", "from quantterminal.core import simulation", core_layering),
    ("quantterminal.core.trading.probe", "from quantterminal import backtest", core_purity),
    ("quantterminal.core.trading.probe", "import websockets", core_purity),
    ("quantterminal.core.trading.probe", "import threading", core_purity),
    ("quantterminal.core.trading.probe", "import os", core_purity),
    ("quantterminal.core.trading.probe", "from time import monotonic", core_purity),
    (
        "quantterminal.core.trading.probe",
        "import importlib\nimportlib.import_module('quantterminal.adapters')",
        core_purity,
    ),
    ("quantterminal.core.trading.probe", "def load(name):\n    return __import__(name)", core_purity),
    (
        "quantterminal.core.trading.probe",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import redis",
        core_purity,
    ),
    ("quantterminal.core.risk.probe", "from quantterminal.core.ports import Broker", core_purity),
    ("quantterminal.core.risk.probe", "from quantterminal.core.trading.ports import Broker", core_layering),
    ("quantterminal.core.market_data.probe", "from quantterminal.core.settings import BrokerSettings", core_layering),
    ("quantterminal.core.market_data.probe", "from quantterminal.core.strategies import momentum", core_layering),
    ("quantterminal.adapters.probe", "from quantterminal.cli import main", outer_layering),
    ("quantterminal.adapters.probe", "from quantterminal.config import load", outer_layering),
    ("quantterminal.wiring.probe", "import lambdas.wiring", outer_layering),
    ("lambdas.probe", "from quantterminal.adapters.state.redis_state import RedisStateStore", entrypoint_rules),
    (
        "quantterminal.cli.probe",
        "from quantterminal.adapters.state.redis_state import RedisStateStore",
        entrypoint_rules,
    ),
    ("quantterminal.cli.probe", "from lambdas import wiring", entrypoint_rules),
    (
        "quantterminal.cli.probe",
        "def run():\n    from quantterminal.adapters.reports import tearsheet\n",
        entrypoint_rules,
    ),
    ("quantterminal_cdk.probe", "from quantterminal.wiring import runtime", entrypoint_rules),
    ("quantterminal_cdk.probe", "from quantterminal.core.settings import BrokerSettings", entrypoint_rules),
]


@pytest.mark.parametrize(("name", "source", "rule"), PROBES, ids=[f"{p[2].__name__}:{p[1][:40]}" for p in PROBES])
def test_each_probe_fails_its_rule(name: str, source: str, rule: object) -> None:
    graph = GRAPH.with_module(name, source)
    assert rule(name, graph), f"{source!r} in {name} passed {rule}"  # type: ignore[operator]


def test_a_module_that_reaches_an_outer_layer_through_another_fails_too() -> None:
    """Transitive: core module a imports core module b, which imports an adapter."""
    graph = GRAPH.with_module("quantterminal.core.trading.probe_b", "from quantterminal.adapters import retry")
    graph = graph.with_module("quantterminal.core.trading.probe_a", "from quantterminal.core.trading import probe_b")
    assert any(
        "probe_b loads quantterminal.adapters.retry" in b
        for b in core_purity("quantterminal.core.trading.probe_a", graph)
    )


# --- one reading of the environment -------------------------------------------------------------


def test_environment_variables_are_named_once_and_read_in_one_place() -> None:
    """Every variable's name is a constant (``quantterminal.constants``); only
    ``quantterminal.environment`` reads the process environment (``os.environ``, ``os.getenv``),
    into one typed object, and the feed task's entry point hands that mapping on."""
    import quantterminal.constants as c

    names = {v for k, v in vars(c).items() if k.startswith("ENV_")}
    literal = [
        f"{name}:{node.lineno} names {node.value} (use quantterminal.constants)"
        for name, (source, _) in GRAPH.sources.items()
        if name != "quantterminal.constants"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert not literal, "; ".join(literal)
    readers = sorted(
        name
        for name, (source, _) in GRAPH.sources.items()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and ast.unparse(node.value) == "os"
    )
    assert set(readers) <= {"quantterminal.environment", "ecs_feed.main"}, readers


# --- one builder --------------------------------------------------------------------------------

KERNEL_PARTS = {"TradingDesk", "TradingEngine", "RiskGate", "SnapshotStrategies"}
KERNEL_BUILDER = "quantterminal.core.trading.kernel"


def constructed(source: str) -> list[tuple[int, str]]:
    """Calls in ``source`` that construct a kernel part (by name or attribute)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in KERNEL_PARTS:
                found.append((node.lineno, name))
    return found


def test_the_kernel_is_built_by_one_builder_only() -> None:
    """The backtest, the paper run, the Lambdas, optimize and the notebook get their kernel from
    ``core.trading.kernel.build_kernel``: a handler added there reaches every environment."""
    offenders = [
        f"{name}:{line} builds {part}"
        for name, (source, _) in GRAPH.sources.items()
        if name != KERNEL_BUILDER
        for line, part in constructed(source)
    ]
    assert not offenders, "build the kernel with build_kernel: " + "; ".join(offenders)
    assert constructed(GRAPH.sources[KERNEL_BUILDER][0]), "the builder itself constructs the parts"


# The shapes an order takes between a decision and the ledger (each says why in its docstring).
ORDER_SHAPES = {"Order", "OrderUpdate", "Reservation"}  # + Execution, the fill inside an update


def classes_naming_an_order(source: str) -> list[str]:
    """Classes that declare a ``client_order_id`` field: another shape of an order."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            fields = {
                item.target.id
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
            if "client_order_id" in fields:
                found.append(node.name)
    return found


def test_an_order_has_four_shapes_and_no_more() -> None:
    shapes = {
        f"{name}.{cls}"
        for name, (source, _) in GRAPH.sources.items()
        if under(name, ["quantterminal", "lambdas", "ecs_feed"])
        for cls in classes_naming_an_order(source)
    }
    assert {s.rsplit(".", 1)[1] for s in shapes} == ORDER_SHAPES, sorted(shapes)
    assert classes_naming_an_order("class Ticket:\n    client_order_id: str\n") == ["Ticket"]


def test_the_test_reads_the_files_it_checks() -> None:
    assert Path(ROOTS["quantterminal"] / "core" / "trading" / "kernel.py").is_file()
