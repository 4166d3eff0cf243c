"""The trading kernel: the desk, decisions, sizing, orders and their lifecycle, reconciliation."""
