"""A new CRITICAL vulnerability finding on an image this stack runs, sent to the stack's alert topic.

ECR's enhanced scanning (Amazon Inspector, continuous: bootstrap/account_prerequisites.py) rescans pushed
images as new vulnerabilities are published and sends an `Inspector2 Finding` event when a finding is
created, updated or closed (ECR user guide, "Event for an image scan finding update (enhanced scanning)").
The rule matches the ACTIVE CRITICAL ones on this stack's repository, and, once the stack runs images of
its own repository, only on the digests its environments pin (settings/environments.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


def critical_findings_pattern(repository_name: str, pinned_digests: Sequence[str]) -> dict[str, Any]:
    image: dict[str, Any] = {"repositoryName": [repository_name]}
    if pinned_digests:
        image["imageHash"] = sorted(set(pinned_digests))
    return {
        "source": ["aws.inspector2"],
        "detail-type": ["Inspector2 Finding"],
        "detail": {
            "severity": ["CRITICAL"],
            "status": ["ACTIVE"],
            "resources": {"type": ["AWS_ECR_CONTAINER_IMAGE"], "details": {"awsEcrContainerImage": image}},
        },
    }


@dataclass(frozen=True)
class EnvironmentAlertsArgs:
    repository_name: str
    """This stack's ECR repository (preflight.registry_repository_name)."""
    pinned_digests: Sequence[str]
    """The digests of this repository that the stack's environments pin."""
    alert_topic_arn: pulumi.Input[str]
    tags: dict[str, str] | None = None


class EnvironmentAlerts(pulumi.ComponentResource):
    rule_name: pulumi.Output[str]

    def __init__(self, name: str, args: EnvironmentAlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:EnvironmentAlerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-critical-image-findings",
            description=f"New CRITICAL vulnerability findings on the images {args.repository_name} runs",
            event_pattern=json.dumps(critical_findings_pattern(args.repository_name, args.pinned_digests)),
            tags=args.tags or {},
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-critical-image-findings", rule=rule.name, arn=args.alert_topic_arn, opts=child
        )
        self.rule_name = rule.name
        self.register_outputs({"rule_name": self.rule_name})
