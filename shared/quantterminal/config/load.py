"""Reading the configuration: a TOML (or JSON) file -> the validated ``Config`` -> strategy instances.

``load_config(None)`` is the shipped ``default.toml``. A file is layered over it: what it leaves
out is the shipped setting (the shipped strategy instances too, when it declares none), so a file
holding only ``[risk]`` changes only the risk limits. Every problem is a ``ConfigError`` of one line
that names the file and each key at fault (``quantterminal.toml: strategies[1].allocation: ...;
risk.drawdown: ...``).
``LoadedConfig.resolved()`` is the configuration in force as plain data -- what ``qterm config
show`` prints, what a run's manifest records, and what the CDK app bundles for the Lambdas.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from quantterminal.config.model import Config
from quantterminal.config.strategies import SpecError, file_spec, load_strategy
from quantterminal.constants import SAMPLE_PREFIX
from quantterminal.core.models import Bar
from quantterminal.core.strategies import StrategyError, StrategyInstance, share_capital

DEFAULT_NAME = "default.toml"


class ConfigError(ValueError):
    """A configuration file that cannot be used, said in one line."""


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration, where it came from, and its strategy instances (classes loaded,
    parameters checked, capital shared out)."""

    config: Config
    source: str  # the file's path, or "shipped defaults"
    base: Path  # where relative strategy files are found
    instances: tuple[StrategyInstance, ...]

    def dry_run(self, bars: int = 5) -> list[str]:
        """What would fail if the configuration ran: each instance built for a symbol and shown a
        few minute bars, as the kernel would (a strategy that cannot start is found here, not in
        the first bar of a run)."""
        problems = []
        start = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # a Monday's open: a regular session
        for instance in self.instances:
            symbol = sorted(instance.symbols)[0] if instance.symbols else self.config.data.symbols[0]
            try:
                strategy = instance.new(symbol)
                for n in range(bars):
                    price = 100.0 + n / 10
                    bar = Bar(symbol, start + timedelta(minutes=n), price, price + 0.1, price - 0.1, price, 1_000)
                    strategy.on_bar(bar)
                strategy.snapshot()
            except Exception as exc:
                problems.append(
                    f"{instance.name}: {instance.spec} fails on its first bars: {type(exc).__name__}: {exc}"
                )
        return problems

    def resolved(self) -> dict[str, Any]:
        """The configuration in force as plain data (TOML/JSON-ready; every default filled in)."""
        data: dict[str, Any] = _plain(self.config.model_dump(exclude_none=True))
        for section, instance in zip(data["strategies"], self.instances, strict=True):
            section["params"] = _plain(dataclasses.asdict(instance.params))  # the defaults too
            section["allocation"] = _plain(instance.capital_share)
            section["timeframe"] = instance.timeframe
            section["session"] = instance.session
        return data

    def toml(self) -> str:
        return tomli_w.dumps(self.resolved())

    def portable_toml(self) -> str:
        """``toml()`` with every file it names absolute -- strategy files (found from this
        configuration's folder) and data paths (from the working directory) -- so a copy written
        elsewhere (``qterm optimize``'s ``best.toml``) runs from any directory."""
        data = self.resolved()
        for section in data["strategies"]:
            found = file_spec(section["strategy"], self.base)
            if found is not None:
                path, attr = found
                section["strategy"] = f"{path}:{attr}" if attr else str(path)
        for role in ("backtest", "replay"):
            where = data.get("data", {}).get(role)
            if isinstance(where, str) and where and not where.startswith(SAMPLE_PREFIX) and "://" not in where:
                data["data"][role] = str(Path(where).expanduser().resolve())
        return tomli_w.dumps(data)

    def select(self, names: list[str]) -> LoadedConfig:
        """Only the named instances (their allocations as declared)."""
        known = {i.name: i for i in self.instances}
        missing = [n for n in names if n not in known]
        if missing:
            raise ConfigError(
                f"{self.source}: no strategy instance {', '.join(map(repr, missing))} (instances: {', '.join(known)})"
            )
        kept = [s for s in self.config.strategies if s.name in names]
        return LoadedConfig(
            self.config.model_copy(update={"strategies": kept}),
            self.source,
            self.base,
            tuple(known[n] for n in names),
        )

    def with_overrides(
        self,
        strategies: Sequence[str] | None = None,
        params: Sequence[tuple[str, str]] = (),
        allow_short: bool = False,
        sections: Mapping[str, Mapping[str, Any]] | None = None,
        session: str | None = None,
    ) -> LoadedConfig:
        """This configuration with the command line's overrides: only the ``strategies`` named (instance
        names), ``params`` (``NAME=VALUE`` for every instance that has it, ``INSTANCE.NAME=VALUE``
        for one), ``allow_short`` and ``session`` for all, and ``sections`` (``{"broker": {"cash": ...}}``)
        -- then validated again, so an override is checked like the file."""
        loaded = self.select(list(strategies)) if strategies else self
        if not params and not allow_short and not sections and session is None:
            return loaded
        data = loaded.config.model_dump()
        for section, instance in zip(data["strategies"], loaded.instances, strict=True):
            fields = set(instance.strategy.params_type.__dataclass_fields__)
            if allow_short:
                section["params"]["allow_short"] = True
            if session is not None:
                section["session"] = session
            for key, value in params:
                target, dot, field = key.rpartition(".")
                if (target == instance.name if dot else field in fields) and field:
                    section["params"][field] = value
        names = {i.name for i in loaded.instances}
        for key, _ in params:
            target, dot, field = key.rpartition(".")
            if dot and target not in names:
                raise ConfigError(
                    f"--param {key}: {target!r} is not among the strategies run ({', '.join(sorted(names))})"
                )
            takers = [i for i in loaded.instances if field in i.strategy.params_type.__dataclass_fields__]
            if not dot and not takers:
                raise ConfigError(f"--param {key}: no strategy run here has a parameter {field!r}")
        for name, values in (sections or {}).items():
            data[name] = {**(data.get(name) or {}), **{k: v for k, v in values.items() if v is not None}}
        return from_mapping(data, f"{loaded.source} (with command-line overrides)", loaded.base)


