"""Refusals that stand: a decision the risk manager refused for what the account cannot do now
(buying power, a limit, a halted entry) is not asked again on every bar while nothing it depends on
changed. The same strategy wanting the same position in the same symbol, with the account's
reservations and halts as they were (every order placed, filled or ended changes the reservations;
cash moves only with a fill) and in the same New York day, gets the refusal back with no order
built, no account read and no risk event recorded (``Refusal``). In a universe of symbols some
order fills or ends nearly every bar, so a buying-power refusal is then sized again and checked by
that rule alone (``risk.manager.short_of_buying_power``): while it still does not fit, the risk
manager would refuse it, and it is not asked. The peak and opening equity the
risk state also tracks are left out of that comparison: every check may raise the peak, so every
refusal would undo the others'. A cold process asks once more and is refused again, or not: the
answer then is what a re-ask would have said anyway, on that bar's prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quantterminal.core.accounting.state import RiskState
from quantterminal.core.models import Direction

# rules whose answer depends only on the risk state, the account and the day -- not on the bar's
# price (price band) or minute (market hours): a refusal by one of them stands until those change
STANDING_RULES = frozenset(
    {"buying_power", "position_limit", "max_notional", "daily_loss", "strategy_disabled", "symbol_halted", "allow_list"}
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused decision that stands: what was wanted, by which rule, the risk state it was
    refused under, and until when (the end of its New York day)."""

    wanted: Direction
    rule: str
    state: RiskState
    until: datetime
    note: str

    def holds(self, wanted: Direction, state: RiskState, minute: datetime) -> bool:
        """Whether asking again for ``wanted`` under ``state`` at ``minute`` would be asking the
        same question: the same halts, and the same reservations -- for buying power, at least
        the same with none released since (an order placed since only takes more; a fill or an
        order's end releases some, and moves cash)."""
        if not self.same_day_and_halts(wanted, state, minute):
            return False
        then = self.state
        if self.rule == "buying_power":
            return state.released == then.released and all(r in state.reservations for r in then.reservations)
        return state.reservations == then.reservations

    def same_day_and_halts(self, wanted: Direction, state: RiskState, minute: datetime) -> bool:
        """The same want, New York day and halts: only the reservations (and cash) may differ.
        A buying-power refusal then stands while the order, sized again, still does not fit
        (``risk.manager.short_of_buying_power``, the rule itself): every other rule is as it was."""
        then = self.state
        return not (
            wanted is not self.wanted
            or minute >= self.until
            or state.halted_symbols != then.halted_symbols
            or state.disabled_strategies != then.disabled_strategies
            or state.entries_halted_on != then.entries_halted_on
        )


__all__ = ["STANDING_RULES", "Refusal"]
