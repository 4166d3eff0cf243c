"""Shared fixtures: the real data the repo ships."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.core.models import Bar

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def sample_root() -> Path:
    return SAMPLE_ROOT


@pytest.fixture(scope="session")
def spy_2011_rth() -> list[Bar]:
    """SPY, January and March 2011, regular hours (16,770 real minute bars)."""
    return load_bars(SAMPLE_ROOT / "spy_2011", regular_hours_only=True)["SPY"]


@pytest.fixture(scope="session")
def lean_2013_rth() -> dict[str, list[Bar]]:
    """SPY, IBM and BAC, 2013-10-04 to 2013-10-11, regular hours."""
    return load_bars(SAMPLE_ROOT / "lean_2013", regular_hours_only=True)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A region and dummy credentials for moto (no test ever reaches a real AWS endpoint)."""
    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "t"),
        ("AWS_SECRET_ACCESS_KEY", "t"),
    ):
        monkeypatch.setenv(name, value)
