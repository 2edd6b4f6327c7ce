"""The AWS identity of user servers: one IAM role for all of them through EKS Pod Identity, whose
policy confines each pod to `home/<its pod name>/` of the user bucket by the session tag EKS adds.

`${aws:username}` (the old guides) exists only for IAM users, never for the role sessions pods get.
EKS Pod Identity tags every session with `kubernetes-pod-name`; the hub names each user's pod
`jupyter-<username>` (users cannot choose it), so one role serves users not known at deploy time,
with O(1) AWS resources and no long-lived keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.storage import SHARED_PREFIX, USER_HOME_PREFIX

POD_NAME = "${aws:PrincipalTag/kubernetes-pod-name}"


def user_home_prefix_pattern() -> str:
    """The S3 key prefix of one user, as a policy variable (also what the pod is told)."""
    return f"{USER_HOME_PREFIX}{POD_NAME}/"


def user_bucket_policy(
    bucket_arn: str, key_arn: str, region: str, namespace: str, *, shared_write: bool = False
) -> dict[str, Any]:
    """Identity policy of a user-server role: own prefix read-write; the shared prefix read-only, or
    read-write for the curators' role (`shared_write`); KMS only through S3 (SSE-KMS)."""
    own_prefix = user_home_prefix_pattern()
    from_hub_namespace = {"aws:PrincipalTag/kubernetes-namespace": namespace}
    shared: list[dict[str, Any]] = [
        {
            "Sid": "ListShared",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {
                "StringLike": {"s3:prefix": [SHARED_PREFIX, f"{SHARED_PREFIX}*"]},
                "StringEquals": from_hub_namespace,
            },
        },
        {
            "Sid": "ReadShared",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{bucket_arn}/{SHARED_PREFIX}*",
            "Condition": {"StringEquals": from_hub_namespace},
        },
    ]
    if shared_write:
        shared.append(
            {
                "Sid": "CuratorsWriteShared",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": f"{bucket_arn}/{SHARED_PREFIX}*",
                "Condition": {"StringEquals": from_hub_namespace},
            }
        )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListOwnHomeOnly",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                # The trailing "/" matters: "home/jupyter-alice" would also match "home/jupyter-alice-evil/".
                "Condition": {
                    "StringLike": {"s3:prefix": [own_prefix, f"{own_prefix}*"]},
                    "StringEquals": from_hub_namespace,
                },
            },
            {
                "Sid": "ReadWriteOwnHomeOnly",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": f"{bucket_arn}/{own_prefix}*",
                "Condition": {"StringEquals": from_hub_namespace},
            },
            *shared,
            {
                "Sid": "UserDataKeyThroughS3Only",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            },
        ],
    }


def pod_identity_trust_policy(account_id: str, cluster_arn: str) -> dict[str, Any]:
    """EKS Pod Identity may assume the role (and tag the session) for this cluster only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": cluster_arn},
                },
            }
        ],
    }


@dataclass(frozen=True)
class UserIdentityArgs:
    cluster_name: str
    """The name (known up front): the role and policy need not wait for the cluster."""
    cluster_ready: pulumi.Input[str]
    """The cluster name as an output of the cluster: the association waits for it."""
    partition: str
    region: str
    account_id: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    namespace: str
    service_account: str
    curator_service_account: str | None = None
    """The service account of the profiles that may write the shared prefix (none: no such profile)."""
    tags: dict[str, str] | None = None


class UserIdentity(pulumi.ComponentResource):
    """The user servers' role, and the curators' (same home rule, plus writing `shared/`) when a
    profile runs as the curators' service account: permissions follow the profile, which follows
    the group (hub_config/profiles_by_group.py)."""

    role_arn: pulumi.Output[str]
    curator_role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: UserIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:UserIdentity", name, None, opts)
        self.role_arn = self._role(name, "user-servers", args, args.service_account, shared_write=False)
        self.curator_role_arn = None
        if args.curator_service_account:
            self.curator_role_arn = self._role(
                name, "curator-servers", args, args.curator_service_account, shared_write=True
            )
        self.register_outputs({"role_arn": self.role_arn, "curator_role_arn": self.curator_role_arn})

    def _role(
        self, name: str, purpose: str, args: UserIdentityArgs, service_account: str, *, shared_write: bool
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        account = pulumi.Output.from_input(args.account_id)
        role = aws.iam.Role(
            f"{name}-{purpose}",
            description="JupyterHub "
            + ("curator" if shared_write else "user")
            + " servers (EKS Pod Identity): own S3 home prefix, shared/ "
            + ("read-write" if shared_write else "read-only"),
            assume_role_policy=account.apply(
                lambda a: json.dumps(
                    pod_identity_trust_policy(
                        a, f"arn:{args.partition}:eks:{args.region}:{a}:cluster/{args.cluster_name}"
                    )
                )
            ),
            max_session_duration=3600,
            tags=args.tags or {},
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-{purpose}",
            role=role.id,
            policy=pulumi.Output.all(args.bucket_arn, args.key_arn).apply(
                lambda v: json.dumps(
                    user_bucket_policy(v[0], v[1], args.region, args.namespace, shared_write=shared_write)
                )
            ),
            opts=child,
        )
        aws.eks.PodIdentityAssociation(
            f"{name}-{purpose}",
            cluster_name=args.cluster_ready,
            namespace=args.namespace,
            service_account=service_account,
            role_arn=role.arn,
            tags=args.tags or {},
            opts=child,
        )
        return role.arn
