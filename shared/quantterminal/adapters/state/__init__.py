"""The hot state store: in-process, Redis, and plain objects for backtests."""
