"""What the risk gate needs beyond the state store: somewhere to keep its decisions (``RiskJournal``,
the ledger's role for risk events)."""

from __future__ import annotations

from typing import Protocol

from quantterminal.core.accounting.records import RiskEvent


class RiskJournal(Protocol):
    """Where rejections, halts, alerts and resumptions are kept."""

    def record_risk_event(self, event: RiskEvent) -> None:
        """Append a risk event."""
        ...
