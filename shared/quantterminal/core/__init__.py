"""The pure core: models, indicators, strategies, accounting, metrics and the backtester.

Nothing in here performs I/O or imports boto3, redis, psycopg or a network client; the
adapters do that, behind the small interfaces the core defines.
"""
