"""How a command's log records reach the person at the terminal: warnings and errors on stderr,
without the warning each retry of a service call logs (a service that comes back needs no mention;
one that does not ends in the command's own one-line error), or everything with ``--verbose``."""

from __future__ import annotations

import logging

# with_retries' logger, by name: importing the adapter here would load it for `qterm --help` too
RETRY_LOGGER = "quantterminal.adapters.retry"


class _QuietRetries(logging.Filter):
    """Drops the warning each retry logs: a service that comes back needs no mention, and one that
    does not ends in the command's own one-line error (``--verbose`` shows them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == RETRY_LOGGER and record.levelno < logging.ERROR)


def configure_logging(verbose: bool) -> None:
    """Warnings and errors to stderr, as Python's last-resort handler prints them, less the retry
    chatter; ``verbose``: everything from INFO up, with the time and the logger's name."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif logging.lastResort is not None and not any(isinstance(f, _QuietRetries) for f in logging.lastResort.filters):
        logging.lastResort.addFilter(_QuietRetries())
