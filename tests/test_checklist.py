"""The security checklist (policies/checklist.py): every rule passes on every stack and fails on a
stack that breaks it; the policy pack runs the same code; the offline plan prints it and fails."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from offline_plan.mock_engine import Inventory
from offline_plan.plan import checklist_view
from policies import checklist
from policies.checklist import PINNED, RULES, VERSION_SOURCE_TAG, Resource, evaluate
from tests.conftest import ROOT, run_plan

Mutation = Callable[[list[Resource]], None]
EKS = "aws:eks/cluster:Cluster"  # pulumi-eks's child: what a stack policy sees of the cluster
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def _props(resources: list[Resource], type_: str, name_part: str = "") -> list[dict[str, Any]]:
    found = [r.props for r in resources if r.type == type_ and name_part in r.name]
    assert found, (type_, name_part)
    return found  # the dicts are the resources' own (mutable copies, see `view`)


def _hub(resources: list[Resource]) -> dict[str, Any]:
    (props,) = [p for p in _props(resources, "kubernetes:helm.sh/v3:Release") if p["chart"] == "jupyterhub"]
    return props["values"]


def _set_policy(
    resources: list[Resource], type_: str, name_part: str, edit: Callable[[dict[str, Any]], None], key: str = "policy"
) -> None:
    for props in _props(resources, type_, name_part):
        document = json.loads(props[key])
        edit(document)
        props[key] = json.dumps(document)


def _remove_from(resources: list[Resource], predicate: Callable[[Resource], bool]) -> None:
    resources[:] = [r for r in resources if not predicate(r)]


BREAKS: dict[str, Mutation] = {
    # prod logs in through OIDC: no group may log in (an admin user only), or no admin group.
    "oauth-allow-rule": lambda rs: (
        _hub(rs)["hub"]["config"]["GenericOAuthenticator"].update(allowed_groups=[], admin_groups=[]),
        _hub(rs)["hub"]["config"].update(Authenticator={"admin_users": ["break-glass"]}),
    ),
    "admins-defined": lambda rs: _hub(rs)["hub"]["config"]["GenericOAuthenticator"].update(admin_groups=[]),
    "https-enabled": lambda rs: _hub(rs)["proxy"].update(https={"enabled": False}),
    "network-policies-enforced": lambda rs: _hub(rs)["singleuser"]["networkPolicy"].update(enabled=True),
    "s3-encryption-tls-public-block": lambda rs: _set_policy(
        rs, "aws:s3/bucketPolicy:BucketPolicy", "user-data", lambda d: d.update(Statement=d["Statement"][1:])
    ),
    "least-privilege-iam": lambda rs: _set_policy(
        rs,
        "aws:iam/rolePolicy:RolePolicy",
        "user-servers",
        lambda d: d["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
    ),
    "control-plane-audit-logging": lambda rs: _props(rs, EKS)[0].update(enabledClusterLogTypes=["api"]),
    "alarms-present": lambda rs: _remove_from(rs, lambda r: "guardduty-findings" in r.name),
    "image-scanning": lambda rs: _props(rs, "aws:ecr/repository:Repository")[0].update(
        imageScanningConfiguration={"scanOnPush": False}
    ),
    "supported-kubernetes": lambda rs: _props(rs, EKS)[0].update(version="1.27"),
    # On the pinned date (below), 1.34 has days of standard support left.
    "kubernetes-support-ending": lambda rs: _props(rs, EKS)[0].update(version="1.34"),
    "pod-security-restricted": lambda rs: _props(rs, "kubernetes:core/v1:Namespace", "-namespace")[0]["metadata"][
        "labels"
    ].update({"pod-security.kubernetes.io/enforce": "baseline"}),
    "imds-hop-limit-1": lambda rs: _props(rs, "aws:ec2/launchTemplate:LaunchTemplate", "user")[0][
        "metadataOptions"
    ].update(httpPutResponseHopLimit=2),
    "kms-rotation": lambda rs: _props(rs, "aws:kms/key:Key", "logs")[0].update(enableKeyRotation=False),
    "api-not-open-to-world": lambda rs: _props(rs, EKS)[0]["vpcConfig"].update(
        endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"]
    ),
    "database-private-encrypted": lambda rs: _props(rs, "aws:rds/instance:Instance")[0].update(publiclyAccessible=True),
    # prod's user node groups follow `latest`: the program read their release from SSM at this run.
    "versions-pinned": lambda rs: [
        props["tags"].update({VERSION_SOURCE_TAG: "ssm-recommended"}) for props in _props(rs, NODE_GROUP, "user")
    ],
}


def view(plan: Inventory) -> list[Resource]:
    return [
        Resource(r.type, r.name, r.urn, copy.deepcopy(dict(r.props)), r.parent, r.dependencies)
        for r in checklist_view(plan)
    ]


def test_every_rule_has_a_failing_case() -> None:
    assert set(BREAKS) == {rule.id for rule in RULES}


def test_every_stack_passes_every_rule(plan: Inventory) -> None:
    failed = {rule: [v.message for v in found] for rule, found in evaluate(view(plan)).items() if found}
    assert failed == {}


@pytest.mark.parametrize("rule_id", sorted(BREAKS))
def test_each_rule_fails_on_a_stack_that_breaks_it(plans: dict[str, Inventory], rule_id: str) -> None:
    resources = view(plans["prod"])
    BREAKS[rule_id](resources)
    results = evaluate(resources)
    assert results[rule_id], f"{rule_id} did not notice"
    # Each message names what is wrong and where to fix it.
    for violation in results[rule_id]:
        assert len(violation.message) > 20
    others = {rule: found for rule, found in results.items() if found and rule != rule_id}
    assert others == {}, "the mutation should break only its own rule"


LOGGING = "aws:s3/bucketLogging:BucketLogging"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


def test_sse_s3_passes_only_on_a_server_access_log_target(plans: dict[str, Inventory]) -> None:
    """S3 delivers access logs only into SSE-S3 buckets, so the log bucket is exempt from SSE-KMS
    because, and only while, S3 logs into it; any other bucket on SSE-S3 still fails."""

    def messages(resources: list[Resource]) -> list[str]:
        return [v.message.split(" (")[0] for v in evaluate(resources)["s3-encryption-tls-public-block"]]

    assert messages(view(plans["prod"])) == []
    not_a_target = view(plans["prod"])
    _remove_from(not_a_target, lambda r: r.type == LOGGING)
    assert messages(not_a_target) == ["bucket jhub-prod-trail-access-logs has no SSE-KMS default encryption"]
    user_on_sse_s3 = view(plans["prod"])
    (rules,) = [r.props["rules"] for r in user_on_sse_s3 if r.type == SSE and "user-data" in r.name]
    rules[0]["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}
    assert messages(user_on_sse_s3) == ["bucket jhub-prod-user-data has no SSE-KMS default encryption"]


def test_policy_pack_runs_the_same_rules_through_crossguard_types(plans: dict[str, Inventory]) -> None:
    from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs

    from policies.pack import POLICIES

    def policy_resource(resource: Resource) -> PolicyResource:
        options = PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [])
        return PolicyResource(resource.type, resource.props, resource.urn, resource.name, options, None, None, [], {})

    broken = view(plans["prod"])
    BREAKS["kms-rotation"](broken)
    by_urn = {r.urn: policy_resource(r) for r in broken}
    for resource in broken:  # the engine gives dependencies as resources
        by_urn[resource.urn].dependencies = [by_urn[d] for d in resource.dependencies if d in by_urn]
    reported: dict[str, list[str]] = {}
    for policy in POLICIES:
        args = StackValidationArgs(list(by_urn.values()))
        policy.validate(args, lambda message, urn=None, name=policy.name: reported.setdefault(name, []).append(message))
    assert list(reported) == ["kms-rotation"]
    assert {p.name for p in POLICIES} == {r.id for r in RULES}
    advisory = {r.id for r in RULES if r.advisory}
    assert all(p.enforcement_level.value == ("advisory" if p.name in advisory else "mandatory") for p in POLICIES)


def test_plan_prints_the_checklist_and_fails_on_a_broken_stack(tmp_path: Path) -> None:
    result = run_plan(
        "dev", tmp_path / "plan.json", ROOT / "tests" / "fixtures" / "stacks" / "Pulumi.dev-policies-off.yaml"
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "[FAIL] Network policies enabled (network-policies-enforced)" in result.stdout
    assert "singleuser.networkPolicy is on" in result.stdout
    # The run ends with the failing rules, each with what fixes it, not "see above".
    failure = result.stderr[result.stderr.index("error: the security checklist failed:") :]
    assert "  - network-policies-enforced: " in failure and "singleuser.networkPolicy is on" in failure
    assert "see above" not in result.stderr
    summary = result.stdout[result.stdout.index("Summary of 'dev'") :]
    assert "FAIL: network-policies-enforced" in summary


# ---- The rules read what the engine passes to a stack policy --------------------------------------


def _analyze_stack(plan: Inventory) -> Any:
    """Run the pack through pulumi_policy's own analyzer servicer, with the request the engine sends
    after a preview or update: every resource's outputs (unknowns as the engine's sentinels), its
    parent and dependencies as URNs."""
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2
    from pulumi_policy import EnforcementLevel
    from pulumi_policy.policy import _PolicyAnalyzerServicer
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    from policies.checklist import UNKNOWN
    from policies.pack import POLICIES

    def wire(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: wire(v) for k, v in value.items()}
        if isinstance(value, list):
            return [wire(v) for v in value]
        return UNKNOWN_STRING_VALUE if value == UNKNOWN else value

    resources = []
    for r in plan.resources:
        properties = struct_pb2.Struct()
        properties.update(wire(r.outputs))
        resources.append(
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                name=r.name,
                urn=r.urn,
                properties=properties,
                parent=r.parent,
                dependencies=r.dependencies,
            )
        )
    servicer = _PolicyAnalyzerServicer("jhub-eks-security", "0.0.1", POLICIES, EnforcementLevel.MANDATORY)
    return servicer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), None)


def test_the_pack_passes_an_update_through_the_real_analyzer(plan: Inventory) -> None:
    response = _analyze_stack(plan)
    assert [(d.policyName, d.message) for d in response.diagnostics] == []


def test_the_pack_passes_and_runs_in_a_first_preview(tmp_path: Path) -> None:
    # In a preview of a new stack most outputs are unknown. No rule may fail on them, and none may be
    # skipped as "can't run during preview" (the SDK's proxy raises on any unknown it is asked for).
    out = tmp_path / "preview.json"
    result = run_plan("prod", out, None, "--preview")
    assert result.returncode == 0, result.stdout + result.stderr
    response = _analyze_stack(Inventory.from_json(json.loads(out.read_text())))
    assert [(d.policyName, d.message) for d in response.diagnostics] == []


def test_the_engine_shows_pulumi_eks_component_without_cluster_settings(plan: Inventory) -> None:
    # The bug this guards against: the rules read the component's inputs, which no stack policy
    # receives. The component's registered outputs carry none of the settings.
    component = plan.one("eks:index:Cluster")
    assert "enabledClusterLogTypes" not in component.outputs
    assert "endpointPublicAccess" not in component.outputs
    cluster = plan.one("aws:eks/cluster:Cluster")
    assert cluster.parent == component.urn
    assert set(cluster.outputs["enabledClusterLogTypes"]) == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }


def test_audit_rule_on_the_component_alone_finds_no_cluster(plan: Inventory) -> None:
    # Without the child resource there is nothing the engine shows that proves logging is on.
    resources = [r for r in view(plan) if r.type != EKS]
    assert [v.message for v in evaluate(resources)["control-plane-audit-logging"]] == ["no EKS cluster found to check"]


@pytest.mark.parametrize(
    ("stack", "section", "change"),
    [
        ("dev", "GitHubOAuthenticator", {"allowed_organizations": [], "admin_groups": []}),
        ("dev", "GitHubOAuthenticator", {"allow_all": True}),
        ("prod", "GenericOAuthenticator", {"allow_all": True}),
        ("prod", "GenericOAuthenticator", {"allow_existing_users": True}),
        ("prod", "GenericOAuthenticator", {"manage_groups": False}),
    ],
)
def test_login_without_allow_rule_or_open_to_all_fails(
    plans: dict[str, Inventory], stack: str, section: str, change: dict[str, Any]
) -> None:
    resources = view(plans[stack])
    _hub(resources)["hub"]["config"][section].update(change)
    assert evaluate(resources)["oauth-allow-rule"]


@pytest.fixture(autouse=True)
def judged_on_a_known_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """Support windows are judged on the day the plan runs; these tests pin it."""
    monkeypatch.setattr(checklist, "today", lambda: date(2026, 11, 23))


@pytest.mark.parametrize(
    ("version", "day", "fails", "warns"),
    [
        ("1.35", date(2026, 11, 23), False, False),
        ("1.33", date(2026, 11, 23), True, False),  # in extended support since 2026-07-29
        ("1.35", date(2027, 1, 15), False, True),  # 71 days of standard support left
        ("1.35", date(2027, 3, 28), True, False),
        ("1.99", date(2026, 11, 23), True, False),  # not in the calendar the checklist carries
    ],
)
def test_kubernetes_support_window(
    plans: dict[str, Inventory], monkeypatch: pytest.MonkeyPatch, version: str, day: date, fails: bool, warns: bool
) -> None:
    monkeypatch.setattr(checklist, "today", lambda: day)
    resources = view(plans["dev"])
    _props(resources, EKS)[0].update(version=version)
    results = evaluate(resources)
    assert bool(results["supported-kubernetes"]) == fails
    assert bool(results["kubernetes-support-ending"]) == warns


def test_the_upgrade_warning_is_advisory() -> None:
    from pulumi_policy import EnforcementLevel

    from policies.pack import POLICIES

    levels = {p.name: p.enforcement_level for p in POLICIES}
    assert levels["kubernetes-support-ending"] == EnforcementLevel.ADVISORY
    assert levels["supported-kubernetes"] == EnforcementLevel.MANDATORY


def test_a_namespace_below_restricted_is_warned_with_the_setting_that_fixes_it() -> None:
    def namespace(level: str | None) -> checklist.Resource:
        labels = {} if level is None else {"pod-security.kubernetes.io/enforce": level}
        return checklist.Resource(
            "kubernetes:core/v1:Namespace", "ns", "urn:ns", {"metadata": {"name": "jupyterhub", "labels": labels}}
        )

    rule = next(r for r in checklist.RULES if r.id == "pod-security-restricted")
    assert rule.advisory
    assert rule.check([namespace("restricted")]) == []
    for level in ("baseline", None):
        (violation,) = rule.check([namespace(level)])
        assert "jupyterhub.podSecurity: restricted" in violation.message


# ---- Versions: explicit everywhere, pinned in prod ------------------------------------------------


def _sources(resources: list[Resource]) -> dict[str, str]:
    return {r.name: r.props["tags"].get(VERSION_SOURCE_TAG, "") for r in resources if r.type in (ADDON, NODE_GROUP)}


def test_prod_runs_pinned_versions_and_dev_follows_aws(plans: dict[str, Inventory]) -> None:
    prod, dev = view(plans["prod"]), view(plans["dev"])
    assert _sources(prod) and set(_sources(prod).values()) == {PINNED}
    # dev reads them at each `up` (and the rule passes it: see test_every_stack_passes_every_rule) ...
    assert set(_sources(dev).values()) == {"eks-default", "ssm-recommended"}
    assert evaluate(dev)["versions-pinned"] == []
    # ... which the rule refuses for prod: the same resources with the prod environment tag.
    for resource in dev:
        if resource.type in (ADDON, NODE_GROUP):
            resource.props["tags"]["environment"] = "prod"
    messages = [v.message for v in evaluate(dev)["versions-pinned"]]
    addons = {r.props["addonName"] for r in dev if r.type == ADDON}
    assert len(messages) == len(_sources(dev))
    fixes = {m.rsplit("; ", 1)[1] for m in messages}
    assert {f"pin cluster.addonVersions.{a} in the stack file" for a in addons} <= fixes
    assert sum("pin nodeGroups.amiRelease in the stack file" in m for m in messages) == len(_sources(dev)) - len(addons)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_version_left_to_aws_or_helm_fails_in_every_environment(plans: dict[str, Inventory], stack: str) -> None:
    resources = view(plans[stack])
    _props(resources, ADDON, "coredns")[0].pop("addonVersion")
    del _props(resources, NODE_GROUP, "core")[0]["releaseVersion"]
    hub_release = next(p for p in _props(resources, "kubernetes:helm.sh/v3:Release") if p["chart"] == "jupyterhub")
    hub_release["version"] = None
    messages = [v.message for v in evaluate(resources)["versions-pinned"]]
    assert any(m.startswith("coredns has no addonVersion: EKS installs its default") for m in messages)
    assert any("has no releaseVersion: EKS starts it on the newest AMI release" in m for m in messages)
    assert any(m.startswith("jupyterhub has no version: Helm installs the repository's newest chart") for m in messages)


def test_pulumi_eks_kube_proxy_is_left_to_the_settings_check() -> None:
    """pulumi-eks declares kube-proxy's add-on in its own component with the component's tags: the program
    cannot tag where its version came from; prod's pin of it is the settings' check."""
    urn = "urn:pulumi:prod::jhub-eks::jhub:aws:Cluster$eks:index:Cluster::jhub-prod"
    tags = {"environment": "prod"}
    props = {"addonName": "kube-proxy", "addonVersion": "v1.35.3-eksbuild.2", "tags": tags}
    inside = Resource(ADDON, "jhub-prod-kube-proxy", f"{urn}$aws:eks/addon:Addon::jhub-prod-kube-proxy", props, urn)
    assert checklist.versions_pinned([inside]) == []
    ours = Resource(ADDON, "x", "urn:x", props, "urn:pulumi:prod::jhub-eks::jhub:aws:Cluster::jhub-prod")
    (violation,) = checklist.versions_pinned([ours])
    assert "no jhub-eks/version-source tag" in violation.message
