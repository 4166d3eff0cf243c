"""Fixtures of the Lambda tests (the harness lives in ``harness.py``)."""

from tests.lambdas.harness import live, traded

__all__ = ["live", "traded"]
