"""Reaching the real servers the contract tests run against (PostgreSQL and Redis on loopback).

A test that needs a server skips with the reason when the server is absent on a developer's
machine; under CI (``CI`` set) an absent server fails the run instead, because CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

POSTGRES_URL = os.environ.get("QT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("QT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require(name: str, check: Callable[[], Any]) -> None:
    """Run ``check``; if it fails, skip (on a laptop) or fail (in CI) with the reason."""
    try:
        check()
    except Exception as exc:
        message = f"{name} is not reachable ({type(exc).__name__}: {exc})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run these tests", pytrace=False)
        pytest.skip(f"{message}; start it to run these tests")


def check_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()


def check_postgres() -> None:
    import psycopg2

    psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()


def new_schema() -> str:
    """A PostgreSQL schema name no other test uses."""
    import uuid

    return f"qt_test_{uuid.uuid4().hex[:12]}"


def drop_schema(schema: str) -> None:
    """Remove a test's PostgreSQL schema and everything in it."""
    import psycopg2

    conn = psycopg2.connect(POSTGRES_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.close()


def delete_redis_keys(pattern: str) -> None:
    """Remove a test's Redis keys (``pattern`` as for SCAN MATCH)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(pattern, count=1000))
    if keys:
        client.delete(*keys)
    client.close()
