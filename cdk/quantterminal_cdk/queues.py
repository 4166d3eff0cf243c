"""Dead-letter queues: encrypted, TLS only, kept 14 days; each one is where something that failed
waits to be looked at, so it has no dead-letter queue of its own (cdk-nag's SQS3, cfn-lint's
ES6000)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from quantterminal_cdk.lint import lint_ignore


def dead_letter_queue(scope: Construct, construct_id: str, holds: str) -> sqs.Queue:
    """A queue for what failed; ``holds`` says what (for the reviewer of the suppression)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        retention_period=Duration.days(14),
        encryption=sqs.QueueEncryption.KMS_MANAGED,
        enforce_ssl=True,
    )
    NagSuppressions.add_resource_suppressions(
        queue, [{"id": "AwsSolutions-SQS3", "reason": f"This queue is itself the dead-letter queue of {holds}"}]
    )
    lint_ignore(queue, "ES6000")
    return queue
