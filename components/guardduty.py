"""Amazon GuardDuty: the detector (created, or the account's existing one), the EKS, runtime, S3
and malware protection features, and findings of medium severity and above sent to the alert topic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

# Current feature names (the detector's `datasources` argument is deprecated). RUNTIME_MONITORING
# replaces EKS_RUNTIME_MONITORING; GuardDuty manages its EKS agent add-on (EKS_ADDON_MANAGEMENT).
FEATURES: dict[str, list[str]] = {
    "EKS_AUDIT_LOGS": [],
    "RUNTIME_MONITORING": ["EKS_ADDON_MANAGEMENT"],
    "S3_DATA_EVENTS": [],
    "EBS_MALWARE_PROTECTION": [],
}
MEDIUM_SEVERITY = 4  # GuardDuty: low 1-3.9, medium 4-6.9, high 7-8.9, critical 9+
OWNER_TAG = "jhub-eks:stack"


def findings_pattern(min_severity: float = MEDIUM_SEVERITY) -> dict[str, Any]:
    return {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", min_severity]}]},
    }


def resolve_detector(
    mode: Literal["auto", "create", "existing", "off"], detector_id: str | None, stack: str
) -> tuple[bool, str | None]:
    """(create one?, existing id). `auto` adopts the account's detector in this region unless it is
    the one this stack created (tagged), and creates one where none exists: GuardDuty allows only
    one per account and region, so creating a second would fail."""
    if mode == "create":
        return True, None
    if mode == "existing":
        return False, detector_id
    if mode == "off":
        return False, None
    try:
        found = aws.guardduty.get_detector()
    except Exception:  # the lookup fails exactly when the account has no detector
        return True, None
    if not found.id or (found.tags or {}).get(OWNER_TAG) == stack:
        return True, None
    return False, found.id


@dataclass(frozen=True)
class ThreatDetectionArgs:
    stack: str
    mode: Literal["auto", "create", "existing", "off"]
    detector_id: str | None
    alert_topic_arn: pulumi.Input[str]
    tags: dict[str, str] | None = None


class ThreatDetection(pulumi.ComponentResource):
    detector_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: ThreatDetectionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:ThreatDetection", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        create, existing_id = resolve_detector(args.mode, args.detector_id, args.stack)
        detector_id: pulumi.Input[str] | None = existing_id
        if create:
            detector = aws.guardduty.Detector(
                f"{name}-detector",
                enable=True,
                finding_publishing_frequency="FIFTEEN_MINUTES",
                tags={**(args.tags or {}), OWNER_TAG: args.stack},
                opts=child,
            )
            detector_id = detector.id
        self.detector_id = pulumi.Output.from_input(detector_id) if detector_id else None
        if detector_id is None:
            self.register_outputs({})
            return
        for feature, additional in FEATURES.items():
            aws.guardduty.DetectorFeature(
                f"{name}-{feature.lower().replace('_', '-')}",
                detector_id=detector_id,
                name=feature,
                status="ENABLED",
                additional_configurations=[
                    aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(name=extra, status="ENABLED")
                    for extra in additional
                ]
                or None,
                opts=child,
            )
        rule = aws.cloudwatch.EventRule(
            f"{name}-guardduty-findings",
            description="GuardDuty findings of medium severity and above",
            event_pattern=json.dumps(findings_pattern()),
            tags=args.tags or {},
            opts=child,
        )
        aws.cloudwatch.EventTarget(f"{name}-guardduty-findings", rule=rule.name, arn=args.alert_topic_arn, opts=child)
        self.register_outputs({"detector_id": self.detector_id})
