"""Wiring: each kind of entrypoint's kernel built with its handlers (the composition roots).

- ``runtime``: the Lambdas (and the paper run's trading side): desk, ledger, state store, risk
  gate, and the broker only where orders are placed (the table in its docs);
- ``feed``: the feed process (connection, clock, health); ``feed_source``: where ``qterm feed`` and
  ``qterm paper`` connect (a live provider, or a replay of real bars); ``feed_task``: the ECS feed task;
- ``factories``: a ledger or a state store from a URL;
- ``paper``: the trading side of the local paper run, fed by the in-process bus; ``paper_app``: the
  whole ``qterm paper`` pipeline composed (feed source, stores, broker, runtime, bus, API);
- ``backtest``: the backtest's handlers (simulated broker, object state, resident strategies).
"""
