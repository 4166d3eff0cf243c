"""Simulation: the backtest driver, the fill model and execution costs."""
