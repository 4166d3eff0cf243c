"""Adapters: the real things the core talks to, one folder per capability -- market_data
(provider streams, historical bars, CSV), ledger (SQLite, PostgreSQL), state (in-process, Redis),
broker (Alpaca, simulated), streams (Kinesis, the local bus), aws, reports, api, replay (local
stand-ins for the providers)."""
