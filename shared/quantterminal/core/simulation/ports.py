"""The broker handler of a backtest: a broker that bars drive and that reports its fills."""

from __future__ import annotations

from typing import Protocol

from quantterminal.core.accounting.orders import Order
from quantterminal.core.models import Bar, Fill
from quantterminal.core.trading.ports import Broker


class SimulatedVenue(Broker, Protocol):
    """The broker handler of a backtest: a broker that bars drive and that reports its fills."""

    fills: list[Fill]

    def on_bar(self, bar: Bar, in_session: bool = True) -> None:
        """Work the orders of ``bar.symbol`` on ``bar`` (none on a bar outside the regular
        session); deliver the updates that are due."""
        ...

    def close_out(self, bar: Bar) -> None:
        """Fill the working market orders of ``bar.symbol`` at ``bar``'s close, now."""
        ...

    def all_orders(self) -> list[Order]:
        """Every order received, terminal or not."""
        ...

    def working(self, symbol: str) -> bool:
        """Whether an order in ``symbol`` is still being worked."""
        ...
