"""Build the ledger and the state store from URLs: real servers or the embedded twins.

- Ledger: ``postgresql://user:pass@host:5432/db[?schema=name]`` or ``sqlite:///path/to/file``
  (``sqlite:///:memory:`` for a private in-memory one). Default: ``$DATABASE_URL``, else
  ``sqlite:///.quantterminal/ledger.sqlite3``. A SQLite file is created only in a folder that
  exists (a typo must not leave a new folder behind; the default folder is ours and is made), and
  never by commands that only read (``create=False``: a mistyped name is an error, not an empty
  ledger).
- State store: ``redis://host:6379/0`` (``rediss://`` for TLS) or ``memory://``. Default:
  ``$REDIS_URL``, else ``memory://``. Redis is asked for a ping at once, so an unreachable
  server is reported before anything else is opened or created.

In AWS the URLs are assembled from Secrets Manager at start-up; they are never logged whole
(``redact`` hides the password).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from quantterminal.environment import Environment
from quantterminal.errors import redact

if TYPE_CHECKING:  # each adapter is imported when a URL asks for it (psycopg2, redis are not light)
    from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
    from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
    from quantterminal.adapters.state.object_state import SharedObjectStateStore
    from quantterminal.adapters.state.redis_state import RedisStateStore

DEFAULT_DATABASE_URL = "sqlite:///.quantterminal/ledger.sqlite3"
DEFAULT_STATE_URL = "memory://"
DATABASE_SCHEMES = ("postgresql://", "postgres://", "sqlite://")


def is_database_url(text: str) -> bool:
    """True when ``text`` names a ledger rather than a file."""
    return text.startswith(DATABASE_SCHEMES)


def database_url(explicit: str | None = None) -> str:
    """The ledger URL to use: ``explicit``, else ``$DATABASE_URL``, else the embedded default."""
    return explicit or Environment.read().secret("database_url") or DEFAULT_DATABASE_URL


def open_ledger(url: str | None = None, create: bool = True) -> PostgresLedger | SqliteLedger:
    """The ledger at ``url`` (see the module docs for the forms; ``create=False`` for commands
    that only read an existing ledger)."""
    url = database_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", None)
        dsn = urlunsplit(parts._replace(query=urlencode(query)))
        from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger  # noqa: PLC0415 - see the imports

        return PostgresLedger(dsn, schema=schema)
    if url.startswith("sqlite://"):
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ValueError(f"a SQLite URL needs a path: sqlite:///relative/file or sqlite:////abs/file, got {url!r}")
        if path != ":memory:":
            file = Path(path)
            if url == DEFAULT_DATABASE_URL:
                file.parent.mkdir(parents=True, exist_ok=True)
            if not create and not file.is_file():
                raise ValueError(f"no ledger at {path} (check --database; nothing was created)")
            if not file.parent.is_dir():
                raise ValueError(f"the folder {file.parent} does not exist (create it, or check --database)")
        from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger  # noqa: PLC0415

        return SqliteLedger(path)
    raise ValueError(f"unsupported database URL {redact(url)!r}: use postgresql://... or sqlite:///...")


def open_state_store(url: str | None = None, prefix: str = "qt") -> RedisStateStore | SharedObjectStateStore:
    """The state store at ``url``: ``redis://``/``rediss://`` or ``memory://``."""
    url = url or Environment.read().secret("redis_url") or DEFAULT_STATE_URL
    if url.startswith(("redis://", "rediss://")):
        from quantterminal.adapters.state.redis_state import RedisStateStore  # noqa: PLC0415

        store = RedisStateStore(url, prefix=prefix)
        store.ping()
        return store
    if url == "memory://":  # this process alone: records kept as objects, no document round trip
        from quantterminal.adapters.state.object_state import SharedObjectStateStore  # noqa: PLC0415

        return SharedObjectStateStore()
    raise ValueError(f"unsupported state store URL {redact(url)!r}: use redis://... or memory://")
