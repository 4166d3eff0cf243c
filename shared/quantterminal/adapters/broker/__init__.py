"""Brokers: Alpaca, and the simulated broker with its durable account."""
