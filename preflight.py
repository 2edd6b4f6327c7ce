"""The pre-flight: every lookup of the account and the cluster, made once, before anything is declared.

`read_facts` asks AWS what the program must know before it can declare resources (who runs it, the
existing cluster and its creator tag, add-on versions, AMI releases, the images pushed to the stack's
repository, log groups AWS re-created after a destroy, the region's GuardDuty detector) and returns
them as one immutable `Facts`. The layers take facts as arguments; no component looks anything up.

Each lookup tells three outcomes apart (the providers report all three as a failed invoke):
- *absent*: the service's own not-found answer, which is a fact (a first deploy has no cluster);
- *denied* and *throttled*: the run stops with the call and the permission it needs. Read as
  absence, a denied ecr:ListImages would silently move every user server to the public sample image,
  and a denied guardduty:ListDetectors would read as "no detector";
- anything else stops the run with the provider's message.

`checks` and `warnings` are pure functions of the settings and the facts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi_aws as aws

from components.cluster import CREATOR_TAG, principal_of, same_principal
from components.node_groups import NVIDIA_AMI, STANDARD_AMI
from policies.checklist import PINNED
from settings import ADDON_VERSIONS, PROJECT, Settings, ami_release_parameter
from settings.dask import WorkerNodesSettings
from settings.nodes import NodeGroupSettings

T = TypeVar("T")

# How the services answer "denied" and "slow down" (botocore's error codes, as the providers quote them).
DENIED = ("AccessDenied", "UnauthorizedOperation", "not authorized to perform", "UnrecognizedClientException")
THROTTLED = ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Rate exceeded")


class PreflightError(Exception):
    """A lookup that failed for another reason than absence: one message, the call and the fix."""


@dataclass(frozen=True)
class Lookup:
    """One read of the account: the API call and permission it needs, and how its absence reads."""

    call: str
    permission: str
    absent: tuple[str, ...] = ()
    """Texts of the service's not-found answer, as the provider reports it (empty: never absent)."""

    def run(self, read: Callable[..., T], **arguments: Any) -> T | None:
        """`read(**arguments)`, or None when the service says it does not exist; any other failure stops
        the run."""
        try:
            return read(**arguments)
        except Exception as error:
            text = str(error)
            if any(marker in text for marker in self.absent):
                return None
            raise PreflightError(self.failure(text)) from None

    def failure(self, text: str) -> str:
        detail = text.strip().splitlines()[-1] if text.strip() else "no message"
        if any(marker in text for marker in DENIED):
            return (
                f"pre-flight: {self.call} was denied: whoever runs `pulumi preview` / `pulumi up` needs "
                f"{self.permission} ({detail})"
            )
        if any(marker in text for marker in THROTTLED):
            return f"pre-flight: {self.call} was throttled by AWS after the provider's retries; run again ({detail})"
        return f"pre-flight: {self.call} failed: {detail}"


CALLER = Lookup("sts:GetCallerIdentity", "valid AWS credentials")
CLUSTER = Lookup(
    "eks:DescribeCluster",
    "eks:DescribeCluster",
    # The provider's finder maps ResourceNotFoundException ("No cluster found for name:") to this.
    absent=("couldn't find resource", "ResourceNotFoundException", "No cluster found for name"),
)
ADDON_VERSION = Lookup("eks:DescribeAddonVersions", "eks:DescribeAddonVersions")
AMI_RELEASE = Lookup("ssm:GetParameter (the EKS AMI's public parameter)", "ssm:GetParameter")
IMAGES = Lookup("ecr:ListImages", "ecr:ListImages", absent=("RepositoryNotFoundException",))
LOG_GROUPS = Lookup("logs:DescribeLogGroups", "logs:DescribeLogGroups")
OFFERINGS = Lookup("ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypeOfferings")
# The data source asks GetAWSDefaultServiceQuota first (a quota the region lacks: NoSuchResourceException, absent),
# then GetServiceQuota for an applied value, keeping the default when there is none (terraform-provider-aws
# internal/service/servicequotas/service_quota_data_source.go): both are needed.
QUOTA = Lookup(
    "servicequotas:GetAWSDefaultServiceQuota/GetServiceQuota",
    "servicequotas:GetAWSDefaultServiceQuota and servicequotas:GetServiceQuota",
    absent=("NoSuchResourceException",),
)
# With no detector id the data source lists detectors and reports none as an empty result.
DETECTOR = Lookup(
    "guardduty:ListDetectors", "guardduty:ListDetectors and guardduty:GetDetector", absent=("empty result",)
)


