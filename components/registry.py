"""ECR for the user server image: scan on push, immutable tags (but the attestations' index), KMS, lifecycle, pulls by
the nodes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from settings.image_tags import REFERRERS_TAG_PREFIX

PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


# Amazon Inspector pulls every image it scans (ECR enhanced scanning, bootstrap/account_prerequisites.py) with its
# service-linked role, whose policy AmazonInspector2ServiceRolePolicy grants ecr:BatchGetImage and
# ecr:GetDownloadUrlForLayer ("PackageVulnerabilityScanning"). A resource policy's Deny applies to a service-linked
# role as to any role, so the pull Deny below must name it, or no image of the repository is ever scanned.
INSPECTOR_ROLE = "aws-service-role/inspector2.amazonaws.com/AWSServiceRoleForAmazonInspector2"


def inspector_role_arn(partition: str, account_id: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{INSPECTOR_ROLE}"


def repository_policy(
    node_role_arn: str,
    admin_role_arns: Sequence[str],
    ci_role_arns: Sequence[str] = (),
    scanner_role_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """Nodes pull through their role; nobody else in the account may pull (admins may, to inspect; the
    environments' CI roles may, to read back the digest they pushed and to copy it to prod, each within its own
    IAM policy's repositories; Amazon Inspector's role, to scan).

    In the same account an IAM allow alone would grant pulls, so the restriction is a Deny."""
    readers = [node_role_arn, *admin_role_arns, *ci_role_arns, *scanner_role_arns]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NodesPull",
                "Effect": "Allow",
                "Principal": {"AWS": node_role_arn},
                "Action": [*PULL_ACTIONS, "ecr:BatchCheckLayerAvailability"],
            },
            {
                "Sid": "OnlyNodesAndAdminsPull",
                "Effect": "Deny",
                "Principal": "*",
                "Action": PULL_ACTIONS,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": readers}},
            },
        ],
    }


# The OCI referrers tag schema (distribution-spec, "Referrers Tag Schema"): a client whose registry does not answer
# the referrers API keeps an image's attestations in an index tagged `sha256-<hex of the image's digest>` and
# rewrites that tag for each new attestation. actions/attest (the environments workflow's provenance and SBOM)
# does so on ECR (sigstore-js @sigstore/oci OCIImage.addArtifact: "AWS ECR does NOT support the referrers API but
# still reports a subjectDigest"), so the second attestation of a digest moves the tag: refused by an IMMUTABLE
# repository, allowed by this exclusion. Every other tag, the pinned ones included, stays immutable.
REFERRERS_TAG_FILTER = f"{REFERRERS_TAG_PREFIX}*"  # settings refuse these tags as pins (settings/image_tags.py)


def tag_mutability() -> tuple[str, list[dict[str, str]]]:
    """ECR's imageTagMutability and its exclusion filters (PutImageTagMutability)."""
    return "IMMUTABLE_WITH_EXCLUSION", [{"filter": REFERRERS_TAG_FILTER, "filterType": "WILDCARD"}]


# The tag prefix of a digest a stack's environment pins (the environments workflows add
# `pinned-<environment>-<hex12>` to the digest they propose, maintenance/promote.py).
PINNED_TAG_PREFIX = "pinned-"
# More than any repository holds: the rule that selects pinned images never reaches its count.
NEVER = 9999


def lifecycle_policy(keep_last_images: int, untagged_expire_days: int) -> dict[str, Any]:
    """Pinned digests never expire; untagged images after some days; else the last N images stay.

    ECR's documented evaluation (user guide, "Lifecycle policy evaluation rules"): "An image that matches the
    tagging requirements of a rule cannot be expired by a rule with a lower priority", and a rule with tagStatus
    `any` must have the highest rulePriority. So the first rule selects the pinned tags and expires only beyond
    NEVER of them; the `any` rule below still counts pinned images but cannot expire them."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Never expire a digest an environment pins",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [PINNED_TAG_PREFIX],
                    "countType": "imageCountMoreThan",
                    "countNumber": NEVER,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Expire untagged images after {untagged_expire_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_expire_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 3,
                "description": f"Keep the last {keep_last_images} images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_last_images},
                "action": {"type": "expire"},
            },
        ]
    }


@dataclass(frozen=True)
class RegistryArgs:
    repository_name: str
    key_arn: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    admin_role_arns: Sequence[str]
    keep_last_images: int
    untagged_expire_days: int
    delete_images_on_destroy: bool
    ci_role_arns: Sequence[str] = ()
    """The environments workflows' roles (push, promote), exempt from the pull Deny."""
    scanner_role_arns: Sequence[str] = ()
    """Roles that scan the images (Amazon Inspector's service-linked role), exempt from the pull Deny."""
    tags: dict[str, str] | None = None


class Registry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        mutability, exclusions = tag_mutability()
        repository = aws.ecr.Repository(
            f"{name}-user-image",
            name=args.repository_name,
            image_tag_mutability=mutability,
            image_tag_mutability_exclusion_filters=[
                aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(filter=f["filter"], filter_type=f["filterType"])
                for f in exclusions
            ],
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=args.key_arn)
            ],
            force_delete=args.delete_images_on_destroy,
            tags=args.tags or {},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=not args.delete_images_on_destroy),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-user-image",
            repository=repository.name,
            policy=json.dumps(lifecycle_policy(args.keep_last_images, args.untagged_expire_days)),
            opts=child,
        )
        aws.ecr.RepositoryPolicy(
            f"{name}-user-image",
            repository=repository.name,
            policy=pulumi.Output.from_input(args.node_role_arn).apply(
                lambda arn: json.dumps(
                    repository_policy(arn, args.admin_role_arns, args.ci_role_arns, args.scanner_role_arns)
                )
            ),
            opts=child,
        )
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.register_outputs({"repository_url": self.repository_url, "repository_arn": self.repository_arn})
