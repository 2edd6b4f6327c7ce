"""The pre-flight's lookups, each alone: present, absent (where the service has a not-found answer) and
denied or throttled, which must stop the run with the call and the permission instead of reading as
absence. The failures are the texts the providers report (terraform-provider-aws through the bridge:
`operation error <Service>: <Call>, https response error StatusCode: …, api error <Code>: <message>`)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest

import preflight
from offline_plan.mock_engine import load_stack_config
from policies.checklist import PINNED
from settings import parse_settings

ACCOUNT = "111122223333"
CALLER_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-jhub-eks-deploy/run-42"


def _api_error(service: str, call: str, code: str, message: str, status: int = 400) -> str:
    return (
        f"operation error {service}: {call}, https response error StatusCode: {status}, "
        f"RequestID: 0f1e2d3c, api error {code}: {message}"
    )


DENIED = {
    "eks:DescribeCluster": _api_error(
        "EKS",
        "DescribeCluster",
        "AccessDeniedException",
        f"User: {CALLER_ARN} is not authorized to perform: eks:DescribeCluster",
        403,
    ),
    "ecr:ListImages": _api_error(
        "ECR",
        "ListImages",
        "AccessDeniedException",
        f"User: {CALLER_ARN} is not authorized to perform: ecr:ListImages",
    ),
    "guardduty:ListDetectors": _api_error(
        "GuardDuty",
        "ListDetectors",
        "AccessDeniedException",
        f"User: {CALLER_ARN} is not authorized to perform: guardduty:ListDetectors",
        403,
    ),
}
THROTTLED = _api_error("ECR", "ListImages", "ThrottlingException", "Rate exceeded")


class AccountMocks(pulumi.runtime.Mocks):
    """An account that answers each invoke token with outputs, or fails it with a provider's message."""

    def __init__(self, answers: dict[str, dict[str, Any] | str]) -> None:
        self.answers = answers

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        raise AssertionError("the pre-flight declares nothing")

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        answer = self.answers.get(args.token)
        if answer is None:
            raise AssertionError(f"unexpected lookup {args.token}")
        if isinstance(answer, str):
            return {}, [("", answer)]
        return answer, []


@pytest.fixture
def account() -> Iterator[Callable[[dict[str, dict[str, Any] | str]], None]]:
    # Tests before this one may have run asyncio.run(), which leaves the thread without an event loop;
    # the SDK's mocks need one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def answer(answers: dict[str, dict[str, Any] | str]) -> None:
        pulumi.runtime.set_mocks(AccountMocks(answers), project="jhub-eks", stack="dev", preview=False)

    yield answer
    asyncio.set_event_loop(None)
    loop.close()


def test_an_existing_cluster_is_read_with_its_creator_tag_and_version(account: Any) -> None:
    account({"aws:eks/getCluster:getCluster": {"name": "jhub-dev", "tags": {"a": "b"}, "version": "1.34"}})
    found = preflight.read_existing_cluster("jhub-dev")
    assert found == preflight.ExistingCluster(tags={"a": "b"}, version="1.34")


def test_a_cluster_eks_does_not_know_is_absent(account: Any) -> None:
    account({"aws:eks/getCluster:getCluster": "reading EKS Cluster (jhub-dev): couldn't find resource"})
    assert preflight.read_existing_cluster("jhub-dev") is None


def test_a_denied_cluster_lookup_stops_the_run_naming_the_permission(account: Any) -> None:
    account({"aws:eks/getCluster:getCluster": f"reading EKS Cluster (jhub-dev): {DENIED['eks:DescribeCluster']}"})
    with pytest.raises(preflight.PreflightError, match=r"eks:DescribeCluster was denied.*needs eks:DescribeCluster"):
        preflight.read_existing_cluster("jhub-dev")


def test_pushed_images_are_read_by_tag_with_their_digests(account: Any) -> None:
    digest = "sha256:" + "ab" * 32
    account(
        {
            "aws:ecr/getImages:getImages": {
                "repositoryName": "jhub-dev/user-image",
                "imageIds": [{"imageTag": "2026-12-01", "imageDigest": digest}, {"imageDigest": "sha256:" + "cd" * 32}],
            }
        }
    )
    assert preflight.read_pushed_images("jhub-dev/user-image") == {"2026-12-01": digest}


