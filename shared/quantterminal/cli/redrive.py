"""``qterm failed-batches``: list, inspect and re-run the Kinesis batches a Lambda gave up on."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Each message in the FailedBatches queue (a stack output) points at a Kinesis batch a "
    "Lambda gave up on. Without --rerun, print each batch's records; with --rerun FUNCTION, feed them "
    "to that function again and delete the pointer once it succeeds. Records can be re-read until the "
    "stream's retention (7 days) ends. AWS credentials and region from the usual environment. "
    "Exit status: 0 all done, 1 some batch failed again or could not be read, 2 error."
)


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm failed-batches``."""
    parser.add_argument("--queue", required=True, metavar="URL", help="the FailedBatches queue URL")
    parser.add_argument("--rerun", metavar="FUNCTION", help="invoke this function with each batch (name or ARN)")
    parser.add_argument("--limit", type=int, default=100, help="at most this many pointers (default 100)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm failed-batches``."""
    # Imported here: boto3 takes longer to import than ``--help`` takes to answer.
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from quantterminal.wiring.redrive import failed_batches  # noqa: PLC0415

    failures = 0
    try:
        for outcome in failed_batches(args.queue, args.rerun, args.limit):
            if outcome.error is not None:
                failures += 1
                print(f"{outcome.head}: {outcome.error}", file=sys.stderr)
            elif args.rerun is None:
                print(f"{outcome.head}: {len(outcome.records)} record(s) ({outcome.reason})")
                for r in outcome.records:
                    print(f"  {r['SequenceNumber']} {r['PartitionKey']} {r['Data'][:200].decode(errors='replace')}")
            elif outcome.failed_again:
                failures += 1
                still = outcome.failed_again
                print(
                    f"{outcome.head}: {len(still)} record(s) failed again, first {still[0]}; pointer kept",
                    file=sys.stderr,
                )
            else:
                print(f"{outcome.head}: re-run by {args.rerun}; pointer deleted")
    except (BotoCoreError, ClientError) as exc:
        print(f"qterm failed-batches: error: {exc}", file=sys.stderr)
        return 2
    return 1 if failures else 0
