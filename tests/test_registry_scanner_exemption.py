"""The pull Deny's exemption for Amazon Inspector is its service-linked role exactly (security review of the
readers added to components/registry.py): IAM reserves the path /aws-service-role/ for service-linked roles, so
no role an account user creates carries that ARN; a role of the same name elsewhere, or any other role allowed to
pull by its own policy, is still refused. Evaluated by the IAM evaluator (tests/iam_eval.py) against each stack's
repository policy."""

from __future__ import annotations

import json

import pytest

from offline_plan.mock_engine import ACCOUNT_ID, Inventory
from tests.iam_eval import IamRequest, evaluate
from tests.test_registry_scanning import INSPECTOR, INSPECTOR_SCANNING

LOOK_ALIKES = [
    f"arn:aws:iam::{ACCOUNT_ID}:role/AWSServiceRoleForAmazonInspector2",
    f"arn:aws:iam::{ACCOUNT_ID}:role/inspector2.amazonaws.com/AWSServiceRoleForAmazonInspector2",
    f"arn:aws:iam::{ACCOUNT_ID}:role/AWSServiceRoleForAmazonInspector2-copy",
    f"arn:aws:iam::{ACCOUNT_ID}:role/data-scientist",
]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_the_service_linked_role_is_exempt(plans: dict[str, Inventory], stack: str) -> None:
    repository = plans[stack].one("aws:ecr/repository:Repository").inputs["name"]
    policy = json.loads(plans[stack].one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"])
    arn = f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/{repository}"
    principals = [INSPECTOR, *LOOK_ALIKES]
    requests = [
        IamRequest("ecr:BatchGetImage", arn, [INSPECTOR_SCANNING], principal, resource_policy=policy)
        for principal in principals
    ]
    assert dict(zip(principals, evaluate(requests), strict=True)) == {
        INSPECTOR: "Allowed",
        **{principal: "ExplicitlyDenied" for principal in LOOK_ALIKES},
    }
