"""ECR enhanced scanning reaches the images of each stack's repository: Amazon Inspector pulls what it scans with
its service-linked role, and each repository's policy denies pulls to all but its readers. Evaluated by the
real IAM policy evaluator (tests/iam_eval.py) with the role's own policy statement for ECR scanning, as AWS
publishes it (AWS managed policy AmazonInspector2ServiceRolePolicy v26, statement PackageVulnerabilityScanning,
its ECR actions)."""

from __future__ import annotations

import json

import pytest

from components.registry import inspector_role_arn
from offline_plan.mock_engine import ACCOUNT_ID, Inventory
from tests.iam_eval import IamRequest, evaluate

INSPECTOR_SCANNING = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PackageVulnerabilityScanning",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:BatchGetRepositoryScanningConfiguration",
                "ecr:DescribeImages",
                "ecr:DescribeRegistry",
                "ecr:DescribeRepositories",
                "ecr:GetAuthorizationToken",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetRegistryScanningConfiguration",
                "ecr:ListImages",
                "ecr:PutRegistryScanningConfiguration",
            ],
            "Resource": "*",
        }
    ],
}
# The service-linked role's ARN as IAM names it (its path is aws-service-role/inspector2.amazonaws.com/): the
# value of aws:PrincipalArn in its sessions' requests.
INSPECTOR = inspector_role_arn("aws", ACCOUNT_ID)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_inspector_pulls_the_images_it_scans(plans: dict[str, Inventory], stack: str) -> None:
    repository = plans[stack].one("aws:ecr/repository:Repository").inputs["name"]
    policy = json.loads(plans[stack].one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"])
    arn = f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/{repository}"
    requests = [
        IamRequest(action, arn, [INSPECTOR_SCANNING], INSPECTOR, resource_policy=policy)
        for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    ]
    assert evaluate(requests) == ["Allowed", "Allowed"]
