"""The bootstrap stack (bootstrap/): GitHub's OIDC provider and the CI roles, run under mocks, with
the trust evaluated for the subjects GitHub sends and the deploy role's IAM rights evaluated."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT
from tools.harness import ACCOUNT_ID, Inventory
from tools.iam_eval import IamRequest, evaluate

REPO = "example-org/jhub-eks"
SCRIPT = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from tools import harness
inventory = harness.run("ci", harness.ROOT / "bootstrap" / "Pulumi.ci.yaml",
                        program=harness.ROOT / "bootstrap" / "__main__.py", project="jhub-eks-bootstrap")
print(json.dumps(inventory.to_json()))
"""


@pytest.fixture(scope="module")
def bootstrap() -> Inventory:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return Inventory.from_json(json.loads(result.stdout.splitlines()[-1]))


def trust(bootstrap: Inventory, role: str) -> dict[str, Any]:
    (statement,) = json.loads(bootstrap.one("aws:iam/role:Role", role).inputs["assumeRolePolicy"])["Statement"]
    return statement


def test_github_oidc_provider_for_sts(bootstrap: Inventory) -> None:
    provider = bootstrap.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize(
    ("role", "subjects"),
    [
        ("preview", [f"repo:{REPO}:pull_request"]),
        ("deploy", [f"repo:{REPO}:ref:refs/heads/main", f"repo:{REPO}:environment:prod"]),
    ],
)
def test_roles_trust_only_this_repository_and_its_workflow_subjects(
    bootstrap: Inventory, role: str, subjects: list[str]
) -> None:
    statement = trust(bootstrap, role)
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}, "no StringLike / wildcard subjects"
    equals = statement["Condition"]["StringEquals"]
    assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    got = equals["token.actions.githubusercontent.com:sub"]
    assert sorted(got if isinstance(got, list) else [got]) == sorted(subjects)


def test_deploy_role_session_outlasts_a_cluster_creation(bootstrap: Inventory) -> None:
    assert bootstrap.one("aws:iam/role:Role", "deploy").inputs["maxSessionDuration"] >= 5400


def test_deploy_role_manages_only_the_programs_roles(bootstrap: Inventory) -> None:
    policy = json.loads(bootstrap.one("aws:iam/rolePolicy:RolePolicy", "deploy-iam").inputs["policy"])
    deployer = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ci-jhub-eks-deploy/gha"
    role = f"arn:aws:iam::{ACCOUNT_ID}:role"
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    node_policy = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
    requests = [
        IamRequest("iam:CreateRole", f"{role}/jhub-dev-node-1a2b3c4", [policy], deployer),
        IamRequest("iam:PassRole", f"{role}/jhub-dev-node-1a2b3c4", [policy], deployer),
        IamRequest(
            "iam:AttachRolePolicy",
            f"{role}/jhub-dev-node-1a2b3c4",
            [policy],
            deployer,
            context={"iam:PolicyARN": node_policy},
        ),
        # Denied: attaching AdministratorAccess, editing its own role, other roles, passing other roles.
        IamRequest(
            "iam:AttachRolePolicy",
            f"{role}/jhub-dev-node-1a2b3c4",
            [policy],
            deployer,
            context={"iam:PolicyARN": admin},
        ),
        IamRequest("iam:PutRolePolicy", f"{role}/ci-jhub-eks-deploy-9z8y7x6", [policy], deployer),
        IamRequest("iam:CreateRole", f"{role}/OrganizationAccountAccessRole", [policy], deployer),
        IamRequest("iam:PassRole", f"{role}/some-admin-role", [policy], deployer),
    ]
    assert evaluate(requests) == ["Allowed"] * 3 + ["ImplicitlyDenied"] * 4
