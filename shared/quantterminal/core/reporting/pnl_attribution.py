"""Why a run made a different P&L than its backtest: the difference split by cause, exactly.

Both sides start flat at the start of the compared period and are marked at the same prices at
its end (each symbol's last close), so each side's P&L is the sum over its fills of
``side × qty × (mark − price)`` less commissions -- an identity, not an estimate. Orders carry the
same deterministic client order id (strategy, symbol, bar time, intent) wherever the kernel makes
them, so the two sides' fills are matched order by order and every share's contribution is
assigned to one cause:

- ``fill price``: shares both sides filled for the same order, at different prices (slippage
  against the backtest's fill model): ``side × shares × (backtest price − run price)``;
- ``not filled``: shares of an order both sides made that one side filled and the other did not
  (a limit not reached, a cancel, a partial fill), valued at that side's price;
- ``risk refusals``: orders one side made that the other's risk manager refused;
- ``timing``: orders only one side made for any other reason (a bar that came late or not at
  all, an order still working, a decision on another bar), each valued at its own fills;
- ``costs``: the difference in commissions.

The parts add up to the difference to the cent, by construction; ``check`` is zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from quantterminal.core.accounting.orders import Order
from quantterminal.core.models import Fill
from quantterminal.core.money import ZERO, to_decimal

CAUSES = ("risk refusals", "not filled", "fill price", "timing", "costs")


@dataclass(frozen=True)
class PnlExplanation:
    """One strategy's P&L in the backtest and in the run, and the difference by cause."""

    strategy: str
    backtest_pnl: Decimal
    run_pnl: Decimal
    parts: Mapping[str, Decimal]  # cause -> run minus backtest

    @property
    def difference(self) -> Decimal:
        return self.run_pnl - self.backtest_pnl

    @property
    def check(self) -> Decimal:
        """The difference less the parts: zero when the explanation is complete."""
        return self.difference - sum(self.parts.values(), ZERO)


@dataclass(frozen=True)
class _Filled:
    """An order's fills on one side: shares (signed by side), average price, commission."""

    signed_qty: int
    avg_price: Decimal
    commission: Decimal


def _by_order(fills: Iterable[Fill]) -> dict[str, _Filled]:
    grouped: dict[str, list[Fill]] = defaultdict(list)
    for fill in fills:
        grouped[fill.order_id].append(fill)
    out = {}
    for coid, group in grouped.items():
        qty = sum(f.qty for f in group)
        notional = sum((f.qty * f.price for f in group), ZERO)
        out[coid] = _Filled(group[0].side.sign * qty, notional / qty, sum((f.commission for f in group), ZERO))
    return out


def _value(signed_qty: int, price: Decimal, mark: Decimal) -> Decimal:
    """What ``signed_qty`` shares bought (negative: sold) at ``price`` are worth at ``mark``."""
    return signed_qty * (mark - price)


def explain(
    strategy: str,
    backtest_orders: Sequence[Order],
    backtest_fills: Sequence[Fill],
    run_orders: Sequence[Order],
    run_fills: Sequence[Fill],
    refused_in_backtest: Iterable[str],
    refused_in_run: Iterable[str],
    marks: Mapping[str, float | Decimal],
) -> PnlExplanation:
    """Explain ``strategy``'s P&L difference (see the module docs); ``refused_in_*`` are client
    order ids a risk manager refused, ``marks`` each symbol's price at the end of the period."""
    symbol_of = {o.client_order_id: o.symbol for o in (*backtest_orders, *run_orders)}
    symbol_of.update({f.order_id: f.symbol for f in (*backtest_fills, *run_fills)})
    mark = {s: to_decimal(p) for s, p in marks.items()}
    back, run = _by_order(backtest_fills), _by_order(run_fills)
    made_back = {o.client_order_id for o in backtest_orders} | back.keys()
    made_run = {o.client_order_id for o in run_orders} | run.keys()
    refused_back, refused_run = set(refused_in_backtest), set(refused_in_run)
    parts = dict.fromkeys(CAUSES, ZERO)
    nothing = _Filled(0, ZERO, ZERO)
    for coid in sorted(made_back | made_run | refused_back | refused_run):
        m = mark[symbol_of[coid]] if coid in symbol_of else ZERO
        b, r = back.get(coid, nothing), run.get(coid, nothing)
        parts["costs"] -= r.commission - b.commission
        value_b, value_r = _value(b.signed_qty, b.avg_price, m), _value(r.signed_qty, r.avg_price, m)
        if coid in made_back and coid in made_run:
            common = min(abs(b.signed_qty), abs(r.signed_qty)) if b.signed_qty * r.signed_qty > 0 else 0
            sign = 1 if (b.signed_qty or r.signed_qty) > 0 else -1
            price_part = sign * common * (b.avg_price - r.avg_price) if common else ZERO
            parts["fill price"] += price_part
            parts["not filled"] += value_r - value_b - price_part
        elif coid in refused_run or coid in refused_back:
            parts["risk refusals"] += value_r - value_b
        else:
            parts["timing"] += value_r - value_b
    back_pnl = sum(
        (_value(f.signed_qty, f.avg_price, mark[symbol_of[c]]) - f.commission for c, f in back.items()), ZERO
    )
    run_pnl = sum((_value(f.signed_qty, f.avg_price, mark[symbol_of[c]]) - f.commission for c, f in run.items()), ZERO)
    return PnlExplanation(strategy, back_pnl, run_pnl, parts)
