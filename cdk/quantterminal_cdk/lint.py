"""cfn-lint rule exceptions, set on the resource they concern (each caller says why)."""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import Construct


def lint_ignore(construct: Construct, *rules: str) -> None:
    """Tell cfn-lint to skip ``rules`` on ``construct``'s resource."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": list(rules)}})
