"""The CI roles of the user environments (.github/workflows/environments.yml): one pushes the images the
main branch builds into the dev stack's ECR repository, one copies a promoted digest from dev's repository
into prod's. Each trusts one workflow subject of this repository and reaches one or two repositories."""

from __future__ import annotations

from typing import Any

# Pushing layers and manifests (ECR's push actions, https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push.html),
# and reading back what was pushed (its digest and compressed size: DescribeImages).
PUSH_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
]
PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def push_subjects(repository: str) -> list[str]:
    """Only the main branch builds and pushes (a pull request's build pushes nothing)."""
    return [f"repo:{repository}:ref:refs/heads/main"]


def promote_subjects(repository: str) -> list[str]:
    """The prod promotion runs in the `prod` environment (its required reviewers)."""
    return [f"repo:{repository}:environment:prod"]


def _repository_arn(partition: str, region: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:ecr:{region}:{account_id}:repository/{name}"


def push_policy(partition: str, region: str, account_id: str, dev_repository: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            # GetAuthorizationToken has no resource: the registry login itself.
            {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PushToTheDevRepositoryOnly",
                "Effect": "Allow",
                "Action": PUSH_ACTIONS,
                "Resource": _repository_arn(partition, region, account_id, dev_repository),
            },
        ],
    }


def promote_policy(
    partition: str, region: str, account_id: str, dev_repository: str, prod_repository: str
) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullFromDev",
                "Effect": "Allow",
                "Action": [*PULL_ACTIONS, "ecr:DescribeImages"],
                "Resource": _repository_arn(partition, region, account_id, dev_repository),
            },
            {
                "Sid": "PushToProd",
                "Effect": "Allow",
                "Action": PUSH_ACTIONS,
                "Resource": _repository_arn(partition, region, account_id, prod_repository),
            },
        ],
    }
