"""What the command line says when a service it needs fails: one line naming the problem.

A database that is down, a database that does not exist, Redis unreachable, a ledger without its
schema -- these are the user's environment, not bugs, so they get a sentence and exit status 2
instead of a traceback. Anything not recognised here is a bug and keeps its traceback. The drivers
are recognised by module name, so nothing is imported for it.
"""

from __future__ import annotations

_MISSING_SCHEMA = ("UndefinedTable", "no such table")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def describe_failure(exc: BaseException) -> str | None:
    """One line for a failure of the environment (see the module docs), ``None`` for anything else."""
    module = type(exc).__module__ or ""
    name = type(exc).__name__
    message = _first_line(exc)
    if any(marker in name or marker in message for marker in _MISSING_SCHEMA) and module.startswith(
        ("psycopg2", "sqlite3")
    ):
        return f"the ledger has no schema yet ({message}); run: qterm db migrate --database URL"
    if module.startswith("psycopg2"):
        if "does not exist" in message and "database" in message:
            return f"PostgreSQL: {message.removeprefix('FATAL:').strip()} (create it, or check --database)"
        if name in ("OperationalError", "InterfaceError"):
            return f"PostgreSQL is not reachable: {message}"
        return f"PostgreSQL refused the request: {message}"
    if module.startswith("redis"):
        if name in ("ConnectionError", "TimeoutError", "AuthenticationError"):
            return f"Redis is not reachable: {message}"
        return f"Redis refused the request: {message}"
    if module == "sqlite3":
        return f"SQLite: {message}"
    return None
