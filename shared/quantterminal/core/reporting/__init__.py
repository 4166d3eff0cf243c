"""Reporting: performance metrics, post-trade analysis, divergence, what the API shows."""
