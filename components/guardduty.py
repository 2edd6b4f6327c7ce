"""Amazon GuardDuty findings of medium severity and above, sent to the stack's alert topic (the
detector itself is the account's: bootstrap/account_prerequisites.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.network_policies import allow_all_in_namespace, declare

# Where GuardDuty's managed EKS add-on (aws-guardduty-agent) runs its runtime agent.
GUARDDUTY_AGENT_NAMESPACE = "amazon-guardduty"

MEDIUM_SEVERITY = 4  # GuardDuty: low 1-3.9, medium 4-6.9, high 7-8.9, critical 9+


def findings_pattern(min_severity: float = MEDIUM_SEVERITY) -> dict[str, Any]:
    return {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", min_severity]}]},
    }


@dataclass(frozen=True)
class ThreatDetectionArgs:
    detector_id: str
    """The account's detector (preflight.read_detector); bootstrap/ or the organization owns it."""
    alert_topic_arn: pulumi.Input[str]
    provider: k8s.Provider | None = None
    """With it, the namespace of GuardDuty's EKS runtime agent gets the NetworkPolicy strict
    enforcement needs (GuardDuty installs the agent itself, EKS_ADDON_MANAGEMENT)."""
    tags: dict[str, str] | None = None


class ThreatDetection(pulumi.ComponentResource):
    """This stack's view of the account's GuardDuty: its findings of medium severity and above go to
    the stack's alert topic. The detector and its protection features are account-wide singletons
    (bootstrap/account_prerequisites.py): destroying a stack must not switch GuardDuty off."""

    detector_id: pulumi.Output[str]
    findings_rule_name: pulumi.Output[str]
    """The findings rule, whose AWS/Events metrics count the findings (GuardDuty publishes none)."""

    def __init__(self, name: str, args: ThreatDetectionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:ThreatDetection", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.detector_id = pulumi.Output.from_input(args.detector_id)
        rule = aws.cloudwatch.EventRule(
            f"{name}-guardduty-findings",
            description="GuardDuty findings of medium severity and above",
            event_pattern=json.dumps(findings_pattern()),
            tags=args.tags or {},
            opts=child,
        )
        aws.cloudwatch.EventTarget(f"{name}-guardduty-findings", rule=rule.name, arn=args.alert_topic_arn, opts=child)
        if args.provider is not None:
            # The agent's pods are not known to be on the host network; under strict enforcement an
            # unselected pod never gets traffic, and runtime monitoring would go dark. Patch: creates
            # the namespace or adopts GuardDuty's, and never deletes it.
            namespace = k8s.core.v1.NamespacePatch(
                f"{name}-guardduty-ns",
                metadata=k8s.meta.v1.ObjectMetaPatchArgs(name=GUARDDUTY_AGENT_NAMESPACE),
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
            )
            declare(
                f"{name}-guardduty-agent-pods",
                allow_all_in_namespace(GUARDDUTY_AGENT_NAMESPACE),
                pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace]),
            )
        self.findings_rule_name = rule.name
        self.register_outputs({"detector_id": self.detector_id, "findings_rule_name": self.findings_rule_name})