def test_a_repository_not_created_yet_has_no_images(account: Any) -> None:
    account(
        {
            "aws:ecr/getImages:getImages": "reading ECR Images: "
            + _api_error(
                "ECR",
                "ListImages",
                "RepositoryNotFoundException",
                f"The repository with name 'jhub-dev/user-image' does not exist in the registry with id '{ACCOUNT}'",
            )
        }
    )
    assert preflight.read_pushed_images("jhub-dev/user-image") is None


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (DENIED["ecr:ListImages"], r"ecr:ListImages was denied.*needs ecr:ListImages"),
        (THROTTLED, r"ecr:ListImages was throttled by AWS.*run again"),
    ],
)
def test_an_image_lookup_that_fails_never_falls_back_to_the_public_image(
    account: Any, failure: str, expected: str
) -> None:
    account({"aws:ecr/getImages:getImages": f"reading ECR Images: {failure}"})
    with pytest.raises(preflight.PreflightError, match=expected):
        preflight.read_pushed_images("jhub-dev/user-image")


def test_the_regions_detector_is_read(account: Any) -> None:
    account({"aws:guardduty/getDetector:getDetector": {"id": "d-1", "status": "ENABLED"}})
    assert preflight.read_detector() == "d-1"


def test_a_region_without_a_detector_is_absent(account: Any) -> None:
    account({"aws:guardduty/getDetector:getDetector": "reading this account's single GuardDuty Detector: empty result"})
    assert preflight.read_detector() is None


def test_a_denied_detector_lookup_is_not_read_as_no_detector(account: Any) -> None:
    account(
        {
            "aws:guardduty/getDetector:getDetector": "reading this account's single GuardDuty Detector: "
            + DENIED["guardduty:ListDetectors"]
        }
    )
    with pytest.raises(preflight.PreflightError, match=r"guardduty:ListDetectors was denied"):
        preflight.read_detector()


def test_log_groups_under_both_prefixes_are_read(account: Any) -> None:
    account(
        {
            "aws:cloudwatch/getLogGroups:getLogGroups": {
                "logGroupNames": ["/aws/eks/jhub-dev/cluster"],
                "arns": [],
                "id": "x",
            }
        }
    )
    found = preflight.read_log_groups(preflight.log_group_prefixes("jhub-dev"))
    assert found == frozenset({"/aws/eks/jhub-dev/cluster"})


def test_a_denied_log_group_lookup_stops_the_run(account: Any) -> None:
    account(
        {
            "aws:cloudwatch/getLogGroups:getLogGroups": _api_error(
                "CloudWatch Logs", "DescribeLogGroups", "AccessDeniedException", "not authorized to perform"
            )
        }
    )
    with pytest.raises(preflight.PreflightError, match=r"logs:DescribeLogGroups was denied"):
        preflight.read_log_groups(("/aws/eks/jhub-dev/",))


def _settings(stack: str = "dev") -> Any:
    config, secrets = load_stack_config(stack)
    return parse_settings(stack, config, frozenset(secrets))


def test_add_on_versions_are_eks_defaults_unless_pinned(account: Any) -> None:
    account(
        {
            "aws:eks/getAddonVersion:getAddonVersion": {
                "addonName": "x",
                "kubernetesVersion": "1.35",
                "version": "v9.9.9-eksbuild.1",
                "id": "x",
            }
        }
    )
    versions = preflight.read_addon_versions(_settings())
    assert {found.version for found in versions.values()} == {"v9.9.9-eksbuild.1"}
    # Recorded as lookups (the tag the policy pack tells a pin from a lookup by).
    assert versions["kube-proxy"].version_source == preflight.EKS_MOST_RECENT
    assert {found.version_source for a, found in versions.items() if a != "kube-proxy"} == {preflight.EKS_DEFAULT}


def test_pinned_add_ons_and_ami_release_are_read_from_the_stack_and_recorded_as_pinned(account: Any) -> None:
    # An account that answers every lookup with other versions: prod's pins are not looked up.
    account(
        {
            "aws:eks/getAddonVersion:getAddonVersion": {"version": "v9.9.9-eksbuild.1"},
            "aws:ssm/getParameter:getParameter": {"value": "1.35.9-20991231"},
        }
    )
    settings = _settings("prod")
    addons = preflight.read_addon_versions(settings)
    assert {a: found.version for a, found in addons.items()} == dict(settings.cluster.addon_versions)
    assert {found.version_source for found in addons.values()} == {PINNED}
    releases = preflight.read_ami_releases(settings)
    assert {(r.release, r.version_source) for r in releases.values()} == {(settings.node_groups.ami_release, PINNED)}


