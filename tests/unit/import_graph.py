"""The project's import graph, resolved to modules: what the architecture test checks.

Every way a module can depend on another counts, because each of them loads the other at run time:
``import a.b``, ``from a import b`` (the module ``a.b`` if there is one, else ``a``), relative
imports (``from . import x``, ``from ..core import models``), imports guarded by ``TYPE_CHECKING``
(a type-level dependency is a dependency of the design), ``importlib.import_module("a.b")`` and
``__import__`` with a literal name, a string naming one of the project's modules (the lazy homes of
``quantterminal.__getattr__`` and the CLI's command table), and a name taken from a package that
hands it out lazily (``from quantterminal import backtest`` is ``quantterminal.wiring.notebook``).
A dynamic import whose target is not a literal is recorded as ``DYNAMIC``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = {  # top-level package -> its folder
    "quantterminal": REPO / "shared" / "quantterminal",
    "lambdas": REPO / "lambdas",
    "ecs_feed": REPO / "ecs_feed",
    "quantterminal_cdk": REPO / "cdk" / "quantterminal_cdk",
}
DYNAMIC = "<dynamic import>"
_IMPORTERS = {"import_module", "__import__"}


@dataclass
class Graph:
    """Modules by dotted name (source text and whether it is a package), and their imports."""

    sources: dict[str, tuple[str, bool]] = field(default_factory=dict)
    _closures: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _homes: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    @classmethod
    def of_project(cls) -> Graph:
        graph = cls()
        for top, folder in ROOTS.items():
            for path in sorted(folder.rglob("*.py")):
                parts = path.relative_to(folder).with_suffix("").parts
                package = parts[-1] == "__init__"
                dotted = ".".join((top, *parts[:-1])) if package else ".".join((top, *parts))
                graph.sources[dotted] = (path.read_text(encoding="utf-8"), package)
        return graph

    def with_module(self, name: str, source: str, package: bool = False) -> Graph:
        """This graph with ``name`` replaced by (or added as) ``source``: how the probes are tested."""
        return Graph({**self.sources, name: (source, package)})

    def is_module(self, name: str) -> bool:
        return name in self.sources

    @cached_property
    def _imports(self) -> dict[str, set[str]]:
        return {}

    def imports(self, name: str) -> set[str]:
        """What ``name`` imports directly: project modules by dotted name, others by their own name."""
        found = self._imports.get(name)
        if found is None:
            found = self._imports[name] = set(self._resolve(name))
        return found

    def closure(self, name: str) -> dict[str, str]:
        """Every module ``name`` loads, directly or through others: target -> the project module
        that imports it (to say where a rule was broken)."""
        cached = self._closures.get(name)
        if cached is not None:
            return cached
        seen: dict[str, str] = {}
        todo = [name]
        while todo:
            current = todo.pop()
            for target in self.imports(current):
                if target not in seen:
                    seen[target] = current
                    if self.is_module(target):
                        todo.append(target)
        self._closures[name] = seen
        return seen

    def _lazy_homes(self, package: str) -> dict[str, str]:
        """Names a package hands out lazily: a dict literal of name -> project module."""
        cached = self._homes.get(package)
        if cached is not None:
            return cached
        source, _ = self.sources[package]
        homes: dict[str, str] = {}
        self._homes[package] = homes
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                        and self.is_module(value.value)
                    ):
                        homes[str(key.value)] = value.value
        return homes

    def _names_a_module(self, name: str, value: object, package: bool) -> bool:
        """Whether a string constant in ``name`` names another project module (a command table).
        Not one of ``name``'s own packages; and not in a package, whose lazy homes are followed
        per name instead (``from package import name``)."""
        return (
            isinstance(value, str)
            and "." in value
            and not package
            and self.is_module(value)
            and not under(name, [value])
        )

    def _resolve(self, name: str) -> Iterator[str]:
        source, package = self.sources[name]
        here = name if package else name.rpartition(".")[0]
        tree = ast.parse(source)
        if package:  # a package's TYPE_CHECKING block types its lazy exports, followed per name instead
            tree.body = [n for n in tree.body if not (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
                homes = self._lazy_homes(module) if self.is_module(module) else {}
                for alias in node.names:
                    candidate = f"{module}.{alias.name}"
                    yield candidate if self.is_module(candidate) else homes.get(alias.name, module)
            elif isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called in _IMPORTERS:
                    first = node.args[0] if node.args else None
                    literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
                    yield str(first.value) if literal and first is not None else DYNAMIC  # type: ignore[union-attr]
            elif isinstance(node, ast.Constant) and self._names_a_module(name, node.value, package):
                yield str(node.value)


def top(name: str) -> str:
    """The top-level name of a module (``os.path`` -> ``os``)."""
    return name.partition(".")[0]


def under(name: str, prefixes: Iterable[str]) -> bool:
    """Whether ``name`` is one of ``prefixes`` or inside one."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)
