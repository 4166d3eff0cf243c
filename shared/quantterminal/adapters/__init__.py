"""Adapters: one module per real thing the core talks to (files, databases, brokers, AWS)."""