def test_an_add_on_version_eks_does_not_list_stops_the_run(account: Any) -> None:
    """No default version is not "no add-on": the run stops instead of creating an unversioned add-on."""
    failure = "reading EKS Add-On version info (coredns, 1.35): empty result"
    account({"aws:eks/getAddonVersion:getAddonVersion": failure})
    with pytest.raises(preflight.PreflightError, match=r"eks:DescribeAddonVersions failed: .*empty result"):
        preflight.read_addon_versions(_settings())


def test_the_recommended_ami_release_is_read_from_ssm_and_recorded_with_its_source(account: Any) -> None:
    account({"aws:ssm/getParameter:getParameter": {"name": "p", "type": "String", "value": "1.35.5-20261120"}})
    releases = preflight.read_ami_releases(_settings())
    assert {r.release for r in releases.values()} == {"1.35.5-20261120"}
    assert all(r.source.startswith("SSM /aws/service/eks/optimized-ami/") for r in releases.values())
    assert {r.version_source for r in releases.values()} == {preflight.SSM_RECOMMENDED}


def test_a_denied_ami_parameter_stops_the_run(account: Any) -> None:
    account(
        {
            "aws:ssm/getParameter:getParameter": _api_error(
                "SSM", "GetParameter", "AccessDeniedException", "is not authorized to perform: ssm:GetParameter"
            )
        }
    )
    with pytest.raises(preflight.PreflightError, match=r"needs ssm:GetParameter"):
        preflight.read_ami_releases(_settings())


def test_the_caller_is_the_role_behind_the_session(account: Any) -> None:
    settings = _settings()
    account(
        {
            "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": ACCOUNT, "arn": CALLER_ARN, "userId": "x"},
            "aws:eks/getCluster:getCluster": "couldn't find resource",
            "aws:eks/getAddonVersion:getAddonVersion": {"version": "v1.0.0-eksbuild.1"},
            "aws:ssm/getParameter:getParameter": {"value": "1.35.5-20261120"},
            "aws:ecr/getImages:getImages": "RepositoryNotFoundException: none",
            "aws:cloudwatch/getLogGroups:getLogGroups": {"logGroupNames": []},
            "aws:guardduty/getDetector:getDetector": {"id": "d-1"},
            "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {"instanceTypes": [], "locations": []},
            "aws:servicequotas/getServiceQuota:getServiceQuota": {"value": 100000.0},
        }
    )
    facts = preflight.read_facts(settings)
    assert facts.caller == f"arn:aws:iam::{ACCOUNT}:role/ci-jhub-eks-deploy"
    assert facts.cluster_creator == facts.caller  # a first deploy: the caller creates the cluster
    assert facts.account_id == ACCOUNT


def test_warnings_are_computed_from_the_facts() -> None:
    settings = _settings()
    stranger = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
    facts = preflight.Facts(
        account_id=ACCOUNT,
        caller=stranger,
        existing_cluster=preflight.ExistingCluster(tags={}, version="1.35"),
        addons={},
        ami_releases={},
        pushed_images=None,
    )
    found = preflight.warnings(settings, facts)
    assert any("exists without the jhub-eks/cluster-creator tag" in w for w in found)
    assert any("has no access entry" in w for w in found)


def test_offerings_are_read_as_type_and_zone_pairs(account: Any) -> None:
    account(
        {
            "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
                "instanceTypes": ["t3.large", "t3.large", "t3.xlarge"],
                "locations": ["eu-west-1a", "eu-west-1b", "eu-west-1a"],
                "locationTypes": ["availability-zone"] * 3,
            }
        }
    )
    found = preflight.read_instance_type_offerings(["t3.large", "t3.xlarge"], ["eu-west-1a", "eu-west-1b"])
    assert found == {("t3.large", "eu-west-1a"), ("t3.large", "eu-west-1b"), ("t3.xlarge", "eu-west-1a")}