@dataclass(frozen=True)
class ExistingCluster:
    tags: Mapping[str, str]
    version: str | None
    """The control plane's Kubernetes minor version (e.g. "1.34"), as eks:DescribeCluster reports it."""


# Where a version came from, as the program tags the add-on or node group with it (policies/checklist.py
# VERSION_SOURCE_TAG): the stack file (checklist.PINNED), or a lookup made at this run.
EKS_DEFAULT = "eks-default"
EKS_MOST_RECENT = "eks-most-recent"
SSM_RECOMMENDED = "ssm-recommended"


@dataclass(frozen=True)
class AmiRelease:
    release: str
    source: str
    """Where the release came from: the stack's pin, or the SSM parameter AWS publishes."""
    version_source: str
    """The same as a tag value: checklist.PINNED or SSM_RECOMMENDED."""


@dataclass(frozen=True)
class AddonVersion:
    version: str
    version_source: str
    """checklist.PINNED (cluster.addonVersions), EKS_DEFAULT or EKS_MOST_RECENT."""


@dataclass(frozen=True)
class Facts:
    """What the account and the cluster are now, read once per run (`read_facts`)."""

    account_id: str
    caller: str
    """The IAM principal running this (an assumed role's role ARN, not the session's)."""
    existing_cluster: ExistingCluster | None
    addons: Mapping[str, AddonVersion]
    """Per EKS add-on the program installs."""
    ami_releases: Mapping[str, AmiRelease]
    """Per AMI type the node groups use."""
    pushed_images: Mapping[str, str] | None
    """Tag -> digest of the images in the stack's ECR repository; None while the repository does not exist."""
    existing_log_groups: frozenset[str] = field(default_factory=frozenset)
    """Log groups under the cluster's EKS and Container Insights prefixes, to adopt (components/log_groups.py)."""
    guardduty_detector_id: str | None = None
    instance_type_offerings: frozenset[tuple[str, str]] | None = None
    """(instance type, zone) pairs EC2 offers among the stack's node types and zones; None: not asked."""
    service_quotas: Mapping[str, float] | None = None
    """Quota code -> the account's value in the region, for the quotas the stack's maximums draw on (None: not
    asked; a code missing: the region has no such quota)."""

    @property
    def addon_versions(self) -> dict[str, str]:
        return {addon: found.version for addon, found in self.addons.items()}

    @property
    def version_sources(self) -> dict[str, str]:
        """Add-on name or AMI type -> where its version came from (the tag the program puts on the add-on
        or node group: components/tagging.py version_source_tag)."""
        return {
            **{addon: found.version_source for addon, found in self.addons.items()},
            **{ami_type: found.version_source for ami_type, found in self.ami_releases.items()},
        }

    @property
    def cluster_creator(self) -> str | None:
        """The principal EKS made cluster admin through its own access entry (pulumi-eks creates every
        cluster with bootstrapClusterCreatorAdminPermissions, pulumi-eks#2373): for a cluster that does
        not exist yet, the caller of this run; for an existing one, what its `CREATOR_TAG` recorded when
        it was created (so a later run by another admin keeps the same entries). None when an existing
        cluster has no such tag."""
        if self.existing_cluster is None:
            return self.caller
        return self.existing_cluster.tags.get(CREATOR_TAG)

    def image_pushed(self, tag: str) -> bool:
        return tag in (self.pushed_images or {})


def registry_repository_name(settings: Settings) -> str:
    """Per stack: dev and prod may share an account, and destroying dev must not touch prod's images."""
    return f"{settings.resource_prefix}/{settings.registry.repository_name}"


