"""Research: parameter search and walk-forward validation over the one backtest kernel (pure)."""
