"""Wiring: each kind of entrypoint's kernel built with its handlers (the composition roots).

- ``runtime``: the live path's desk, ledger, state store, broker and risk gate (Lambdas, paper run);
- ``factories``: a ledger or a state store from a URL;
- ``paper``: the trading side of the local paper run, fed by the in-process bus;
- ``backtest``: the backtest's handlers (simulated broker, object state, resident strategies).
"""
