"""IAM roles for Kubernetes service accounts (IRSA): one helper, used by every in-cluster component
that calls AWS, so every role is trusted by exactly one service account of this cluster."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str) -> dict[str, Any]:
    """Trust policy: the cluster's OIDC provider, for one namespace/service account, audience STS.

    ``oidc_issuer`` is the issuer without ``https://`` (pulumi-eks ``Cluster.oidc_issuer``).
    ``StringEquals`` on both ``:sub`` and ``:aud``: no wildcard can widen it to other accounts.
    """
    if not namespace or not service_account or "*" in namespace + service_account:
        raise ValueError("IRSA trust needs an exact namespace and service account, never a wildcard")
    issuer = oidc_issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def irsa_role(
    name: str,
    *,
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
    managed_policy_arns: list[str] | None = None,
    inline_policy: pulumi.Input[str] | None = None,
    tags: dict[str, str] | None = None,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """Create an IRSA role with the given AWS managed policies and/or one inline policy."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        name,
        description=f"IRSA: {namespace}/{service_account}",
        assume_role_policy=pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
            lambda v: json.dumps(irsa_trust_policy(v[0], v[1], namespace, service_account))
        ),
        tags={**(tags or {}), "kubernetes-service-account": f"{namespace}/{service_account}"},
        opts=child,
    )
    for index, policy_arn in enumerate(managed_policy_arns or []):
        aws.iam.RolePolicyAttachment(f"{name}-managed-{index}", role=role.name, policy_arn=policy_arn, opts=child)
    if inline_policy is not None:
        aws.iam.RolePolicy(f"{name}-inline", role=role.id, policy=inline_policy, opts=child)
    return role
