"""Reporting: post-trade analysis, divergence from the backtest and its causes, what the API shows."""
