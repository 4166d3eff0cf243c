"""One owner per setting: each default is declared once, in the core's settings classes; the
configuration model takes its names and defaults from them; the shipped file states exactly those
defaults; a partial file layers over it; every error in a file is listed."""

from __future__ import annotations

import dataclasses
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from quantterminal.adapters.broker.simulated_account import SimulatorConfig
from quantterminal.config.load import ConfigError, from_text, load_config, shipped_text
from quantterminal.config.model import BrokerSection, Config, DataSection, OrdersSection, RiskSection
from quantterminal.core.settings import SECTIONS, BrokerSettings, DataSettings, default_of
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.trading.config import TradingConfig

MODELS = {"orders": OrdersSection, "risk": RiskSection, "broker": BrokerSection, "data": DataSection}


def plain(value: object) -> object:
    """A core default as the file states it."""
    if hasattr(value, "value"):  # an enum
        return value.value  # type: ignore[attr-defined]
    if isinstance(value, tuple | frozenset):
        return list(value)
    return value


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_the_files_keys_are_the_cores_names(section: str) -> None:
    core = {f.name for f in dataclasses.fields(SECTIONS[section])} - {"risk"}  # [risk] is its own section
    assert set(MODELS[section].model_fields) == core


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_default_of_the_model_is_the_cores(section: str) -> None:
    model = MODELS[section]()
    for name in type(model).model_fields:
        core = default_of(SECTIONS[section], name)
        stated = getattr(model, name)
        if name == "participation" and core is None:
            assert stated == "none"
            continue
        assert stated == plain(core), f"[{section}] {name}: model {stated!r}, core {core!r}"


def test_the_shipped_file_states_exactly_the_defaults() -> None:
    shipped = tomllib.loads(shipped_text())
    defaults = Config.model_validate({"strategies": shipped["strategies"]}).model_dump()
    stated = Config.model_validate(shipped).model_dump()
    assert stated == defaults
    text = shipped_text()
    for section in SECTIONS:  # and the file spells every setting out, so a reader sees them all
        unset = {name for name, field in MODELS[section].model_fields.items() if field.default is None}
        assert set(shipped[section]) | unset >= set(MODELS[section].model_fields), section
        assert all(f"{name} =" in text for name in unset), section  # TOML has no None: shown commented out


def test_the_shipped_file_is_what_config_show_prints_of_the_defaults() -> None:
    shown = tomllib.loads(load_config().toml())
    shipped = tomllib.loads(shipped_text())
    for section in SECTIONS:
        assert {k: v for k, v in shown[section].items() if k in shipped[section]} == shipped[section], section
    assert shown["account"] == shipped["account"]


def test_the_kernels_other_defaults_are_the_broker_settings() -> None:
    broker = BrokerSettings()
    assert FillModel() == broker.fill_model()
    assert BacktestConfig(("momentum",)).cash == broker.cash == SimulatorConfig().initial_cash
    shipped = load_config().config
    assert shipped.trading() == TradingConfig()
    assert shipped.broker_settings() == broker
    assert tuple(shipped.data.symbols) == DataSettings().symbols


def test_a_partial_file_layers_over_the_shipped_one(tmp_path: Path) -> None:
    file = tmp_path / "risk_only.toml"
    file.write_text("[risk]\ndrawdown = 0.08\n", encoding="utf-8")
    loaded = load_config(file)
    shipped = load_config()
    assert [i.name for i in loaded.instances] == [i.name for i in shipped.instances]
    assert loaded.config.trading().risk.drawdown == Decimal("0.08")
    assert loaded.config.trading().risk.daily_loss == shipped.config.trading().risk.daily_loss
    assert loaded.config.broker == shipped.config.broker


def test_every_error_of_a_file_is_listed_on_one_line() -> None:
    text = '[orders]\ntype = "stop"\ncancel_after_seconds = inf\n[risk]\ndrawdown = 2\n[data]\nsymbols = []\n'
    with pytest.raises(ConfigError) as caught:
        from_text(text, "my.toml", Path.cwd())
    said = str(caught.value)
    assert "\n" not in said
    for key in ("orders.type", "orders.cancel_after_seconds", "risk.drawdown", "data.symbols"):
        assert f"{key}: " in said, said
    assert "finite" in said
