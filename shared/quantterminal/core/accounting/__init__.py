"""Accounting: positions and P&L from fills, round-trip trades, performance metrics, ledger records, hot state."""
