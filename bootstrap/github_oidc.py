"""Trust and permission policies of the roles GitHub Actions assume (pure functions, tested offline)."""

from __future__ import annotations

from typing import Any

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The CI roles themselves are named outside the program's prefix, so the deploy role cannot edit them.
CI_ROLE_PREFIX = "ci-jhub-eks-"
PROGRAM_MANAGED_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy",
    "service-role/AmazonEBSCSIDriverPolicy",
    "CloudWatchAgentServerPolicy",
)


def github_trust_policy(provider_arn: str, subjects: list[str]) -> dict[str, Any]:
    """Only these workflow subjects of this repository, audience STS; `StringEquals`, never a wildcard."""
    if not subjects or any("*" in s for s in subjects):
        raise ValueError("GitHub OIDC trust needs exact subjects, never a wildcard")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC_HOST}:sub": subjects if len(subjects) > 1 else subjects[0],
                    }
                },
            }
        ],
    }


def preview_subjects(repository: str) -> list[str]:
    # Pull requests' previews, and the weekly version check (.github/workflows/updates.yml, which runs in
    # the `updates` environment: reads EKS add-on versions and the AMI release parameters).
    return [f"repo:{repository}:pull_request", f"repo:{repository}:environment:updates"]


def deploy_subjects(repository: str) -> list[str]:
    return [f"repo:{repository}:ref:refs/heads/main", f"repo:{repository}:environment:prod"]


def deploy_iam_policy(partition: str, account_id: str, prefix: str) -> dict[str, Any]:
    """IAM rights of the deploy role (PowerUserAccess grants everything else but IAM): only roles
    and policies named with the program's prefix, the EKS clusters' OIDC providers, and the
    service-linked roles the program's services create. PassRole only to the program's roles."""
    iam = f"arn:{partition}:iam::{account_id}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ManageTheProgramsRolesAndPolicies",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateRole",
                    "iam:DeleteRole",
                    "iam:GetRole",
                    "iam:UpdateRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:TagRole",
                    "iam:UntagRole",
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListInstanceProfilesForRole",
                    "iam:GetRolePolicy",
                    "iam:PutRolePolicy",
                    "iam:DeleteRolePolicy",
                ],
                "Resource": f"{iam}:role/{prefix}*",
            },
            {
                # Only the AWS managed policies the program attaches (never AdministratorAccess).
                "Sid": "AttachOnlyTheProgramsManagedPolicies",
                "Effect": "Allow",
                "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                "Resource": f"{iam}:role/{prefix}*",
                "Condition": {
                    "ArnEquals": {
                        "iam:PolicyARN": [f"arn:{partition}:iam::aws:policy/{p}" for p in PROGRAM_MANAGED_POLICIES]
                    }
                },
            },
            {
                "Sid": "PassOnlyTheProgramsRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"{iam}:role/{prefix}*",
            },
            {
                "Sid": "EksOidcProviders",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateOpenIDConnectProvider",
                    "iam:DeleteOpenIDConnectProvider",
                    "iam:GetOpenIDConnectProvider",
                    "iam:TagOpenIDConnectProvider",
                    "iam:UpdateOpenIDConnectProviderThumbprint",
                ],
                "Resource": f"{iam}:oidc-provider/oidc.eks.*",
            },
            {
                "Sid": "ServiceLinkedRolesOfTheProgramsServices",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "iam:AWSServiceName": [
                            # Not autoscaling.amazonaws.com: the bootstrap stack owns that one.
                            "eks.amazonaws.com",
                            "eks-nodegroup.amazonaws.com",
                            "guardduty.amazonaws.com",
                            "malware-protection.guardduty.amazonaws.com",
                            "elasticloadbalancing.amazonaws.com",
                        ]
                    }
                },
            },
        ],
    }