def test_a_type_a_zone_does_not_offer_stops_the_run_naming_the_group_and_zone() -> None:
    settings = _settings()  # dev: core t3.large, user t3.xlarge, zones eu-west-1a and eu-west-1b
    offered = {("t3.large", "eu-west-1a"), ("t3.large", "eu-west-1b"), ("t3.xlarge", "eu-west-1a")}
    facts = preflight.Facts(
        account_id=ACCOUNT,
        caller=f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin",
        existing_cluster=None,
        addons={},
        ami_releases={},
        pushed_images=None,
        guardduty_detector_id="d-1",
        instance_type_offerings=frozenset(offered),
    )
    problem = preflight.checks(settings, facts)
    assert problem == (
        "jhub-eks:nodeGroups.user.instanceTypes: EC2 does not offer t3.xlarge in eu-west-1b (of "
        "network.availabilityZones; offered in eu-west-1a), where the group has a node group per zone; choose a "
        "type offered in every zone, or other zones"
    )
    everywhere = frozenset({*offered, ("t3.xlarge", "eu-west-1b")})
    assert preflight.checks(settings, dataclasses.replace(facts, instance_type_offerings=everywhere)) is None


def test_a_denied_offerings_lookup_stops_the_run(account: Any) -> None:
    account(
        {
            "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": _api_error(
                "EC2", "DescribeInstanceTypeOfferings", "UnauthorizedOperation", "You are not authorized", 403
            )
        }
    )
    with pytest.raises(preflight.PreflightError, match=r"needs ec2:DescribeInstanceTypeOfferings"):
        preflight.read_instance_type_offerings(["t3.large"], ["eu-west-1a"])


def test_a_pin_of_this_stacks_repository_must_name_a_pushed_digest() -> None:
    """An environment pinned to a digest of the stack's own repository that is not there would never start."""
    from tests.test_environment_settings import _settings as stack_settings

    digest = "sha256:" + "ab" * 32
    repository = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/jhub-dev/jupyter-user"

    def own_pin(config: dict[str, Any]) -> None:
        config["jhub-eks:environments"]["datascience"]["image"] = f"{repository}@{digest}"

    settings = stack_settings("dev", own_pin)
    facts = preflight.Facts(
        account_id=ACCOUNT,
        caller=f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin",
        existing_cluster=None,
        addons={},
        ami_releases={},
        pushed_images={"datascience-0123456789ab": "sha256:" + "cd" * 32},
        guardduty_detector_id="d-1",
    )
    assert preflight.checks(settings, facts) == (
        f"jhub-eks:environments.datascience.image: {digest} is not in this stack's ECR repository "
        "jhub-dev/jupyter-user; pin a digest the environments workflow pushed (its pull request) or the public image"
    )
    pushed = dataclasses.replace(facts, pushed_images={"pinned-datascience-abababababab": digest})
    assert preflight.checks(settings, pushed) is None
    assert preflight.checks(stack_settings("dev"), facts) is None  # public pins are not looked up


def test_the_dask_worker_pool_s_types_are_checked_where_its_groups_launch() -> None:
    settings = _settings("prod")
    zones = settings.network.availability_zones
    pools = preflight.node_groups_by_pool(settings)
    assert pools["daskGateway.workerNodes"] == settings.dask_gateway.worker_nodes.instance_types
    everywhere = {(t, z) for types in pools.values() for t in types for z in zones}
    facts = preflight.Facts(
        account_id=ACCOUNT,
        caller=f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin",
        existing_cluster=None,
        addons={},
        ami_releases={},
        pushed_images=None,
        guardduty_detector_id="d-1",
        instance_type_offerings=frozenset(everywhere - {("m6a.2xlarge", zones[2])}),
    )
    assert preflight.offering_problems(settings, facts) == [
        f"jhub-eks:daskGateway.workerNodes.instanceTypes: EC2 does not offer m6a.2xlarge in {zones[2]} (of "
        f"network.availabilityZones; offered in {zones[0]}, {zones[1]}), where the group has a node group per zone; "
        "choose a type offered in every zone, or other zones"
    ]
    assert (
        preflight.offering_problems(settings, dataclasses.replace(facts, instance_type_offerings=frozenset(everywhere)))
        == []
    )
