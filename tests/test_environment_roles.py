"""The user environments' CI roles (bootstrap/environment_images.py), in the bootstrap program under mocks:
the push role trusts only the main branch of this repository and pushes only to dev's repository; the
promotion role trusts only the `prod` environment and copies dev's digests into prod's repository. Rights
are evaluated by the real IAM policy evaluator (tests/iam_eval.py)."""

from __future__ import annotations

import json

import pytest

from offline_plan.mock_engine import ACCOUNT_ID, Inventory
from tests.iam_eval import IamRequest, evaluate
from tests.test_bootstrap import REPO, run_bootstrap, trust

ECR = f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository"


@pytest.fixture(scope="module")
def bootstrap() -> Inventory:
    return run_bootstrap()


@pytest.mark.parametrize(
    ("role", "subject"),
    [
        ("environments-push", f"repo:{REPO}:ref:refs/heads/main"),
        ("environments-promote", f"repo:{REPO}:environment:prod"),
    ],
)
def test_each_role_trusts_one_subject_of_this_repository(bootstrap: Inventory, role: str, subject: str) -> None:
    statement = trust(bootstrap, role)
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == subject


def _policy(bootstrap: Inventory, name: str) -> dict[str, object]:
    policy: dict[str, object] = json.loads(bootstrap.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"])
    return policy


def test_the_push_role_pushes_to_devs_repository_only(bootstrap: Inventory) -> None:
    policy = _policy(bootstrap, "environments-push")
    pusher = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ci-jhub-eks-environments-push/gha"
    requests = [
        IamRequest("ecr:PutImage", f"{ECR}/jhub-dev/jupyter-user", [policy], pusher),
        IamRequest("ecr:CompleteLayerUpload", f"{ECR}/jhub-dev/jupyter-user", [policy], pusher),
        IamRequest("ecr:GetAuthorizationToken", "*", [policy], pusher),
        # Denied: prod's repository, another repository, deleting, changing the repository's policy.
        IamRequest("ecr:PutImage", f"{ECR}/jhub-prod/jupyter-user", [policy], pusher),
        IamRequest("ecr:PutImage", f"{ECR}/other-team/app", [policy], pusher),
        IamRequest("ecr:BatchDeleteImage", f"{ECR}/jhub-dev/jupyter-user", [policy], pusher),
        IamRequest("ecr:SetRepositoryPolicy", f"{ECR}/jhub-dev/jupyter-user", [policy], pusher),
    ]
    assert evaluate(requests) == ["Allowed"] * 3 + ["ImplicitlyDenied"] * 4


def test_the_promotion_role_copies_from_dev_to_prod_only(bootstrap: Inventory) -> None:
    policy = _policy(bootstrap, "environments-promote")
    promoter = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ci-jhub-eks-environments-promote/gha"
    requests = [
        IamRequest("ecr:BatchGetImage", f"{ECR}/jhub-dev/jupyter-user", [policy], promoter),
        IamRequest("ecr:GetDownloadUrlForLayer", f"{ECR}/jhub-dev/jupyter-user", [policy], promoter),
        IamRequest("ecr:PutImage", f"{ECR}/jhub-prod/jupyter-user", [policy], promoter),
        # Denied: writing dev (a promotion never rebuilds or retags dev), deleting in prod.
        IamRequest("ecr:PutImage", f"{ECR}/jhub-dev/jupyter-user", [policy], promoter),
        IamRequest("ecr:BatchDeleteImage", f"{ECR}/jhub-prod/jupyter-user", [policy], promoter),
    ]
    assert evaluate(requests) == ["Allowed"] * 3 + ["ImplicitlyDenied"] * 2