def own_repository_pins(settings: Settings) -> dict[str, str]:
    """Environment name -> digest, for the pins of images in this stack's own ECR repository."""
    repository = registry_repository_name(settings)
    return {
        name: pin.digest
        for name, pin in settings.environments.items()
        if pin.digest and ".dkr.ecr." in pin.repository and pin.repository.endswith(f"/{repository}")
    }


def log_group_prefixes(cluster_name: str) -> tuple[str, ...]:
    """Where EKS (control plane) and the CloudWatch agents (Container Insights) write."""
    return (f"/aws/eks/{cluster_name}/", f"/aws/containerinsights/{cluster_name}/")


def read_existing_cluster(cluster_name: str) -> ExistingCluster | None:
    found = CLUSTER.run(aws.eks.get_cluster, name=cluster_name)
    if found is None:
        return None
    return ExistingCluster(tags=dict(found.tags or {}), version=getattr(found, "version", None) or None)


def read_addon_versions(settings: Settings) -> dict[str, AddonVersion]:
    """The pinned version, or EKS's default for the cluster's Kubernetes version (kube-proxy: the most
    recent, as pulumi-eks installed it), read at each `up`: add-ons follow the control plane."""
    versions = {}
    for addon in ADDON_VERSIONS["installed"]:
        pinned = settings.cluster.addon_versions.get(addon)
        if pinned:
            versions[addon] = AddonVersion(pinned, PINNED)
            continue
        most_recent = addon == "kube-proxy"
        found = ADDON_VERSION.run(
            aws.eks.get_addon_version,
            addon_name=addon,
            kubernetes_version=settings.cluster.kubernetes_version,
            most_recent=most_recent,
        )
        assert found is not None  # ADDON_VERSION has no absent answer
        versions[addon] = AddonVersion(found.version, EKS_MOST_RECENT if most_recent else EKS_DEFAULT)
    return versions


def read_ami_releases(settings: Settings) -> dict[str, AmiRelease]:
    """The pinned release, or the one AWS recommends now (its public SSM parameter), per AMI type used."""
    releases = {}
    for ami_type in [STANDARD_AMI, *([NVIDIA_AMI] if settings.node_groups.gpu else [])]:
        if settings.node_groups.ami_release != "latest":
            releases[ami_type] = AmiRelease(
                settings.node_groups.ami_release, f"{PROJECT}:nodeGroups.amiRelease (pinned)", PINNED
            )
            continue
        parameter = ami_release_parameter(ami_type, settings.cluster.kubernetes_version)
        found = AMI_RELEASE.run(aws.ssm.get_parameter, name=parameter)
        assert found is not None
        releases[ami_type] = AmiRelease(found.value, f"SSM {parameter}", SSM_RECOMMENDED)
    return releases


def read_pushed_images(repository_name: str) -> dict[str, str] | None:
    found = IMAGES.run(aws.ecr.get_images, repository_name=repository_name)
    if found is None:
        return None
    return {image.image_tag: image.image_digest for image in found.image_ids or [] if image.image_tag}


def read_log_groups(prefixes: tuple[str, ...]) -> frozenset[str]:
    names: set[str] = set()
    for prefix in prefixes:
        found = LOG_GROUPS.run(aws.cloudwatch.get_log_groups, log_group_name_prefix=prefix)
        names.update((found.log_group_names or []) if found else [])
    return frozenset(names)


def read_detector() -> str | None:
    found = DETECTOR.run(aws.guardduty.get_detector)
    return (found.id or None) if found else None


def node_groups_by_pool(settings: Settings) -> dict[str, list[str]]:
    """Each node group's instance types by the settings key that names them (without `.instanceTypes`)."""
    groups = settings.node_groups
    pools = {"nodeGroups.core": groups.core.instance_types, "nodeGroups.user": groups.user.instance_types}
    pools |= {"nodeGroups.gpu": groups.gpu.instance_types} if groups.gpu else {}
    dask = settings.dask_gateway
    return pools | ({"daskGateway.workerNodes": dask.worker_nodes.instance_types} if dask.enabled else {})


