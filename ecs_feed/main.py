"""Entry point of the ECS Fargate feed task (wired in ``quantterminal.wiring.feed_task``): provider
websocket -> minute bars -> Kinesis "bars"; the account's trade updates -> Kinesis "orders". Stops
cleanly on SIGTERM (ECS sends it before a stop or a deployment), flushing what it holds.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from quantterminal import constants as c
from quantterminal.wiring.feed_task import run_feed_task

logger = Logger(service=c.FEED_SERVICE)


def main(environ: Mapping[str, str] = os.environ, stop: threading.Event | None = None) -> int:
    """Run the feed until SIGTERM (or until ``stop`` is set, in tests)."""
    copy_config_to_registered_loggers(source_logger=logger)  # the adapters' logs as JSON too
    return run_feed_task(environ, logger, stop)


if __name__ == "__main__":
    sys.exit(main())
