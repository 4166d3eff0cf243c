"""The trading kernel: the desk, the decision engine, sizing, orders and their lifecycle."""