def read_instance_type_offerings(instance_types: list[str], zones: list[str]) -> frozenset[tuple[str, str]]:
    """Which of the types EC2 offers in which of the zones (one ec2:DescribeInstanceTypeOfferings)."""
    found = OFFERINGS.run(
        aws.ec2.get_instance_type_offerings,
        location_type="availability-zone",
        filters=[
            {"name": "instance-type", "values": sorted(set(instance_types))},
            {"name": "location", "values": sorted(set(zones))},
        ],
    )
    assert found is not None
    return frozenset(zip(found.instance_types or [], found.locations or [], strict=True))


def read_facts(settings: Settings) -> Facts:
    """Every lookup the program makes, once; raises PreflightError with one message on a failure."""
    identity: Any = CALLER.run(aws.get_caller_identity)
    uses_registry = (
        settings.jupyterhub.user_servers.image.from_registry
        or any(p.image is not None and p.image.from_registry for p in settings.jupyterhub.user_servers.profiles)
        or bool(own_repository_pins(settings))
    )
    return Facts(
        account_id=identity.account_id,
        caller=principal_of(identity.arn),
        existing_cluster=read_existing_cluster(settings.cluster.name),
        addons=read_addon_versions(settings),
        ami_releases=read_ami_releases(settings),
        pushed_images=read_pushed_images(registry_repository_name(settings)) if uses_registry else None,
        existing_log_groups=read_log_groups(log_group_prefixes(settings.cluster.name)),
        guardduty_detector_id=read_detector() if settings.detection.guard_duty.mode == "account" else None,
        instance_type_offerings=read_instance_type_offerings(
            [t for types in node_groups_by_pool(settings).values() for t in types],
            settings.network.availability_zones,
        ),
        service_quotas=read_service_quotas(quota_demand(settings)),
    )


def version_step_problem(existing: ExistingCluster | None, wanted: str) -> str | None:
    """EKS moves a control plane one minor version up per update, never down
    (https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html)."""
    if existing is None or not existing.version:
        return None
    have = tuple(int(p) for p in existing.version.split(".")[:2])
    want = tuple(int(p) for p in wanted.split(".")[:2])
    if want < have:
        return (
            f"the cluster runs Kubernetes {existing.version}, and EKS cannot downgrade; set {existing.version} or later"
        )
    if want[0] == have[0] and want[1] > have[1] + 1:
        step = f"{have[0]}.{have[1] + 1}"
        return (
            f"the cluster runs Kubernetes {existing.version}, and EKS upgrades one minor version per update; "
            f"set {step} (and its autoscaler chart), run `pulumi up`, then {wanted}"
        )
    return None


def checks(settings: Settings, facts: Facts) -> str | None:
    """What in the account stops this run before anything is declared, as one message (or None)."""
    step_problem = version_step_problem(facts.existing_cluster, settings.cluster.kubernetes_version)
    if step_problem:
        return f"{PROJECT}:cluster.kubernetesVersion: {step_problem}"
    creator = facts.cluster_creator
    if creator is not None and not re.fullmatch(r"[\w.:/=+@ -]{1,256}", creator):
        return f"the creating principal {creator} cannot be recorded as an EKS tag value; deploy with a role"
    missing = offering_problems(settings, facts)
    if missing:
        return "\n".join(missing)
    pushed = set((facts.pushed_images or {}).values())
    absent = [(name, digest) for name, digest in own_repository_pins(settings).items() if digest not in pushed]
    if absent:
        # A server of an environment whose digest is not in the repository never starts (ImagePullBackOff).
        return "\n".join(
            f"{PROJECT}:environments.{name}.image: {digest} is not in this stack's ECR repository "
            f"{registry_repository_name(settings)}; pin a digest the environments workflow pushed (its pull request) "
            "or the public image"
            for name, digest in absent
        )
    if settings.detection.guard_duty.mode == "account" and facts.guardduty_detector_id is None:
        return (
            f"{PROJECT}:detection.guardDuty.mode: GuardDuty has no detector in {settings.region}; run the "
            "account-level stack first (bootstrap/, guardDuty: true) or enable GuardDuty for the organization"
        )
    return None


