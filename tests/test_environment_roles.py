"""The user environments' CI roles (bootstrap/environment_images.py), in the bootstrap program under mocks:
the push role trusts only the main branch of this repository and pushes only to dev's repository; the
promotion role trusts only the `prod` environment and copies dev's digests into prod's repository. Rights
are evaluated by the real IAM policy evaluator (tests/iam_eval.py)."""

from __future__ import annotations

import json

import pytest

from offline_plan.mock_engine import ACCOUNT_ID, Inventory
from settings.environments import ENVIRONMENT_CI_ROLE_NAMES
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


def test_the_stack_names_the_roles_the_account_stack_creates(bootstrap: Inventory) -> None:
    created = {r.inputs["name"] for r in bootstrap.of_type("aws:iam/role:Role")}
    assert set(ENVIRONMENT_CI_ROLE_NAMES) <= created


def _repository_policy(plan: Inventory) -> dict[str, object]:
    policy: dict[str, object] = json.loads(plan.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"])
    return policy


def test_the_workflows_pull_calls_pass_each_stack_s_repository_policy(
    bootstrap: Inventory, plans: dict[str, Inventory]
) -> None:
    """The push workflow reads back what it pushed (`aws ecr batch-get-image` to add the pinned- tag, the
    attestations); the promotion copies dev's digest and inspects prod's (`skopeo copy`, `skopeo inspect`). Each
    repository's policy denies pulls to all but its readers, which beats the roles' own Allow: the roles must be
    readers of the repositories their policies name, and an unrelated role must still be refused."""
    push, promote = _policy(bootstrap, "environments-push"), _policy(bootstrap, "environments-promote")
    pusher = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ci-jhub-eks-environments-push/gha"
    promoter = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ci-jhub-eks-environments-promote/gha"
    stranger = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/some-ci-role/gha"
    pull_anything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
    dev, prod = _repository_policy(plans["dev"]), _repository_policy(plans["prod"])
    requests = [
        IamRequest("ecr:BatchGetImage", f"{ECR}/jhub-dev/jupyter-user", [push], pusher, resource_policy=dev),
        IamRequest("ecr:BatchGetImage", f"{ECR}/jhub-dev/jupyter-user", [promote], promoter, resource_policy=dev),
        IamRequest(
            "ecr:GetDownloadUrlForLayer", f"{ECR}/jhub-dev/jupyter-user", [promote], promoter, resource_policy=dev
        ),
        IamRequest("ecr:BatchGetImage", f"{ECR}/jhub-prod/jupyter-user", [promote], promoter, resource_policy=prod),
        # The push role's own policy still keeps it out of prod; anyone else stays denied by the Deny.
        IamRequest("ecr:BatchGetImage", f"{ECR}/jhub-prod/jupyter-user", [push], pusher, resource_policy=prod),
        IamRequest("ecr:BatchGetImage", f"{ECR}/jhub-dev/jupyter-user", [pull_anything], stranger, resource_policy=dev),
    ]
    assert evaluate(requests) == ["Allowed"] * 4 + ["ImplicitlyDenied", "ExplicitlyDenied"]
