"""The bootstrap stack (bootstrap/): GitHub's OIDC provider and the CI roles, run under mocks, with
the trust evaluated for the subjects GitHub sends and the deploy role's IAM rights evaluated."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from bootstrap.account_prerequisites import AUTO_SCALING_ROLE, AUTO_SCALING_SERVICE, OWNER_TAG
from offline_plan.mock_engine import ACCOUNT_ID, Inventory
from tests.conftest import ROOT
from tests.iam_eval import IamRequest, evaluate

REPO = "example-org/jhub-eks"
SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from offline_plan import mock_engine as harness
inventory = harness.run("ci", harness.ROOT / "bootstrap" / "Pulumi.ci.yaml",
                        program=harness.ROOT / "bootstrap" / "__main__.py", project="jhub-eks-bootstrap",
                        iam_roles={iam_roles!r}, detector={detector!r}, config_override={config!r})
print(json.dumps(inventory.to_json()))
"""


def run_bootstrap(
    iam_roles: dict[str, dict[str, str]] | None = None,
    detector: dict[str, Any] | None = None,
    config: dict[str, str] | None = None,
) -> Inventory:
    """The bootstrap program in an account that has `iam_roles` (name -> tags) and GuardDuty
    `detector` (id, tags); by default a fresh account."""
    script = SCRIPT.format(root=str(ROOT), iam_roles=iam_roles or {}, detector=detector, config=config or {})
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return Inventory.from_json(json.loads(result.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def bootstrap() -> Inventory:
    return run_bootstrap()


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
        ("preview", [f"repo:{REPO}:pull_request", f"repo:{REPO}:environment:updates"]),
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


# ---- Account-wide prerequisites ------------------------------------------------------------------

SLR = "aws:iam/serviceLinkedRole:ServiceLinkedRole"


def test_fresh_account_gets_the_auto_scaling_role_from_bootstrap(bootstrap: Inventory) -> None:
    role = bootstrap.one(SLR, "autoscaling")
    assert role.inputs["awsServiceName"] == AUTO_SCALING_SERVICE
    assert role.inputs["tags"] == dict([OWNER_TAG])
    assert not role.retain_on_delete, "a retained, tagged role would be created twice by the next up"


def test_an_auto_scaling_role_the_account_had_is_left_alone() -> None:
    assert not run_bootstrap({AUTO_SCALING_ROLE: {}}).of_type(SLR)
    # The one bootstrap created stays declared (else the next `up` would delete it).
    assert run_bootstrap({AUTO_SCALING_ROLE: dict([OWNER_TAG])}).of_type(SLR)


def _aws_principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    if not isinstance(principal, dict):
        return []
    found = principal.get("AWS", [])
    return [found] if isinstance(found, str) else list(found)


def test_every_principal_a_key_policy_names_exists_before_the_key(plan: Inventory, bootstrap: Inventory) -> None:
    """KMS refuses a key policy that names an IAM principal that does not exist (MalformedPolicyDocument).
    Each principal must be: the account, a role of this stack the key waits for, or an account-wide
    prerequisite the bootstrap stack creates in a fresh account (bootstrap runs first)."""
    stack_roles = {r.outputs.get("arn", r.arn): r.urn for r in plan.of_type("aws:iam/role:Role")}
    bootstrap_roles = {
        f"role/aws-service-role/{r.inputs['awsServiceName']}/{AUTO_SCALING_ROLE}"
        for r in bootstrap.of_type(SLR)
        if r.inputs["awsServiceName"] == AUTO_SCALING_SERVICE
    }
    named = 0
    for key in plan.of_type("aws:kms/key:Key"):
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            for principal in _aws_principals(statement):
                named += 1
                if principal == "*" or principal.endswith(":root"):  # "*" is conditioned, names no one
                    continue
                if principal in stack_roles:
                    assert stack_roles[principal] in key.dependencies, f"{key.name} does not wait for {principal}"
                    continue
                resource = principal.split(":", 5)[5]
                assert resource in bootstrap_roles, f"{key.name} names {principal}, which nothing creates"
    assert named, "no key policy names a principal: the check would be vacuous"


def test_deploy_role_cannot_create_the_auto_scaling_role_it_needs_not(bootstrap: Inventory) -> None:
    policy = json.loads(bootstrap.one("aws:iam/rolePolicy:RolePolicy", "deploy-iam").inputs["policy"])
    deployer = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ci-jhub-eks-deploy/gha"

    def create(service: str) -> IamRequest:
        return IamRequest(
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/{service}/x",
            [policy],
            deployer,
            context={"iam:AWSServiceName": service},
        )

    assert evaluate([create("eks-nodegroup.amazonaws.com"), create(AUTO_SCALING_SERVICE)]) == [
        "Allowed",
        "ImplicitlyDenied",
    ]


DETECTOR = "aws:guardduty/detector:Detector"


def test_fresh_region_gets_guardduty_with_every_protection_from_bootstrap(bootstrap: Inventory) -> None:
    detector = bootstrap.one(DETECTOR)
    assert detector.inputs["enable"] is True and detector.inputs["tags"] == dict([OWNER_TAG])
    assert "datasources" not in detector.inputs, "datasources is deprecated: DetectorFeature instead"
    features = {f.inputs["name"]: f for f in bootstrap.of_type("aws:guardduty/detectorFeature:DetectorFeature")}
    assert set(features) == {"EKS_AUDIT_LOGS", "RUNTIME_MONITORING", "S3_DATA_EVENTS", "EBS_MALWARE_PROTECTION"}
    assert all(f.inputs["status"] == "ENABLED" and f.inputs["detectorId"] == detector.id for f in features.values())
    assert features["RUNTIME_MONITORING"].inputs["additionalConfigurations"] == [
        {"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}
    ]


def test_guardduty_allows_one_detector_so_an_existing_one_is_never_doubled() -> None:
    """CreateDetector fails where the region has one (an organization's, say): that one is left to
    its owner; the one bootstrap created (tagged) stays declared."""
    assert not run_bootstrap(detector={"id": "f" * 32, "tags": {}}).of_type(DETECTOR)
    assert run_bootstrap(detector={"id": "f" * 32, "tags": dict([OWNER_TAG])}).of_type(DETECTOR)
    assert not run_bootstrap(config={"jhub-eks-bootstrap:guardDuty": "false"}).of_type(DETECTOR)


def test_registry_wide_enhanced_scanning_only_when_asked(bootstrap: Inventory) -> None:
    scanning = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
    # Pulumi.ci.yaml asks for it: continuous scanning feeds the stacks' critical-finding alerts.
    (configuration,) = bootstrap.of_type(scanning)
    assert configuration.inputs["scanType"] == "ENHANCED"
    (rule,) = configuration.inputs["rules"]
    assert rule["scanFrequency"] == "CONTINUOUS_SCAN"
    assert not run_bootstrap(config={"jhub-eks-bootstrap:registryEnhancedScanning": "false"}).of_type(scanning)