def offering_problems(settings: Settings, facts: Facts) -> list[str]:
    """Each node group is one group per zone: a type EC2 does not offer in a zone cannot launch there."""
    if facts.instance_type_offerings is None:
        return []
    problems = []
    zones = settings.network.availability_zones
    for key, types in node_groups_by_pool(settings).items():
        for instance_type in types:
            absent = [z for z in zones if (instance_type, z) not in facts.instance_type_offerings]
            if absent:
                offered = [z for z in zones if z not in absent]
                problems.append(
                    f"{PROJECT}:{key}.instanceTypes: EC2 does not offer {instance_type} in "
                    f"{', '.join(absent)} (of network.availabilityZones; offered in {', '.join(offered) or 'none'}), "
                    "where the group has a node group per zone; choose a type offered in every zone, or other zones"
                )
    return problems


def warnings(settings: Settings, facts: Facts) -> list[str]:
    """What the caller should know before this run goes on (the run itself may still succeed)."""
    found = []
    cluster_name = settings.cluster.name
    creator = facts.cluster_creator
    if creator is None:
        found.append(
            f"cluster {cluster_name} exists without the {CREATOR_TAG} tag: if one of cluster.adminRoleArns "
            "created it, EKS already has its access entry and `up` fails with ResourceInUseException; tag the "
            f"cluster with that role's ARN (aws eks tag-resource --resource-arn <cluster arn> --tags "
            f"{CREATOR_TAG}=<role arn>)"
        )
    admins = [*settings.cluster.admin_role_arns, *([creator] if creator else [])]
    if not any(same_principal(facts.caller, p) for p in admins):
        found.append(
            f"{facts.caller} (running this) has no access entry on cluster {cluster_name}: it can neither preview "
            "nor update the Kubernetes resources; add it to cluster.adminRoleArns, or run with an admin role"
        )
    found += quota_warnings(quota_demand(settings), facts)
    bucket = settings.data.bucket
    managers = [*settings.cluster.admin_role_arns, *bucket.manager_role_arns, *bucket.break_glass_role_arns]
    if bucket.require_vpc_endpoint and not any(same_principal(facts.caller, r) for r in managers):
        found.append(
            f"{facts.caller} (running this) is not among the user bucket's managers: outside the VPC, S3 refuses "
            "it HeadBucket, so `pulumi refresh` and bucket updates fail with 403; add it to data.bucket.managerRoleArns"
        )
    return found


# ---- Service Quotas: what the stack could use at its maximums ---------------------------------------------------


@dataclass(frozen=True)
class QuotaDemand:
    """What the stack draws from one quota at its maximums, and what that is made of."""

    service: str
    """The Service Quotas service code (ec2, ebs)."""
    code: str
    name: str
    """The quota's name in Service Quotas."""
    need: float
    unit: str
    made_of: str


