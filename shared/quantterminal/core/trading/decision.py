"""What one bar led to for one strategy (``Decision``), and the decisions the kernel's common bars
share (built once: most bars change nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from quantterminal.core.accounting.orders import Order
from quantterminal.core.models import Direction, Signal
from quantterminal.core.risk.manager import RiskDecision

HALTED = "trading halted"  # the note of a decision not carried out because trading is halted
BROKER_REJECTED = "broker rejected"  # the note's start when the broker refused the order at submit


@dataclass(frozen=True)
class Decision:
    """What one bar led to."""

    signal: Signal | None = None
    order: Order | None = None
    risk: RiskDecision | None = None
    placed: Order | None = None
    note: str = ""
    wanted: Direction | None = None  # the strategy's answer (None: none yet)
    idle: bool = False  # nothing to do: no answer yet, positioned as wanted with no order working, or halted
    working: Order | None = None  # the order this decision recorded and left open (the broker did not refuse it)


WARMING_UP = Decision(note="warming up", idle=True)
SAT_OUT = Decision(note="out by an exit leg: waiting for a new answer", idle=True)
ALREADY_PROCESSED = Decision(note="bar already processed")
LONG_HELD, FLAT_HELD, SHORT_HELD = (
    Decision(note="already positioned", wanted=d, idle=True) for d in (Direction.LONG, Direction.FLAT, Direction.SHORT)
)
# Positioned as wanted, with a longest hold configured: not idle, the clock can still close it.
LONG_TIMED, SHORT_TIMED = (
    Decision(note="already positioned, until its longest hold", wanted=d) for d in (Direction.LONG, Direction.SHORT)
)
