"""The layer rules, checked: the core is pure Python -- no I/O libraries, no outer layers; the
layers point one way (entrypoints -> wiring -> adapters -> core); the deployed entrypoints (the
Lambdas, the feed task) reach adapters only through the wiring; and the core's capability folders
are layered too, each importing only the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import quantterminal.core

CORE = Path(quantterminal.core.__file__).parent
FORBIDDEN = {
    "boto3",
    "botocore",
    "redis",
    "psycopg",
    "psycopg2",
    "sqlite3",
    "socket",
    "requests",
    "urllib",
    "http",
    "websocket",
    "alpaca",
    "subprocess",
    "csv",
    "pathlib",
    "io",
    "matplotlib",
    "rich",
    "aws_lambda_powertools",
    "quantterminal.adapters",
    "quantterminal.cli",
    "quantterminal.wiring",
    "quantterminal.config",
}
FORBIDDEN_CALLS = {"open", "print", "input"}


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_core_modules_are_found() -> None:
    names = {p.stem for p in core_modules()}
    assert {"backtest", "indicators", "portfolio", "models", "momentum"} <= names


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {node.func.id}()"
            continue
        else:
            continue
        for name in names:
            hits = [b for b in FORBIDDEN if name == b or name.startswith(b + ".")]
            assert not hits, f"{path.name}:{node.lineno} imports {name}: the core must stay free of I/O"


PACKAGE = CORE.parent
OUTER = {  # a layer may not import these (the layers above it)
    "adapters": ("quantterminal.wiring", "quantterminal.config", "quantterminal.cli", "lambdas", "ecs_feed"),
    "config": ("quantterminal.adapters", "quantterminal.wiring", "quantterminal.cli", "lambdas", "ecs_feed"),
    "wiring": ("quantterminal.cli", "lambdas", "ecs_feed"),
}


def imported_names(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(OUTER))
def test_layers_do_not_import_the_layers_above_them(layer: str) -> None:
    paths = sorted((PACKAGE / layer).rglob("*.py"))
    assert paths
    for path in paths:
        for line, name in imported_names(path):
            hits = [b for b in OUTER[layer] if name == b or name.startswith(b + ".")]
            assert not hits, f"{layer}/{path.name}:{line} imports {name}, a layer above {layer}"


REPO = PACKAGE.parent.parent
ENTRYPOINTS = ("lambdas", "ecs_feed")


@pytest.mark.parametrize("entrypoint", ENTRYPOINTS)
def test_deployed_entrypoints_touch_adapters_only_through_the_wiring(entrypoint: str) -> None:
    """What a Lambda or the feed task can reach is decided in ``quantterminal.wiring``: a handler
    that imported an adapter itself could hold a broker or a secret its wiring does not give it."""
    paths = sorted((REPO / entrypoint).glob("*.py"))
    assert paths
    for path in paths:
        for line, name in imported_names(path):
            assert not name.startswith("quantterminal.adapters"), (
                f"{entrypoint}/{path.name}:{line} imports {name}: wire it in quantterminal.wiring"
            )


# The core's capability folders, lowest first: each may import the shared vocabulary at the root
# (models, money; ports names every folder's values) and only the folders before it.
CORE_LAYERS = ("market_data", "strategies", "accounting", "risk", "trading", "simulation", "research", "reporting")


def test_every_core_folder_has_its_place_in_the_layers() -> None:
    folders = {p.name for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(CORE_LAYERS)


@pytest.mark.parametrize("folder", CORE_LAYERS)
def test_core_folders_import_only_the_folders_below_them(folder: str) -> None:
    below = set(CORE_LAYERS[: CORE_LAYERS.index(folder)])
    for path in sorted((CORE / folder).rglob("*.py")):
        for line, name in imported_names(path):
            if not name.startswith("quantterminal.core."):
                continue
            target = name.split(".")[2]
            if target in CORE_LAYERS and target != folder:
                assert target in below, f"core/{folder}/{path.name}:{line} imports {name}, a folder above {folder}"


@pytest.mark.parametrize("module", ["models", "money"])
def test_core_vocabulary_imports_no_folder(module: str) -> None:
    for line, name in imported_names(CORE / f"{module}.py"):
        assert not name.startswith("quantterminal.core.") or name.split(".")[2] in ("models", "money"), (
            f"core/{module}.py:{line} imports {name}"
        )


# The kernel's parts, and the one module that may construct them (``build_kernel``).
KERNEL_PARTS = {"TradingDesk", "TradingEngine", "RiskGate", "SnapshotStrategies"}
KERNEL_BUILDER = CORE / "trading" / "kernel.py"


def constructed(path: Path) -> list[tuple[int, str]]:
    """Calls in ``path`` that construct a kernel part (by name or attribute)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in KERNEL_PARTS:
                found.append((node.lineno, name))
    return found


def test_the_kernel_is_built_by_one_builder_only() -> None:
    """The backtest, the paper run, the Lambdas, optimize and the notebook get their kernel from
    ``core.trading.kernel.build_kernel``: a handler added there reaches every environment."""
    paths = [p for p in PACKAGE.rglob("*.py") if p != KERNEL_BUILDER]
    paths += [p for entrypoint in ENTRYPOINTS for p in (REPO / entrypoint).glob("*.py")]
    offenders = [f"{p.relative_to(REPO)}:{line} builds {name}" for p in paths for line, name in constructed(p)]
    assert not offenders, "build the kernel with build_kernel: " + "; ".join(offenders)
    assert constructed(KERNEL_BUILDER), "the builder itself constructs the parts"
