"""Accounting: positions and P&L from fills, round trips, ledger records, hot state, reconciliation."""
