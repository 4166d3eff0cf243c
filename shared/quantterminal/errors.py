"""The failures a user causes or can fix: bad data, a refused record, a missing secret, a database
that cannot be migrated, a download that cannot go on, a study whose storage is unusable, a
redrive pointer that cannot be followed. Each message is one line naming what and why (never a
secret's value): the command line prints it and exits 2, the API answers 4xx.

They are raised by the adapters and caught by the entrypoints, which therefore need not import an
adapter to recognise them (``USER_ERRORS``). A URL goes into a message through ``redact``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class DataError(ValueError):
    """A data file that cannot be loaded as it is; the message names file, line and problem."""


class LedgerError(ValueError):
    """A record refused by the ledger; the message says which and why. Nothing was written."""


class MigrationError(RuntimeError):
    """Migrations cannot be applied as they are (edited after being applied, or out of order)."""


class SecretError(RuntimeError):
    """A secret that is missing or not the JSON object expected. The message never holds its value."""


class DownloadError(RuntimeError):
    """A download that cannot go on: refused keys, bad parameters, a server that stays down."""


class ParquetUnavailableError(RuntimeError):
    """pyarrow is not installed."""


class StudyError(RuntimeError):
    """The study's storage cannot be used (unreachable, refused, not a database)."""


class RedriveError(RuntimeError):
    """A pointer that cannot be followed (malformed, or its records expired from the stream)."""


USER_ERRORS: tuple[type[Exception], ...] = (
    DataError,
    LedgerError,
    MigrationError,
    SecretError,
    DownloadError,
    ParquetUnavailableError,
    StudyError,
    RedriveError,
)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (as it may appear in a message or a log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