def shipped_text() -> str:
    """The shipped ``default.toml``."""
    return resources.files("quantterminal.config").joinpath(DEFAULT_NAME).read_text(encoding="utf-8")


def load_config(path: str | Path | None = None) -> LoadedConfig:
    """The configuration in ``path`` (TOML, or JSON as the CDK app bundles it) over the shipped
    defaults, or the shipped defaults."""
    if path is None:
        return from_text(shipped_text(), "shipped defaults", Path.cwd())
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: no such configuration file")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read: {exc}") from None
    return from_text(text, str(file), file.resolve().parent, as_json=file.suffix == ".json")


def from_text(text: str, source: str, base: Path, as_json: bool = False) -> LoadedConfig:
    """Parse, validate and resolve one configuration text."""
    try:
        raw = json.loads(text) if as_json else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source}: not valid {'JSON' if as_json else 'TOML'}: {exc}") from None
    except RecursionError:  # the parsers recurse per level: a hostile file must not be a traceback
        raise ConfigError(f"{source}: nested too deeply to be a configuration") from None
    try:
        return from_mapping(raw, source, base)
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a configuration") from None


def from_mapping(raw: Mapping[str, Any], source: str, base: Path) -> LoadedConfig:
    """Validate plain data (layered over the shipped file: see the module docs) and load its strategies."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: a configuration is a table of sections, not {type(raw).__name__}")
    if "strategies" not in raw:
        raw = {**raw, "strategies": tomllib.loads(shipped_text())["strategies"]}
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_errors(exc)}") from None
    instances = []
    for i, section in enumerate(config.strategies):
        where = f"{source}: strategies[{i}] ({section.name})"
        try:
            cls = load_strategy(section.strategy, base)
            instances.append(
                StrategyInstance.of(
                    cls,
                    section.name,
                    section.params,
                    section.symbols,
                    None if section.allocation is None else Decimal(section.allocation),
                    section.strategy,
                    section.timeframe,
                    section.session,
                )
            )
        except SpecError as exc:
            raise ConfigError(f"{where}.strategy: {exc}") from None
        except StrategyError as exc:
            raise ConfigError(f"{where}.params: {exc}") from None
    try:
        shared = share_capital(instances)
    except StrategyError as exc:
        raise ConfigError(f"{source}: strategies: {exc}") from None
    return LoadedConfig(config, source, base, shared)


def _errors(exc: ValidationError) -> str:
    """Every error, each naming its key, on one line."""
    said: list[str] = []
    for error in exc.errors():
        # a union (a fraction or "none") reports each alternative: the first says enough
        loc = [
            part for part in error["loc"] if not (isinstance(part, str) and part.startswith(("literal[", "decimal")))
        ]
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        line = f"{key or 'file'}: {message}"
        if not any(s.startswith(f"{key or 'file'}: ") for s in said):
            said.append(line)
    return "; ".join(said)


def _plain(value: Any) -> Any:
    """Decimals as TOML/JSON numbers (an integer when whole), recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def strategies_named(config: str | Path | None, named: str | None, default_all: bool) -> LoadedConfig:
    """The configuration a command line names -- one language for every command that trades:
    with ``config``, that file's instances (``named``: only these instance names, comma-separated);
    without, the shipped settings with one instance per spec in ``named`` (built-in names, ``all``,
    ``path.py:Class``, ``module:Class`` or an entry point), or -- when nothing is named and
    ``default_all`` -- the shipped instances."""
    if config is not None:
        loaded = load_config(config)
        return loaded.select(split_names(named)) if named else loaded
    if not named:
        if default_all:
            return load_config(None)
        raise ConfigError("name the strategies (--strategy NAME, path.py:Class, ...) or a configuration (--config)")
    from quantterminal.core.strategies import STRATEGIES  # noqa: PLC0415 - the built-ins, for "all"

    specs = list(STRATEGIES) if named.strip() == "all" else split_names(named)
    raw = tomllib.loads(shipped_text())
    try:
        raw["strategies"] = [{"name": load_strategy(spec).name, "strategy": spec} for spec in specs]
    except SpecError as exc:
        raise ConfigError(f"--strategy: {exc}") from None
    return from_mapping(raw, "command line", Path.cwd())


def split_names(text: str) -> list[str]:
    """Comma-separated names or specs, each once."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if len(set(names)) != len(names):
        raise ConfigError(f"strategy listed twice in {text!r}")
    if not names:
        raise ConfigError("no strategy named")
    return names
