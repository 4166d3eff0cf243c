"""The pure core, one folder per capability (lowest first): market_data, strategies, accounting,
risk, trading (the kernel), simulation (the backtest), reporting; ``models``, ``money`` and
``ports`` are the vocabulary they share.

Nothing in here performs I/O or imports boto3, redis, psycopg or a network client; the
adapters do that, behind the small interfaces the core defines (``ports``).
"""
