"""Amazon GuardDuty findings of medium severity and above, sent to the stack's alert topic (the
detector itself is the account's: bootstrap/account_prerequisites.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

MEDIUM_SEVERITY = 4  # GuardDuty: low 1-3.9, medium 4-6.9, high 7-8.9, critical 9+


def findings_pattern(min_severity: float = MEDIUM_SEVERITY) -> dict[str, Any]:
    return {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", min_severity]}]},
    }


def account_detector() -> str | None:
    """The id of this account's GuardDuty detector in this region, or None (the lookup fails when
    there is none)."""
    try:
        found = aws.guardduty.get_detector()
    except Exception:
        return None
    return found.id or None


@dataclass(frozen=True)
class ThreatDetectionArgs:
    detector_id: str
    """The account's detector (account_detector()); bootstrap/ or the organization owns it."""
    alert_topic_arn: pulumi.Input[str]
    tags: dict[str, str] | None = None


class ThreatDetection(pulumi.ComponentResource):
    """This stack's view of the account's GuardDuty: its findings of medium severity and above go to
    the stack's alert topic. The detector and its protection features are account-wide singletons
    (bootstrap/account_prerequisites.py): destroying a stack must not switch GuardDuty off."""

    detector_id: pulumi.Output[str]

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
        self.register_outputs({"detector_id": self.detector_id})