# EC2's vCPU quotas by instance class and purchase option (Service Quotas, service `ec2`; the EC2 User Guide's
# "On-Demand Instance quotas" and "Spot Instance quotas"): the family's first letters pick the class.
EC2_VCPU_QUOTAS: dict[tuple[str, str], tuple[str, str]] = {
    ("standard", "ON_DEMAND"): ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
    ("standard", "SPOT"): ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
    ("g-vt", "ON_DEMAND"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("g-vt", "SPOT"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("p", "ON_DEMAND"): ("L-417A185B", "Running On-Demand P instances"),
    ("p", "SPOT"): ("L-7212CCBC", "All P Spot Instance Requests"),
}
STANDARD_CLASSES = tuple("acdhimrtz")
# EBS (service `ebs`): gp3 storage in TiB, and snapshots per region (each daily backup of a volume is one).
EBS_GP3_TIB = ("L-7A658B76", "Storage for General Purpose SSD (gp3) volumes, in TiB")
EBS_SNAPSHOTS = ("L-309BACF6", "Snapshots per Region")


def instance_class(instance_type: str) -> str | None:
    """The vCPU quota class of a type: standard, g-vt or p; None for one this check does not cover (F, X, Inf,
    Trn, DL...)."""
    family = instance_type.split(".")[0]
    if family.startswith("hpc"):
        return None  # its own quota (Running On-Demand HPC instances, L-F7808C92), not the standard one
    if family.startswith(("g", "vt")):
        return "g-vt"
    if family.startswith("p"):
        return "p"
    if family.startswith(("inf", "trn", "dl", "f", "x", "u-", "mac")):
        return None
    return "standard" if family[0] in STANDARD_CLASSES else None


def quota_demand(settings: Settings) -> list[QuotaDemand]:
    """The quotas the stack's maximums draw on: node groups at maxSize in every zone (their largest type), every
    registered user's home and its daily backups, the nodes' root volumes."""
    from catalog.instance_types import lookup, quantity

    zones = len(settings.network.availability_zones)
    groups = settings.node_groups
    pools: list[tuple[str, NodeGroupSettings | WorkerNodesSettings]] = [
        ("core", groups.core),
        ("user", groups.user),
        *([("gpu", groups.gpu)] if groups.gpu else []),
        *([("dask-workers", settings.dask_gateway.worker_nodes)] if settings.dask_gateway.enabled else []),
    ]
    vcpus: dict[tuple[str, str], list[tuple[str, int]]] = {}
    root_gib = 0
    for pool, group in pools:
        known = [t for t in group.instance_types if lookup(t) is not None]
        largest = max(known, key=lambda t: lookup(t).vcpu)  # type: ignore[union-attr]
        found = lookup(largest)
        assert found is not None
        quota_class = instance_class(largest)
        nodes = group.max_size * zones
        root_gib += nodes * group.disk_size_gib
        if quota_class is not None:
            vcpus.setdefault((quota_class, group.capacity_type), []).append((pool, nodes * found.vcpu))
    demand = []
    for (quota_class, capacity_type), parts in sorted(vcpus.items()):
        code, name = EC2_VCPU_QUOTAS[(quota_class, capacity_type)]
        made_of = ", ".join(f"{pool} {need}" for pool, need in parts)
        demand.append(QuotaDemand("ec2", code, name, sum(need for _, need in parts), "vCPUs", made_of))
    users = settings.capacity.registered_users
    home_gib = float(quantity(settings.jupyterhub.user_servers.storage_capacity)) / 1024**3
    homes_tib = users * home_gib / 1024
    demand.append(
        QuotaDemand(
            "ebs",
            *EBS_GP3_TIB,
            homes_tib + root_gib / 1024,
            "TiB",
            f"{users} homes of {home_gib:g} GiB (capacity.registeredUsers), node root volumes {root_gib} GiB at "
            "maxSize",
        )
    )
    backup = settings.data.backup
    if backup.enabled:
        demand.append(
            QuotaDemand(
                "ebs",
                *EBS_SNAPSHOTS,
                users * backup.retention_days,
                "snapshots",
                f"{users} homes x {backup.retention_days} daily recovery points kept (data.backup.retentionDays)",
            )
        )
    return demand


def read_service_quotas(demand: list[QuotaDemand]) -> dict[str, float]:
    """The account's value of each quota (applied, else AWS's default: the provider asks GetAWSDefaultServiceQuota
    when none is applied); a code the region lacks is left out."""
    values = {}
    for quota in demand:
        found: Any = QUOTA.run(aws.servicequotas.get_service_quota, service_code=quota.service, quota_code=quota.code)
        if found is not None and found.value is not None:
            values[quota.code] = float(found.value)
    return values


def quota_warnings(demand: list[QuotaDemand], facts: Facts) -> list[str]:
    """A maximum the account's quota cannot reach, with the numbers and the quota code (other workloads in the
    account and region draw on the same quota, so even a quota above the need may be short)."""
    found = []
    for quota in demand:
        value = (facts.service_quotas or {}).get(quota.code)
        if value is None or value >= quota.need:
            continue
        found.append(
            f"Service Quotas {quota.service} {quota.code} ({quota.name}) is {value:g} {quota.unit} in this region, "
            f"but the stack at its maximums needs {quota.need:.4g} ({quota.made_of}); the autoscaler stops short of "
            f"the node groups' maxSize (or volumes and backups fail) beyond it. Request an increase: aws "
            f"service-quotas request-service-quota-increase --service-code {quota.service} --quota-code "
            f"{quota.code} --desired-value {math.ceil(quota.need)}, or lower the maximums"
        )
    return found
