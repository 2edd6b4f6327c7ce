"""Account-wide prerequisites of the environment stacks: things there is one of per account (and
region), which every environment uses and none may own, since destroying one would break the others:
the Auto Scaling service-linked role, the GuardDuty detector with its protection features, the
registry-wide (enhanced) image scanning configuration, and the activation of the environment stacks'
tags as cost allocation tags."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# EC2 Auto Scaling launches the managed node groups' instances under this role, and the user-data
# key's policy names it (encrypted root volumes). KMS refuses a key policy naming a principal that
# does not exist, so it must exist before an environment's first `pulumi up`.
AUTO_SCALING_SERVICE = "autoscaling.amazonaws.com"
AUTO_SCALING_ROLE = "AWSServiceRoleForAutoScaling"

OWNER_TAG = ("managed-by", "jhub-eks-bootstrap")

# GuardDuty's current feature names (the detector's `datasources` argument is deprecated).
# RUNTIME_MONITORING replaces EKS_RUNTIME_MONITORING; GuardDuty manages its EKS agent add-on
# (EKS_ADDON_MANAGEMENT).
GUARDDUTY_FEATURES: dict[str, list[str]] = {
    "EKS_AUDIT_LOGS": [],
    "RUNTIME_MONITORING": ["EKS_ADDON_MANAGEMENT"],
    "S3_DATA_EVENTS": [],
    "EBS_MALWARE_PROTECTION": [],
}


# The tags every resource of an environment stack carries (components/tagging.py COST_TAG_KEYS; a
# test keeps the two lists equal). Cost Explorer and the stacks' budgets split the bill by them once
# they are active: account-wide, and only the organization's management account (or a standalone
# account) may activate them. AWS accepts a key only after it has seen it on a resource (up to 24 h
# after the first environment deploy); before that the provider fails with "empty result".
COST_ALLOCATION_TAG_KEYS = ("project", "stack", "environment", "component")


def _declared_here(lookup: Callable[[], Any], not_found: tuple[str, ...]) -> bool:
    """Whether this stack declares an account-wide singleton: none exists yet (this stack creates
    it), or the existing one carries this stack's tag (this stack created it). One the account
    already had is left to its owner, so a `destroy` of this stack never deletes it. `not_found` are
    the texts with which the provider's failed lookup reports that there is none."""
    try:
        found = lookup()
    except Exception as error:
        if any(text in str(error) for text in not_found):
            return True
        raise
    key, value = OWNER_TAG
    return (found.tags or {}).get(key) == value


def owns_detector() -> bool:
    """The region's GuardDuty detector (one per account and region). The provider reads "this
    account's single GuardDuty Detector" and reports none as an empty result (AssertSingleValueResult)."""
    return _declared_here(aws.guardduty.get_detector, ("empty result", "couldn't find resource"))


def owns_role(role_name: str) -> bool:
    """A role such as a service-linked one (NoSuchEntity is reported as "couldn't find resource")."""
    return _declared_here(lambda: aws.iam.get_role(name=role_name), ("couldn't find resource", "NoSuchEntity"))


@dataclass(frozen=True)
class AccountPrerequisitesArgs:
    guard_duty: bool = True
    """Run GuardDuty in this region (when the account has no detector of its own)."""
    enhanced_scanning: bool = False
    """Amazon Inspector continuous scanning of every repository of the registry (paid)."""
    cost_allocation_tags: Sequence[str] = ()
    """Tag keys to activate as cost allocation tags (management or standalone account only)."""
    pod_label_tags: Sequence[str] = ()
    """Kubernetes pod label keys split cost allocation data imported, to activate as cost allocation tags."""


class AccountPrerequisites(pulumi.ComponentResource):
    """The Auto Scaling service-linked role, the GuardDuty detector and the registry's scanning, each
    only where the account does not already have it from someone else."""

    auto_scaling_role_created: bool

    def __init__(self, name: str, args: AccountPrerequisitesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:AccountPrerequisites", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.auto_scaling_role_created = owns_role(AUTO_SCALING_ROLE)
        if self.auto_scaling_role_created:
            key, value = OWNER_TAG
            aws.iam.ServiceLinkedRole(
                f"{name}-autoscaling",
                aws_service_name=AUTO_SCALING_SERVICE,
                description="EC2 Auto Scaling (jhub-eks node groups launch encrypted volumes with it)",
                tags={key: value},
                # Not retained: a retained, tagged role would read as this stack's on the next `up`
                # and be created twice. IAM refuses to delete it while any Auto Scaling group uses it.
                opts=pulumi.ResourceOptions(parent=self),
            )
        key, value = OWNER_TAG
        if args.guard_duty and owns_detector():
            detector = aws.guardduty.Detector(
                f"{name}-guardduty",
                enable=True,
                finding_publishing_frequency="FIFTEEN_MINUTES",
                tags={key: value},
                opts=child,
            )
            for feature, additional in GUARDDUTY_FEATURES.items():
                aws.guardduty.DetectorFeature(
                    f"{name}-{feature.lower().replace('_', '-')}",
                    detector_id=detector.id,
                    name=feature,
                    status="ENABLED",
                    additional_configurations=[
                        aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(name=extra, status="ENABLED")
                        for extra in additional
                    ]
                    or None,
                    opts=child,
                )
        if args.enhanced_scanning:
            # Registry-wide: one configuration per registry, continuous Amazon Inspector scanning.
            aws.ecr.RegistryScanningConfiguration(
                f"{name}-registry-scanning",
                scan_type="ENHANCED",
                rules=[
                    aws.ecr.RegistryScanningConfigurationRuleArgs(
                        scan_frequency="CONTINUOUS_SCAN",
                        repository_filters=[
                            aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(
                                filter="*", filter_type="WILDCARD"
                            )
                        ],
                    )
                ],
                opts=child,
            )
        for tag_key in args.cost_allocation_tags:
            aws.costexplorer.CostAllocationTag(
                f"{name}-cost-tag-{tag_key}", tag_key=tag_key, status="Active", opts=child
            )
        for label in args.pod_label_tags:
            # Imported under the label's own key; AWS lists it for activation once a pod carried it.
            aws.costexplorer.CostAllocationTag(
                f"{name}-pod-label-{label.replace('/', '-')}", tag_key=label, status="Active", opts=child
            )
        self.register_outputs({"auto_scaling_role_created": self.auto_scaling_role_created})
