"""Strategy specs: how a user names a strategy everywhere one is accepted.

- a built-in name: ``momentum``, ``mean_reversion``, ``volatility_breakout``;
- a file: ``path/to/my_strategy.py:MyStrategy`` (relative to the configuration file, or to the
  working directory on the command line; ``:MyStrategy`` may be left out when the file defines
  exactly one strategy);
- a module on the Python path: ``my_package.strategies:MyStrategy``;
- an installed entry point in the group ``quantterminal.strategies`` (a package declares
  ``[project.entry-points."quantterminal.strategies"] my_strategy = "my_package.strategies:MyStrategy"``),
  named by its entry point name.

Every failure is a ``SpecError`` with one line naming the problem: the file is missing, it does
not import (with the line), the class is missing, it is not a ``Strategy``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from quantterminal.core.strategies import STRATEGIES, Strategy, StrategyParams

ENTRY_POINT_GROUP = "quantterminal.strategies"


class SpecError(ValueError):
    """A strategy spec that names no usable strategy."""


def file_spec(spec: str, base: Path | None = None) -> tuple[Path, str] | None:
    """``(absolute path, class name or "")`` when ``spec`` names a file, else ``None``."""
    spec = spec.strip()
    target, colon, attr = spec.rpartition(":") if ":" in spec else (spec, "", "")
    if not (target.endswith(".py") or (not colon and spec.endswith(".py"))):
        return None
    path = Path(target)
    return (path if path.is_absolute() else (base or Path.cwd()) / path).resolve(), attr


def load_strategy(spec: str, base: Path | None = None) -> type[Strategy]:
    """The strategy class ``spec`` names (see the module docs); ``base``: where relative files are."""
    spec = spec.strip()
    if not spec:
        raise SpecError("empty strategy spec")
    if spec in STRATEGIES:
        return STRATEGIES[spec]
    target, colon, attr = spec.rpartition(":") if ":" in spec else (spec, "", "")
    if target.endswith(".py") or (not colon and spec.endswith(".py")):
        return _from_file(spec, Path(target), attr, base)
    if colon:
        return _checked(spec, _attribute(spec, _import_module(spec, target), attr))
    return _from_entry_point(spec)


def _from_file(spec: str, path: Path, attr: str, base: Path | None) -> type[Strategy]:
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    if not path.is_file():
        raise SpecError(f"strategy {spec!r}: no file {path}")
    path = path.resolve()
    # One module per file (by its path), so two instances of one file share one class.
    name = f"quantterminal_user_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:10]}"
    module = sys.modules.get(name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise SpecError(f"strategy {spec!r}: {path} cannot be imported as Python")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module  # dataclasses and pickling look a class's module up here
        try:
            loader_spec.loader.exec_module(module)
        except BaseException as exc:
            del sys.modules[name]
            raise SpecError(f"strategy {spec!r}: {path} does not import: {_describe(exc)}") from None
    if not attr:
        found = _strategies_in(module)
        if len(found) != 1:
            listed = ", ".join(c.__name__ for c in found) or "none"
            raise SpecError(
                f"strategy {spec!r}: name the class as {path.name}:CLASS (strategies in the file: {listed})"
            )
        return found[0]
    return _checked(spec, _attribute(spec, module, attr))


def _import_module(spec: str, dotted: str) -> ModuleType:
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        raise SpecError(f"strategy {spec!r}: no module {exc.name or dotted!r} on the Python path") from None
    except BaseException as exc:
        raise SpecError(f"strategy {spec!r}: module {dotted} does not import: {_describe(exc)}") from None


def _attribute(spec: str, module: ModuleType, attr: str) -> object:
    if not attr.isidentifier():
        raise SpecError(f"strategy {spec!r}: {attr!r} is not a class name")
    try:
        return getattr(module, attr)
    except AttributeError:
        listed = ", ".join(c.__name__ for c in _strategies_in(module)) or "none"
        raise SpecError(f"strategy {spec!r}: no {attr} in {module.__name__} (strategies there: {listed})") from None


def _from_entry_point(spec: str) -> type[Strategy]:
    points = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec]
    if not points:
        known = sorted({*STRATEGIES, *(ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))})
        raise SpecError(
            f"unknown strategy {spec!r}: not built in, not an installed entry point ({', '.join(known)}),"
            " and not a file (path.py:Class) or a module (package.module:Class)"
        )
    try:
        loaded = points[0].load()
    except BaseException as exc:
        raise SpecError(f"strategy {spec!r}: entry point {points[0].value} does not load: {_describe(exc)}") from None
    return _checked(spec, loaded)


def _checked(spec: str, candidate: object) -> type[Strategy]:
    if not (inspect.isclass(candidate) and issubclass(candidate, Strategy)):
        raise SpecError(f"strategy {spec!r}: {candidate!r} is not a Strategy subclass (from quantterminal)")
    if inspect.isabstract(candidate):
        missing = ", ".join(sorted(getattr(candidate, "__abstractmethods__", ())))
        raise SpecError(f"strategy {spec!r}: {candidate.__name__} does not implement {missing}")
    name = getattr(candidate, "name", None)
    if not isinstance(name, str) or not name:
        raise SpecError(f"strategy {spec!r}: {candidate.__name__} needs a class attribute name = '...'")
    params_type = getattr(candidate, "params_type", None)
    if not (inspect.isclass(params_type) and issubclass(params_type, StrategyParams)):
        raise SpecError(f"strategy {spec!r}: {candidate.__name__}.params_type must be a StrategyParams dataclass")
    return candidate


def _strategies_in(module: ModuleType) -> list[type[Strategy]]:
    return [
        c
        for c in vars(module).values()
        if inspect.isclass(c)
        and issubclass(c, Strategy)
        and c.__module__ == module.__name__
        and not inspect.isabstract(c)
    ]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
