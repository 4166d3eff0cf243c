"""The layer rule, checked: the core is pure Python -- no I/O libraries, no outer layers -- and
the layers point one way (entrypoints -> wiring -> adapters -> core)."""

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
    "adapters": ("quantterminal.wiring", "quantterminal.cli", "lambdas", "ecs_feed"),
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
