"""Stack settings: every Pulumi config key this program reads, as one strict, typed model.

The model is validated before any resource is declared. Anything wrong (an unknown key, a malformed
CIDR, a prod stack without OAuth, a secret set in plain text) stops the run with one message that
names each key, says what is wrong and how to fix it — never a traceback.

Layout of a stack file (``stacks/Pulumi.<stack>.yaml``)::

    config:
      aws:region: eu-west-1
      jhub-eks:environment: prod
      jhub-eks:network: {vpcCidr: ..., availabilityZones: [...], ...}
      jhub-eks:cluster: {...}
      jhub-eks:nodeGroups: {core: {...}, user: {...}}
      jhub-eks:encryption: {...}
      jhub-eks:data: {...}
      jhub-eks:jupyterhub: {...}
      # secrets, set with `pulumi config set --secret <key> <value>`:
      jhub-eks:oauthClientId: {secure: ...}
      jhub-eks:oauthClientSecret: {secure: ...}

The reference in ``docs/settings.md`` is generated from this module (``python -m tools.settings_doc``)
and a test fails when the two differ.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.alias_generators import to_camel

PROJECT = "jhub-eks"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip

# Interface endpoints the cluster cannot run privately without: image pulls (ecr.api, ecr.dkr),
# IRSA / Pod Identity credentials (sts), log shipping (logs) and node bootstrap (ec2).
REQUIRED_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "logs", "ec2")

# The cluster's Service range (fixed, so NetworkPolicies can name the API's ClusterIP); the VPC must
# not overlap it (EKS refuses a service range that overlaps the VPC).
KUBERNETES_SERVICE_CIDR = "172.20.0.0/16"

# Settings keys that are Pulumi secrets, read from `pulumi config set --secret`.
SECRET_KEYS: dict[str, str] = {
    "oauthClientId": "Client ID of the GitHub OAuth app that JupyterHub logs users in with.",
    "oauthClientSecret": "Client secret of the GitHub OAuth app that JupyterHub logs users in with.",
}


class SettingsError(Exception):
    """A stack setting is wrong. The message names the key, the problem and the fix.

    Raised before any resource is declared; ``__main__`` turns it into a ``pulumi.RunError``, which
    the Pulumi engine reports as one message without a traceback.
    """


# --------------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------------


def _ipv4_network(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError) as exc:
        raise ValueError(f"'{value}' is not an IPv4 CIDR block such as 10.40.0.0/16 ({exc})") from None
    except ValueError:
        raise ValueError(
            f"'{value}' has host bits set; use the network address, e.g. {ipaddress.IPv4Network(value, strict=False)}"
        ) from None
    return str(network)


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"{value} is not a CloudWatch Logs retention period; use one of {LOG_RETENTION_DAYS}")
    return value


Cidr = Annotated[str, AfterValidator(_ipv4_network)]
RetentionDays = Annotated[int, AfterValidator(_retention)]
IamRoleArn = Annotated[
    str,
    Field(pattern=r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]+$"),
]


class _Model(BaseModel):
    """Strict base: camelCase keys as in the stack file, unknown keys rejected, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


# --------------------------------------------------------------------------------------------------
# One sub-model per component
# --------------------------------------------------------------------------------------------------


class FlowLogSettings(_Model):
    retention_days: RetentionDays = 90
    """Days VPC flow logs are kept in their KMS-encrypted log group."""
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    """Which traffic the VPC flow logs record."""


class NetworkSettings(_Model):
    vpc_cidr: Cidr = Field(description="IPv4 CIDR of the VPC, a /16 to /20. Immutable after the first deploy.")
    availability_zones: list[str] = Field(
        description="Availability zones the VPC spans (at least 2; 3 in prod), e.g. [eu-west-1a, eu-west-1b]."
    )
    nat_gateways: Literal["single", "perAz"] = "perAz"
    """NAT gateways: `single` (cheaper, one AZ failure cuts egress) or `perAz` (one per AZ)."""
    interface_endpoints: list[str] = Field(
        default_factory=lambda: [
            *REQUIRED_INTERFACE_ENDPOINTS,
            "autoscaling",
            "eks",
            "eks-auth",
            "elasticloadbalancing",
        ],
        description=(
            "AWS services reached through interface VPC endpoints (private DNS on), by short name "
            f"(`com.amazonaws.<region>.<name>`). Must include {', '.join(REQUIRED_INTERFACE_ENDPOINTS)}."
        ),
    )
    flow_logs: FlowLogSettings = FlowLogSettings()
    """VPC flow logs."""

    @model_validator(mode="after")
    def _check(self) -> NetworkSettings:
        prefix = int(self.vpc_cidr.split("/")[1])
        if not 16 <= prefix <= 20:
            raise _field_error("vpcCidr", f"/{prefix} is outside /16../20; the subnets need room, e.g. 10.40.0.0/16")
        if ipaddress.IPv4Network(self.vpc_cidr).overlaps(ipaddress.IPv4Network(KUBERNETES_SERVICE_CIDR)):
            raise _field_error(
                "vpcCidr",
                f"overlaps the cluster's Service range {KUBERNETES_SERVICE_CIDR}; use another, e.g. 10.40.0.0/16",
            )
        if len(self.availability_zones) < 2:
            raise _field_error(
                "availabilityZones",
                "fewer than 2 AZs; EKS needs subnets in at least two, e.g. [eu-west-1a, eu-west-1b]",
            )
        if len(set(self.availability_zones)) != len(self.availability_zones):
            raise _field_error("availabilityZones", "lists an AZ twice; list each zone once")
        if len(self.availability_zones) > 6:
            raise _field_error("availabilityZones", "more than 6 AZs; the subnet plan supports up to 6")
        missing = [name for name in REQUIRED_INTERFACE_ENDPOINTS if name not in self.interface_endpoints]
        if missing:
            raise _field_error(
                "interfaceEndpoints", f"lacks {missing}; nodes in private subnets need them, add them back"
            )
        return self


# The kube-scheduler image tag the hub's user-scheduler runs, per cluster minor version (read here, at the
# bottom layer, so that settings can refuse a Kubernetes version without one and components/user_scheduler.py
# sets the image from the same table).
USER_SCHEDULER_IMAGE_TAGS: dict[str, str] = json.loads(
    (Path(__file__).resolve().parent / "data" / "eks" / "user-scheduler.json").read_text()
)["imageTags"]

# Versions of the cluster-autoscaler chart whose image and ClusterRole were read from the chart's
# source (data/charts/cluster-autoscaler/versions.json): a chart is accepted only when its RBAC is
# known to cover what its autoscaler watches.
AUTOSCALER_CHARTS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "charts" / "cluster-autoscaler" / "versions.json").read_text()
)


def _minor(version: str) -> str:
    return ".".join(version.removeprefix("v").split(".")[:2])


class AutoscalerSettings(_Model):
    chart_version: str = Field("9.59.0", pattern=r"^\d+\.\d+\.\d+$")
    """Version of the kubernetes/autoscaler `cluster-autoscaler` Helm chart (one listed in
    `data/charts/cluster-autoscaler/versions.json`, whose ClusterRole was checked)."""
    image_tag: str | None = Field(None, pattern=r"^v1\.\d{2}\.\d+$")
    """cluster-autoscaler image tag; default: the chart's own `image.tag`. Its minor version must
    match `kubernetesVersion` (cluster-autoscaler supports only its own minor)."""

    @property
    def image(self) -> str:
        """The image tag that runs: the setting, or the chart's default `image.tag`."""
        return self.image_tag or str(AUTOSCALER_CHARTS["charts"][self.chart_version]["imageTag"])

    def problem(self, kubernetes_version: str) -> tuple[str, str] | None:
        """(key, message) when this chart or image cannot scale a `kubernetes_version` cluster."""
        chart = AUTOSCALER_CHARTS["charts"].get(self.chart_version)
        if chart is None:
            known = ", ".join(AUTOSCALER_CHARTS["charts"])
            return (
                "autoscaler.chartVersion",
                f"{self.chart_version} is not a chart whose RBAC was checked ({known}); use one of those, or add "
                "it to data/charts/cluster-autoscaler/versions.json after reading its templates/clusterrole.yaml",
            )
        if _minor(chart["appVersion"]) != kubernetes_version:
            return (
                "autoscaler.chartVersion",
                f"chart {self.chart_version} ships cluster-autoscaler {chart['appVersion']}, not "
                f"{kubernetes_version}; use a chart whose appVersion is {kubernetes_version}.x "
                "(cluster-autoscaler supports only its own Kubernetes minor)",
            )
        watched = set(AUTOSCALER_CHARTS["watchedByAutoscaler"]["storage.k8s.io"])
        if int(kubernetes_version.split(".")[1]) < 32:
            watched.discard("volumeattachments")  # watched from 1.32 (kubernetes/kubernetes#127757)
        missing = sorted(watched - set(chart["storageResources"]))
        if missing:
            return (
                "autoscaler.chartVersion",
                f"chart {self.chart_version}'s ClusterRole cannot list/watch {missing}, which cluster-autoscaler "
                f"{kubernetes_version} waits for at start: it would never scale; use chart 9.46.3 or later",
            )
        if _minor(self.image) != kubernetes_version:
            return (
                "autoscaler.imageTag",
                f"{self.image} does not match kubernetesVersion {kubernetes_version}; use a "
                f"v{kubernetes_version}.x tag (cluster-autoscaler supports only its own minor)",
            )
        return None


SecurityGroupId = Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]


class PrivateEndpointAccessSettings(_Model):
    security_group_ids: list[SecurityGroupId] = Field(default_factory=list)
    """Security groups whose members may reach the private API endpoint on 443: the self-hosted CI
    runner or bastion that runs `pulumi up` / kubectl (in this VPC, or a peered VPC of this region)."""
    cidrs: list[Cidr] = Field(default_factory=list)
    """Networks that may reach the private API endpoint on 443 (VPN, peered or transit-attached VPCs)."""


class ClusterSettings(_Model):
    name: str = Field(
        pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$",
        description="EKS cluster name (letters, digits, hyphens; up to 63). Immutable: a change replaces the cluster.",
    )
    kubernetes_version: str = Field("1.35", pattern=r"^1\.\d{2}$")
    """Kubernetes minor version of the control plane, e.g. "1.35" (one in EKS standard support: the checklist fails
    after data/eks/kubernetes-versions.json's end date and warns 90 days before)."""
    endpoint_public_access: bool = False
    """Expose the API server on a public endpoint (limited to `publicAccessCidrs`).
    The private endpoint is always on."""
    public_access_cidrs: list[Cidr] = Field(default_factory=list)
    """CIDRs allowed to reach the public API endpoint. Required when `endpointPublicAccess` is true;
    never 0.0.0.0/0 in prod."""
    admin_role_arns: list[IamRoleArn] = Field(
        min_length=1,
        description="IAM role ARNs granted cluster-admin through EKS access entries (authentication mode API).",
    )
    private_endpoint_access: PrivateEndpointAccessSettings = PrivateEndpointAccessSettings()
    """Who may reach the private API endpoint. Its network interfaces carry only the security group
    EKS creates, which admits the cluster's own nodes and nothing else; list here whatever runs
    `pulumi up` and kubectl from inside the network. Required when `endpointPublicAccess` is false."""
    log_retention_days: RetentionDays = 90
    """Days the control-plane log group keeps api, audit, authenticator, controllerManager and scheduler logs."""
    deletion_protection: bool = False
    """EKS deletion protection: the cluster cannot be deleted until this is turned off."""
    autoscaler: AutoscalerSettings = AutoscalerSettings()
    """cluster-autoscaler, which scales the node groups (user nodes from zero)."""
    addon_versions: dict[str, Annotated[str, Field(pattern=r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")]] = Field(
        default_factory=dict
    )
    """Pinned EKS add-on versions (`vpc-cni: v1.21.1-eksbuild.7`). Unpinned add-ons take EKS's default version
    for the cluster's Kubernetes version at each `pulumi up` (kube-proxy: the most recent), shown in the preview."""

    @model_validator(mode="after")
    def _check(self) -> ClusterSettings:
        problem = addon_pin_problem(self.addon_versions, self.kubernetes_version)
        if problem:
            raise _field_error(f"addonVersions.{problem[0]}", problem[1])
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise _field_error(
                "publicAccessCidrs",
                "is empty while endpointPublicAccess is true, which would open the API to 0.0.0.0/0; "
                "list your office/VPN CIDRs or set endpointPublicAccess: false",
            )
        private_access = self.private_endpoint_access
        if not self.endpoint_public_access and not (private_access.security_group_ids or private_access.cidrs):
            raise _field_error(
                "privateEndpointAccess",
                "is empty while endpointPublicAccess is false: the API would be reachable only from the cluster's "
                "own nodes, so `pulumi up` (which installs the Helm releases through it) and kubectl could not reach "
                "it; list the deploying runner's security group in securityGroupIds or its network (VPN, peered VPC) "
                "in cidrs",
            )
        if "0.0.0.0/0" in private_access.cidrs:
            raise _field_error(
                "privateEndpointAccess.cidrs",
                "contains 0.0.0.0/0; list the networks that deploy and administer the cluster",
            )
        autoscaler_problem = self.autoscaler.problem(self.kubernetes_version)
        if autoscaler_problem:
            raise _field_error(*autoscaler_problem)
        if not self.endpoint_public_access and self.public_access_cidrs:
            raise _field_error(
                "publicAccessCidrs",
                "is set while endpointPublicAccess is false; remove it or turn the public endpoint on",
            )
        return self


class NodeGroupSettings(_Model):
    instance_types: list[str] = Field(min_length=1, description="EC2 instance types, e.g. [m6i.xlarge].")
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    """Purchase option of the nodes."""
    min_size: int = Field(ge=0, le=100)
    """Fewest nodes the autoscaler keeps, in all zones together (spread over the per-zone groups)."""
    max_size: int = Field(ge=1, le=100)
    """Most nodes the autoscaler may start **per availability zone** (one group per zone: EBS volumes
    are zonal, and all users' volumes may be in one zone)."""
    desired_size: int = Field(ge=0, le=100)
    """Nodes at first deploy, in all zones together; the autoscaler owns the number afterwards."""
    disk_size_gib: int = Field(50, ge=20, le=1000)
    """Size of each node's encrypted gp3 root volume, GiB."""

    @model_validator(mode="after")
    def _check(self) -> NodeGroupSettings:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise _field_error(
                "desiredSize",
                "needs minSize <= desiredSize <= maxSize, "
                f"got {self.min_size} <= {self.desired_size} <= {self.max_size}",
            )
        return self


# GPU instance types and their GPU count as cluster-autoscaler's table has them (it builds a group's
# node from it while the group is at zero): data/gpu/instance-types.json, from tools/gpu_instance_types.py.
GPU_DATA = json.loads((Path(__file__).parent / "data" / "gpu" / "instance-types.json").read_text())
# Families the EKS-optimized AL2023 NVIDIA AMI supports
# (https://docs.aws.amazon.com/eks/latest/userguide/ml-eks-optimized-ami.html).
GPU_FAMILIES = ("g4dn", "g5", "g6", "g6e", "g6f", "p4d", "p5")
DEVICE_PLUGIN_CHART_VERSIONS = ("0.20.0",)


class GpuNodeGroupSettings(NodeGroupSettings):
    """GPU nodes: EKS-optimized AL2023 NVIDIA AMI (driver and container toolkit included), tainted so that
    only GPU profiles land there, scaled from zero."""

    time_slicing_replicas: int = Field(1, ge=1, le=16)
    """Servers sharing one GPU (NVIDIA time-slicing: the device plugin advertises each GPU this many times;
    no memory isolation between them). 1: every server gets whole GPUs."""
    device_plugin_chart_version: str = "0.20.0"
    """NVIDIA k8s-device-plugin Helm chart version (https://nvidia.github.io/k8s-device-plugin)."""

    @property
    def gpus_per_node(self) -> int:
        """Physical GPUs of each node (the same for every listed type, checked below)."""
        return int(GPU_DATA["instanceTypes"][self.instance_types[0]]["gpus"])

    @property
    def advertised_gpus_per_node(self) -> int:
        return self.gpus_per_node * self.time_slicing_replicas

    @property
    def accelerator(self) -> str | None:
        """The `k8s.amazonaws.com/accelerator` label value cluster-autoscaler knows for this family."""
        return GPU_DATA["accelerators"].get(self.instance_types[0].split(".")[0])

    @model_validator(mode="after")
    def _check_gpus(self) -> GpuNodeGroupSettings:
        known = GPU_DATA["instanceTypes"]
        bad = [t for t in self.instance_types if t not in known or t.split(".")[0] not in GPU_FAMILIES]
        if bad:
            raise _field_error(
                "instanceTypes",
                f"{bad} are not NVIDIA GPU types the EKS AL2023 NVIDIA AMI supports ({', '.join(GPU_FAMILIES)})",
            )
        counts = {known[t]["gpus"] for t in self.instance_types}
        if len(counts) > 1:
            raise _field_error(
                "instanceTypes",
                f"mix GPU counts {sorted(counts)}; the autoscaler plans a zero-size group from one type, "
                "so list types with the same number of GPUs",
            )
        if self.device_plugin_chart_version not in DEVICE_PLUGIN_CHART_VERSIONS:
            raise _field_error(
                "devicePluginChartVersion",
                f"{self.device_plugin_chart_version} is not a version this program was checked with "
                f"({', '.join(DEVICE_PLUGIN_CHART_VERSIONS)})",
            )
        return self


class NodeGroupsSettings(_Model):
    core: NodeGroupSettings
    """Nodes for the hub, proxy and system pods (always at least one)."""
    user: NodeGroupSettings
    """Nodes for user servers, labelled hub.jupyter.org/node-purpose=user and tainted for them only."""
    gpu: GpuNodeGroupSettings | None = None
    """Optional GPU nodes (EKS-optimized NVIDIA AMI) for the profiles with `nodePool: gpu` only; scale from zero."""
    ami_release: str = Field("latest", pattern=r"^(latest|\d+\.\d+\.\d+-\d{8})$")
    """EKS-optimized AMI release of every node group: `latest` (the release AWS recommends for the cluster's
    Kubernetes version, read from its public SSM parameter at each `pulumi up`: nodes roll to it, one at a time
    per group) or a pinned release such as `1.35.5-20251115`."""

    @model_validator(mode="after")
    def _check(self) -> NodeGroupsSettings:
        # (the pinned release's Kubernetes version is checked against the cluster's in Settings)
        if self.core.min_size < 1:
            raise _field_error(
                "core.minSize", "is 0; the hub, proxy and CoreDNS need at least one core node, set 1 or more"
            )
        return self


class EncryptionSettings(_Model):
    key_deletion_window_days: int = Field(30, ge=7, le=30)
    """Waiting period before a deleted KMS key is gone for good (7-30 days)."""


class BucketSettings(_Model):
    noncurrent_version_days: int = Field(30, ge=1, le=3650)
    """Days an overwritten or deleted object version is kept (recovery window) before it expires."""
    abort_multipart_days: int = Field(7, ge=1, le=365)
    """Days after which incomplete multipart uploads are removed."""
    require_vpc_endpoint: bool = False
    """Deny object reads, writes and listings that do not come through this VPC's S3 endpoint."""
    break_glass_role_arns: list[IamRoleArn] = Field(default_factory=list)
    """Roles exempt from `requireVpcEndpoint` (incident response from outside the VPC)."""
    manager_role_arns: list[IamRoleArn] = Field(default_factory=list)
    """Roles that deploy and refresh the stack from outside the VPC (the CI deploy role of bootstrap/),
    besides `cluster.adminRoleArns`: with `requireVpcEndpoint` they keep s3:ListBucket (HeadBucket) on
    the bucket, and nothing of its data. Exact ARNs, path included (compared to aws:PrincipalArn)."""


class BackupSettings(_Model):
    enabled: bool = True
    """Back up every user home volume and the hub's database volume with AWS Backup (selected by the tag the
    storage class puts on each volume it creates)."""
    schedule: str = Field("cron(0 3 * * ? *)", pattern=r"^cron\([^)]+\)$")
    """When, as an AWS Backup cron expression in UTC."""
    retention_days: int = Field(35, ge=1, le=36500)
    """Days each recovery point is kept."""
    vault_lock: Literal["compliance", "governance", "off"] = "off"
    """`compliance`: after `lockChangeableForDays` nobody, root included, can delete a recovery point before
    `retentionDays` or remove the lock (and the vault outlives `pulumi destroy`); `governance`: the same, but
    removable with special IAM rights; `off`. prod needs a lock."""
    lock_changeable_for_days: int = Field(7, ge=3, le=365)
    """Compliance mode: days during which the lock can still be changed or removed (AWS minimum: 3)."""


class DataSettings(_Model):
    retain_on_destroy: bool = True
    """Keep data-holding resources (KMS keys, the user bucket, user volumes) when the stack is destroyed."""
    bucket: BucketSettings = BucketSettings()
    """The S3 bucket of user data (each user reads and writes only `home/<pod name>/`)."""
    backup: BackupSettings = BackupSettings()
    """AWS Backup of the EBS volumes (user homes, hub database)."""


class GuardDutySettings(_Model):
    mode: Literal["account", "off"] = "account"
    """`account`: send this region's GuardDuty findings (medium and above) to the alert topic. The
    detector is account-wide (one per account and region): bootstrap/ creates it, or the organization
    runs it; never this stack. `off` (never in prod): no GuardDuty rule."""


class AlarmSettings(_Model):
    threshold: int = Field(ge=1)
    """Count in one period that raises the alarm."""
    period_seconds: int = Field(300, ge=60, le=86400)
    """Length of one evaluation period."""
    evaluation_periods: int = Field(1, ge=1, le=100)
    """Periods in a row over the threshold before the alarm fires."""


def _alarm(threshold: int) -> Any:
    return Field(default_factory=lambda: AlarmSettings(threshold=threshold))


class DetectionSettings(_Model):
    alert_emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]] = Field(default_factory=list)
    """E-mail addresses subscribed to the alert topic (each must confirm the subscription)."""
    alert_https_endpoints: list[Annotated[str, Field(pattern=r"^https://")]] = Field(default_factory=list)
    """HTTPS endpoints (chat webhooks, paging) subscribed to the alert topic."""
    guard_duty: GuardDutySettings = GuardDutySettings()
    """Amazon GuardDuty."""
    organization_trail_name: str | None = None
    """Use this existing organization CloudTrail trail instead of creating one for the stack."""
    trail_retention_days: RetentionDays = 365
    """Days the CloudTrail log group keeps events (the trail bucket keeps them per `data` settings)."""
    container_log_retention_days: RetentionDays = 90
    """Days container logs (hub, proxy, user servers) are kept in CloudWatch Logs."""
    kubernetes_auth_failures: AlarmSettings = _alarm(5)
    """Alarm on denied/failed Kubernetes API authentications (EKS authenticator log)."""
    hub_login_failures: AlarmSettings = _alarm(10)
    """Alarm on failed JupyterHub logins and 403 responses (hub container log)."""
    s3_access_denied: AlarmSettings = _alarm(20)
    """Alarm on 4xx responses of the user bucket."""
    s3_anomaly_band: float = Field(3.0, ge=1, le=10)
    """Width (standard deviations) of the anomaly band on the user bucket's request metrics."""


class BudgetSettings(_Model):
    enabled: bool = True
    """An AWS Budget of the stack's monthly cost (every resource tagged `stack: jhub-<stack>`), alerting the
    alert topic. Counts only once the cost allocation tags are active (bootstrap/, README "Cost")."""
    monthly_limit_usd: float | None = Field(None, gt=0)
    """The budget, in USD per month. Required while the budget is on: `./plan` prints the stack's fixed
    monthly cost to start from."""
    alert_percentages: list[Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=lambda: [80, 100])
    """Alert when the month's actual cost passes each of these percentages of the limit."""
    forecast_percentage: int | None = Field(100, ge=1, le=1000)
    """Alert when the month's forecast cost passes this percentage of the limit (null: no forecast alert)."""

    @model_validator(mode="after")
    def _at_most_five_alerts(self) -> BudgetSettings:
        # AWS Budgets: up to five notifications per budget.
        if len(set(self.alert_percentages)) + (1 if self.forecast_percentage else 0) > 5:
            raise _field_error(
                "alertPercentages",
                "AWS Budgets sends at most 5 alerts per budget (these and forecastPercentage together); list fewer",
            )
        return self


class CostSettings(_Model):
    budget: BudgetSettings = BudgetSettings()
    """The stack's AWS Budget."""
    active_hours_per_month: int = Field(160, ge=1, le=744)
    """Hours an active user's server runs in a month: the plan's cost of one more active user per profile."""


class IncidentSettings(_Model):
    lockdown: bool = False
    """Emergency switch: deny all traffic in the JupyterHub namespace and scale the hub and proxy to zero."""


class RegistrySettings(_Model):
    repository_name: str = Field("jupyter-user", pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$")
    """ECR repository of the user server image(s), under the stack's prefix: `jhub-<stack>/<name>`
    (dev and prod may share an account; each stack owns its own repository)."""
    keep_last_images: int = Field(20, ge=1, le=1000)
    """Tagged images kept; older ones expire."""
    untagged_expire_days: int = Field(7, ge=1, le=365)
    """Days after which untagged images expire."""


class GitHubAuthSettings(_Model):
    allowed_organizations: list[str] = Field(default_factory=list)
    """GitHub organizations (`my-org`) or teams (`my-org:team-slug`) whose members may log in."""
    admin_users: list[str] = Field(default_factory=list)
    """GitHub user names that are JupyterHub admins."""
    admin_teams: list[str] = Field(default_factory=list)
    """GitHub teams (`my-org:team-slug`) whose members are JupyterHub admins (and may log in)."""

    @model_validator(mode="after")
    def _check(self) -> GitHubAuthSettings:
        pattern = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?::[A-Za-z0-9_.-]+)?$")
        bad = [entry for entry in self.allowed_organizations if not pattern.match(entry)]
        if bad:
            raise _field_error("allowedOrganizations", f"{bad} are not `org` or `org:team-slug` entries")
        bad = [entry for entry in self.admin_teams if not pattern.match(entry) or ":" not in entry]
        if bad:
            raise _field_error("adminTeams", f"{bad} are not `org:team-slug` entries")
        return self


def _https_url(value: str) -> str:
    if not re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?(/\S*)?$", value):
        raise ValueError(f"{value!r} is not an https:// URL (the login's tokens must travel over TLS)")
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]
# Claims a user can set for themselves at most identity providers: two people could end up with one
# JupyterHub account (and its home, bucket prefix and servers).
USER_EDITABLE_CLAIMS = {"name", "given_name", "family_name", "nickname", "middle_name"}
GROUP_NAME = r"^[^\s,]{1,255}$"


# Authenticator traits that let users in without the allow rules (OAuthenticator 17.4.0).
OPENING_TRAITS = ("allow_all", "allow_existing_users")


def opening_traits(hub_config: Mapping[str, Any]) -> list[str]:
    """`Section.trait` for each opening trait a `hub.config` turns on (settings refuse them in
    valuesOverrides, the checklist in the values, the plan shows them)."""
    return sorted(
        f"{section}.{trait}"
        for section, entries in hub_config.items()
        if isinstance(entries, Mapping)
        for trait in OPENING_TRAITS
        if entries.get(trait)
    )


class OidcAuthSettings(_Model):
    """Any OpenID Connect issuer, through OAuthenticator's GenericOAuthenticator (which has no
    discovery: the endpoints are written here, so a review sees where tokens go; the issuer's
    `/.well-known/openid-configuration` lists them)."""

    issuer: HttpsUrl
    """The issuer URL (documentation and a cross-check: each endpoint must be on its host)."""
    authorize_url: HttpsUrl
    """`authorization_endpoint` of the issuer's discovery document."""
    token_url: HttpsUrl
    """`token_endpoint` of the issuer's discovery document."""
    claims_from: Literal["userinfo", "idToken"] = "userinfo"
    """Where the user name and groups are read: the `userinfo` endpoint (with the access token), or the
    `idToken` the token endpoint returns (for issuers whose userinfo has no groups, e.g. Microsoft Entra ID).
    OAuthenticator checks the ID token's audience and expiry, not its signature: sound only because it
    comes straight from the token endpoint over TLS (OpenID Connect Core 3.1.3.7), which is enforced here."""
    userinfo_url: HttpsUrl | None = None
    """`userinfo_endpoint` of the issuer's discovery document (claimsFrom `userinfo`)."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    """Scopes requested; `openid` is required (add the one that releases groups, if the issuer needs one)."""
    username_claim: str = Field("preferred_username", pattern=r"^[A-Za-z0-9_:.-]+$")
    """Userinfo claim that becomes the JupyterHub user name (lower-cased); one the issuer's admins control."""
    groups_claim: str = Field("groups", pattern=r"^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$")
    """Userinfo claim listing the user's groups (a dotted path for nested claims, e.g. realm_access.roles)."""
    allowed_groups: list[Annotated[str, Field(pattern=GROUP_NAME)]] = Field(default_factory=list)
    """Groups whose members may log in."""
    admin_groups: list[Annotated[str, Field(pattern=GROUP_NAME)]] = Field(default_factory=list)
    """Groups whose members are JupyterHub admins (and may log in); admin is revoked for others at login."""
    login_service: str = Field("your organisation", min_length=1, max_length=60)
    """Shown on the login button ("Sign in with ...")."""

    @model_validator(mode="after")
    def _check(self) -> OidcAuthSettings:
        if "openid" not in self.scopes:
            raise _field_error("scopes", "OpenID Connect needs the `openid` scope; add it")
        if self.username_claim in USER_EDITABLE_CLAIMS:
            raise _field_error(
                "usernameClaim",
                f"`{self.username_claim}` is a display name users can edit, so two people could share an "
                "account; use preferred_username, email (verified by the issuer) or sub",
            )
        if self.claims_from == "userinfo" and not self.userinfo_url:
            raise _field_error("userinfoUrl", "claimsFrom `userinfo` needs the issuer's userinfo_endpoint; set it")
        if self.claims_from == "idToken" and self.userinfo_url:
            raise _field_error("userinfoUrl", "is not used with claimsFrom `idToken`; remove it")
        issuer_host = self.issuer.split("/")[2]
        for key, url in (
            ("authorizeUrl", self.authorize_url),
            ("tokenUrl", self.token_url),
            ("userinfoUrl", self.userinfo_url),
        ):
            if url and url.split("/")[2] != issuer_host:
                raise _field_error(
                    key,
                    f"{url} is not on the issuer's host {issuer_host}; copy it from the issuer's discovery document",
                )
        if not (self.allowed_groups or self.admin_groups):
            raise _field_error(
                "allowedGroups",
                "no group may log in, so nobody could; list the identity provider's groups in allowedGroups "
                "(and adminGroups)",
            )
        return self


class HttpsSettings(_Model):
    mode: Literal["letsencrypt", "secret", "acm", "none"] = Field(
        description=(
            "How HTTPS is served: `letsencrypt` (the chart's autohttps with Let's Encrypt), `secret` (an existing "
            "kubernetes.io/tls secret), `acm` (TLS offloaded to an AWS NLB with an ACM certificate) or `none` "
            "(plain HTTP; dev only, and must be written out)."
        )
    )
    contact_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    """Let's Encrypt account e-mail (mode `letsencrypt`)."""
    secret_name: str | None = Field(None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Name of the TLS secret in the JupyterHub namespace (mode `secret`)."""
    acm_certificate_arn: str | None = Field(
        None, pattern=r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$"
    )
    """ACM certificate for the NLB (mode `acm`). Leave it empty with `dns.hostedZoneId` set to create
    and DNS-validate one."""

    @model_validator(mode="after")
    def _check(self) -> HttpsSettings:
        if self.mode == "letsencrypt" and not self.contact_email:
            raise _field_error("contactEmail", "Let's Encrypt needs a contact e-mail; set https.contactEmail")
        if self.mode == "secret" and not self.secret_name:
            raise _field_error("secretName", "mode `secret` needs the TLS secret's name; set https.secretName")
        return self


class DnsSettings(_Model):
    hosted_zone_id: str | None = Field(None, pattern=r"^Z[A-Z0-9]{1,31}$")
    """Route 53 hosted zone of `domain`: the hub's DNS record (and, in mode `acm`, its certificate) are created."""


class ResourceSettings(_Model):
    cpu_guarantee: float = Field(0.5, gt=0, le=64)
    """CPU cores reserved for each user server."""
    cpu_limit: float = Field(2, gt=0, le=64)
    """CPU cores a user server may use at most."""
    memory_guarantee: str = Field("1G", pattern=r"^\d+(\.\d+)?[KMGT]$")
    """Memory reserved for each user server (e.g. 1G)."""
    memory_limit: str = Field("4G", pattern=r"^\d+(\.\d+)?[KMGT]$")
    """Memory a user server may use at most (e.g. 4G); the pod is OOM-killed beyond it."""

    @model_validator(mode="after")
    def _check(self) -> ResourceSettings:
        if self.cpu_guarantee > self.cpu_limit:
            raise _field_error("cpuGuarantee", f"{self.cpu_guarantee} exceeds cpuLimit {self.cpu_limit}")
        if quantity_kib(self.memory_guarantee) > quantity_kib(self.memory_limit):
            raise _field_error("memoryGuarantee", f"{self.memory_guarantee} exceeds memoryLimit {self.memory_limit}")
        return self


ADDON_VERSIONS = json.loads((Path(__file__).resolve().parent / "data" / "eks" / "addon-versions.json").read_text())


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def addon_pin_problem(pins: Mapping[str, str], kubernetes_version: str) -> tuple[str, str] | None:
    """(add-on, what is wrong) for the first pin EKS would refuse or that is older than AWS documents."""
    documented = ADDON_VERSIONS["documented"].get(kubernetes_version, {})
    for addon, version in pins.items():
        if addon not in ADDON_VERSIONS["installed"]:
            return addon, f"is no add-on the program installs; pin one of {ADDON_VERSIONS['installed']}"
        if addon == "kube-proxy" and not version.startswith(f"v{kubernetes_version}."):
            return (
                addon,
                f"{version} is not a kube-proxy of Kubernetes {kubernetes_version}; kube-proxy follows the "
                "cluster's minor version",
            )
        floor = documented.get(addon)
        if floor and version_key(version) < version_key(floor):
            return (
                addon,
                f"{version} is older than {floor}, the version AWS documents for Kubernetes {kubernetes_version} "
                "(data/eks/addon-versions.json); pin that or later, or remove the pin",
            )
    return None


def quantity_kib(quantity: str) -> float:
    """A Kubernetes binary quantity (Mi, Gi) or a KubeSpawner byte size (M, G: powers of 1024 there) in KiB."""
    return float(quantity[:-2] if quantity.endswith("i") else quantity[:-1]) * 1024 ** "KMGT".index(
        quantity.rstrip("i")[-1]
    )


class ImageSettings(_Model):
    name: str = Field("quay.io/jupyterhub/k8s-singleuser-sample", pattern=r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+$")
    """User server image repository (an ECR repository URL once the registry is set up)."""
    tag: str = Field("4.4.0", pattern=r"^[\w][\w.-]{0,127}$")
    """User server image tag (pin it; `latest` is refused)."""
    from_registry: bool = False
    """Pull the image from this stack's ECR repository (`name` is then ignored); nodes pull through their role."""

    @model_validator(mode="after")
    def _check(self) -> ImageSettings:
        if self.tag == "latest":
            raise _field_error("tag", "`latest` is not reproducible; pin a version tag")
        return self


class EgressPortSettings(_Model):
    port: int = Field(ge=1, le=65535)
    """Destination port."""
    protocol: Literal["TCP", "UDP"] = "TCP"
    """Protocol."""


class ProfileSettings(_Model):
    """One choice on the spawn page: KubeSpawner's profile_list entry."""

    slug: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
    """Short name, what a user posts to choose it (`{"profile": "<slug>"}`)."""
    display_name: str = Field(min_length=1, max_length=60)
    """Shown on the spawn page."""
    description: str = Field("", max_length=300)
    """Shown under the name."""
    default: bool = False
    """Preselected; exactly one profile is the default, and it is open to everyone who may log in."""
    resources: ResourceSettings | None = None
    """CPU and memory guarantee and limit (default: userServers.resources)."""
    image: ImageSettings | None = None
    """The image (default: userServers.image): this stack's registry at a tag, or a pinned public image."""
    node_pool: Literal["user", "gpu"] = "user"
    """Which node group runs it: `user` or `gpu` (nodeGroups.gpu)."""
    gpus: int = Field(0, ge=0, le=8)
    """NVIDIA GPUs per server (nvidia.com/gpu; with time-slicing, shares of one); needs nodePool `gpu`."""
    groups: list[Annotated[str, Field(pattern=GROUP_NAME)]] = Field(default_factory=list)
    """Hub groups (the identity provider's groups, or GitHub `org:team`) whose members see and may start
    it; empty: everyone who may log in. Enforced in the hub at every spawn, not only on the page."""
    shared_data_writer: bool = False
    """Servers of this profile may write the user bucket's `shared/` prefix, which every server reads (they run
    as the curators' service account and IAM role); needs `groups`, the curators."""
    start_timeout_seconds: int | None = Field(None, ge=60, le=3600)
    """Seconds a server may take to start (default: the chart's 300; large GPU images pull for longer)."""

    @model_validator(mode="after")
    def _check(self) -> ProfileSettings:
        if self.gpus and self.node_pool != "gpu":
            raise _field_error(
                "gpus", f"profile {self.slug!r} asks for GPUs on nodePool `{self.node_pool}`; set nodePool: gpu"
            )
        if self.shared_data_writer and not self.groups:
            raise _field_error(
                "sharedDataWriter",
                f"profile {self.slug!r} would let everyone write shared/; limit it to the curators with `groups`",
            )
        if self.node_pool == "gpu" and not self.gpus:
            raise _field_error(
                "nodePool", f"profile {self.slug!r} is on the GPU pool without GPUs; set gpus: 1 or more"
            )
        return self


class UserServerSettings(_Model):
    image: ImageSettings = ImageSettings()
    """User server image."""
    resources: ResourceSettings = ResourceSettings()
    """CPU and memory guarantees and limits of each user server."""
    profiles: list[ProfileSettings] = Field(default_factory=list)
    """Server choices on the spawn page (empty: one server size, `image` and `resources`)."""
    shm_size: str = Field("1Gi", pattern=r"^\d+[MG]i$")
    """Size of the memory-backed /dev/shm of every user server (data loaders need more than the
    container runtime's 64M); it counts against the server's memory limit."""
    storage_capacity: str = Field("10Gi", pattern=r"^\d+[MGT]i$")
    """Size of each user's home volume (encrypted gp3, dynamic PVC)."""
    extra_egress_ports: list[EgressPortSettings] = Field(default_factory=list)
    """Internet ports user servers may reach besides DNS, HTTP (80) and HTTPS (443), e.g. [{port: 22}] for git+ssh."""
    idle_timeout_seconds: int = Field(3600, ge=300, le=7 * 24 * 3600)
    """Idle user servers are stopped after this many seconds (idle culling is always on)."""

    @property
    def has_curators(self) -> bool:
        """Whether a profile writes the shared prefix (and so runs as the curators' identity)."""
        return any(profile.shared_data_writer for profile in self.profiles)

    @model_validator(mode="after")
    def _check(self) -> UserServerSettings:
        slugs = [p.slug for p in self.profiles]
        if len(set(slugs)) != len(slugs):
            raise _field_error("profiles", f"slugs must be unique, got {slugs}")
        if self.profiles:
            defaults = [p for p in self.profiles if p.default]
            if len(defaults) != 1:
                raise _field_error("profiles", f"exactly one profile needs `default: true`, found {len(defaults)}")
            if defaults[0].groups:
                raise _field_error(
                    "profiles",
                    f"the default profile {defaults[0].slug!r} is limited to groups; the default must be open to "
                    "everyone who may log in (a user with no profile would start without one)",
                )
        for profile in [None, *self.profiles]:
            resources = self.resources if profile is None or profile.resources is None else profile.resources
            if quantity_kib(self.shm_size) >= quantity_kib(resources.memory_limit):
                where = "userServers.resources" if profile is None else f"profile {profile.slug!r}"
                raise _field_error(
                    "shmSize",
                    f"{self.shm_size} of /dev/shm would take all of {where}'s memoryLimit {resources.memory_limit}; "
                    "lower shmSize or raise the limit",
                )
        return self


class JupyterHubSettings(_Model):
    domain: str = Field(max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    """DNS name users open, e.g. hub.example.org; the OAuth callback is https://<domain>/hub/oauth_callback."""
    chart_version: str = Field("4.4.0", pattern=r"^\d+\.\d+\.\d+$")
    """Zero-to-JupyterHub chart version (the values are validated against this version's schema in tests)."""
    namespace: str = Field("jupyterhub", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Kubernetes namespace of the release. Immutable: a change reinstalls the hub."""
    auth: Literal["github", "oidc"] = "github"
    """Login: `github` (GitHub OAuth; organizations and teams decide) or `oidc` (any OpenID Connect issuer; its
    groups decide). Client id/secret: the secrets `oauthClientId` and `oauthClientSecret`."""
    github: GitHubAuthSettings = GitHubAuthSettings()
    """GitHub login rules (auth `github`)."""
    oidc: OidcAuthSettings | None = None
    """OpenID Connect login rules (auth `oidc`)."""
    https: HttpsSettings
    """TLS for the hub's public endpoint."""
    dns: DnsSettings = DnsSettings()
    """Route 53 automation."""
    load_balancer_source_ranges: list[Cidr] = Field(default_factory=list)
    """CIDRs allowed to reach the hub's load balancer (required in prod; 0.0.0.0/0 must be written out)."""
    subdomain_host: bool = False
    """Serve each user on `<user>.<domain>` (origin isolation); needs a wildcard certificate (mode secret or acm)."""
    user_servers: UserServerSettings = UserServerSettings()
    """User servers (KubeSpawner)."""
    secrets_generation: int = Field(1, ge=1)
    """Bump to regenerate the hub cookie secret, proxy token and CryptKeeper keys (logs everyone out)."""
    values_overrides: dict[str, Any] = Field(default_factory=dict)
    """Escape hatch: Helm values merged last over the generated ones (validated against the chart schema in tests)."""

    @model_validator(mode="after")
    def _check(self) -> JupyterHubSettings:
        if self.auth == "oidc" and self.oidc is None:
            raise _field_error("oidc", "auth `oidc` needs the issuer's endpoints and groups; add an oidc section")
        if self.auth == "github" and self.oidc is not None:
            raise _field_error("oidc", "is set but auth is `github`; set auth: oidc or remove the oidc section")
        hub_config = (self.values_overrides.get("hub") or {}).get("config") or {}
        opened = [f"hub.config.{trait}" for trait in opening_traits(hub_config)]
        if opened:
            raise _field_error(
                "valuesOverrides",
                f"{opened} would let users in without the allow rules; remove it and use "
                "github.allowedOrganizations or oidc.allowedGroups",
            )
        if self.subdomain_host and self.https.mode not in ("secret", "acm"):
            raise _field_error(
                "subdomainHost",
                f"needs a wildcard certificate, which https mode `{self.https.mode}` cannot provide; "
                "use https.mode `secret` or `acm`, or set subdomainHost: false",
            )
        world = any(ipaddress.IPv4Network(c).prefixlen == 0 for c in self.load_balancer_source_ranges)
        if self.https.mode == "letsencrypt" and self.load_balancer_source_ranges and not world:
            # Let's Encrypt validates HTTP-01 from addresses it does not publish (several vantage
            # points), so with port 80 limited to these ranges the certificate is never issued.
            raise _field_error(
                "loadBalancerSourceRanges",
                "limits port 80, but Let's Encrypt validates from addresses it does not publish, so the "
                "certificate would never be issued; use https.mode `acm` with dns.hostedZoneId (DNS "
                "validation works behind source ranges), or open the hub with [0.0.0.0/0]",
            )
        if self.https.mode == "acm" and not self.https.acm_certificate_arn and not self.dns.hosted_zone_id:
            raise _field_error(
                "https.acmCertificateArn",
                "mode `acm` needs a certificate; set https.acmCertificateArn or dns.hostedZoneId to create one",
            )
        return self


class Secrets(_Model):
    """Secret settings. Values are kept as SecretStr so they never print in a repr or traceback."""

    oauth_client_id: SecretStr | None = None
    oauth_client_secret: SecretStr | None = None


class Settings(_Model):
    """All settings of one stack."""

    stack: str
    """Stack name (from Pulumi, not from config)."""
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    """AWS region (`aws:region`)."""
    environment: Literal["dev", "prod"]
    """Environment class; prod turns on the strict checks (3 AZs, no open API, OAuth with allow rules, data kept)."""
    network: NetworkSettings
    """VPC, subnets, NAT, flow logs and VPC endpoints."""
    cluster: ClusterSettings
    """EKS control plane."""
    node_groups: NodeGroupsSettings
    """Managed node groups."""
    encryption: EncryptionSettings = EncryptionSettings()
    """Customer-managed KMS keys."""
    data: DataSettings = DataSettings()
    """What survives `pulumi destroy`."""
    registry: RegistrySettings = RegistrySettings()
    """ECR repository for user images."""
    detection: DetectionSettings = DetectionSettings()
    """Alerts, GuardDuty, CloudTrail, log shipping and alarms."""
    incident: IncidentSettings = IncidentSettings()
    """Incident-response switches (reviewed like any change)."""
    cost: CostSettings = CostSettings()
    """The stack's budget, and the usage the plan's cost estimate assumes."""
    jupyterhub: JupyterHubSettings
    """JupyterHub domain and login."""
    secrets: Secrets = Secrets()
    """Secret settings (top-level keys, see SECRET_KEYS)."""

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if "-gov-" in self.region:
            return "aws-us-gov"
        return "aws"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        problems: list[str] = []
        for zone in self.network.availability_zones:
            if not re.fullmatch(re.escape(self.region) + r"[a-z]", zone):
                problems.append(
                    f"{PROJECT}:network.availabilityZones: '{zone}' is not a zone of region {self.region}; "
                    f"use names like {self.region}a"
                )
        if self.secrets.oauth_client_id is None:
            problems.append(_missing_secret("oauthClientId"))
        if self.secrets.oauth_client_secret is None:
            problems.append(_missing_secret("oauthClientSecret"))
        problems += self._profile_problems()
        if self.cluster.kubernetes_version not in USER_SCHEDULER_IMAGE_TAGS:
            problems.append(
                f"{PROJECT}:cluster.kubernetesVersion: no kube-scheduler image for the hub's user-scheduler on "
                f"Kubernetes {self.cluster.kubernetes_version} (data/eks/user-scheduler.json); add one within the "
                "skew policy (that minor or the one before)"
            )
        release = self.node_groups.ami_release
        if release != "latest" and not release.startswith(f"{self.cluster.kubernetes_version}."):
            problems.append(
                f"{PROJECT}:nodeGroups.amiRelease: {release} is not a release for Kubernetes "
                f"{self.cluster.kubernetes_version}; pin a {self.cluster.kubernetes_version}.x release or use latest"
            )
        budget = self.cost.budget
        if budget.enabled and budget.monthly_limit_usd is None:
            problems.append(
                f"{PROJECT}:cost.budget.monthlyLimitUsd: the stack's budget needs a monthly limit in USD (./plan "
                "prints the fixed monthly cost to start from); set it, or cost.budget.enabled: false"
            )
        if self.environment == "prod":
            problems += self._prod_problems()
        if problems:
            raise SettingsError("\n".join(problems))
        return self

    def _profile_problems(self) -> list[str]:
        problems = []
        key = f"{PROJECT}:jupyterhub.userServers.profiles"
        for profile in self.jupyterhub.user_servers.profiles:
            gpu_pool = self.node_groups.gpu
            if profile.node_pool == "gpu" and gpu_pool is None:
                problems.append(
                    f"{key}: profile {profile.slug!r} runs on the GPU pool, which nodeGroups.gpu does not define; "
                    "add nodeGroups.gpu"
                )
            elif gpu_pool is not None and gpu_pool.time_slicing_replicas > 1 and profile.gpus > 1:
                problems.append(
                    f"{key}: profile {profile.slug!r} asks for {profile.gpus} GPUs, but with time-slicing a server "
                    "gets one share (the device plugin refuses more: failRequestsGreaterThanOne); set gpus: 1"
                )
            elif gpu_pool is not None and profile.gpus > gpu_pool.advertised_gpus_per_node:
                problems.append(
                    f"{key}: profile {profile.slug!r} asks for {profile.gpus} GPUs, but a GPU node offers "
                    f"{gpu_pool.advertised_gpus_per_node}; it would never start. Lower gpus or use larger instanceTypes"
                )
            if self.jupyterhub.auth == "github":
                # The hub's groups are the user's teams as `org:team-slug`, lower-cased (hub_config/github_teams.py).
                bad = [g for g in profile.groups if g != g.lower() or g.count(":") != 1]
                if bad:
                    problems.append(
                        f"{key}: profile {profile.slug!r} names groups {bad}; with GitHub login the hub's groups are "
                        "teams, written `org:team-slug` in lower case"
                    )
        return problems

    def _prod_problems(self) -> list[str]:
        problems = []
        if len(self.network.availability_zones) < 3:
            problems.append(
                f"{PROJECT}:network.availabilityZones: prod needs 3 AZs to survive a zone outage; list three zones"
            )
        if self.network.nat_gateways != "perAz":
            problems.append(f"{PROJECT}:network.natGateways: prod needs `perAz` so one AZ failure cannot cut egress")
        world = [c for c in self.cluster.public_access_cidrs if ipaddress.IPv4Network(c).prefixlen == 0]
        if self.cluster.endpoint_public_access and world:
            problems.append(
                f"{PROJECT}:cluster.publicAccessCidrs: 0.0.0.0/0 opens the prod API endpoint to the world; "
                "list your office/VPN CIDRs or set cluster.endpointPublicAccess: false"
            )
        if not self.data.retain_on_destroy:
            problems.append(
                f"{PROJECT}:data.retainOnDestroy: prod must keep user data and keys on destroy; set it to true"
            )
        github, oidc = self.jupyterhub.github, self.jupyterhub.oidc
        if self.jupyterhub.auth == "github" and not github.allowed_organizations:
            problems.append(
                f"{PROJECT}:jupyterhub.github.allowedOrganizations: prod needs an allow rule (without one only "
                "admins could log in); list the GitHub orgs or org:team entries whose members may log in"
            )
        if self.jupyterhub.auth == "github" and not (github.admin_users or github.admin_teams):
            problems.append(
                f"{PROJECT}:jupyterhub.github.adminUsers: prod needs at least one JupyterHub admin; "
                "list adminUsers or adminTeams"
            )
        if oidc is not None and not oidc.admin_groups:
            problems.append(f"{PROJECT}:jupyterhub.oidc.adminGroups: prod needs at least one JupyterHub admin group")
        if not self.data.backup.enabled or self.data.backup.vault_lock == "off":
            problems.append(
                f"{PROJECT}:data.backup.vaultLock: prod backups must be on and locked against deletion; set "
                "data.backup.enabled: true and vaultLock: compliance (or governance)"
            )
        if self.detection.guard_duty.mode == "off":
            problems.append(f"{PROJECT}:detection.guardDuty.mode: prod cannot turn GuardDuty off; use account")
        if not self.cost.budget.enabled:
            problems.append(
                f"{PROJECT}:cost.budget.enabled: prod's spending must alert someone; set it to true with a "
                "monthlyLimitUsd"
            )
        if not (self.detection.alert_emails or self.detection.alert_https_endpoints):
            problems.append(
                f"{PROJECT}:detection.alertEmails: prod alarms must reach someone; "
                "list alertEmails or alertHttpsEndpoints"
            )
        if self.jupyterhub.https.mode == "none":
            problems.append(
                f"{PROJECT}:jupyterhub.https.mode: prod cannot serve plain HTTP; use letsencrypt, secret or acm"
            )
        if not self.jupyterhub.load_balancer_source_ranges:
            problems.append(
                f"{PROJECT}:jupyterhub.loadBalancerSourceRanges: prod needs the CIDRs allowed to reach the hub; "
                "list them (write 0.0.0.0/0 to open it to the internet on purpose)"
            )
        return problems


# --------------------------------------------------------------------------------------------------
# Reading and error reporting
# --------------------------------------------------------------------------------------------------


class _FieldError(ValueError):
    """A model validator's complaint about one field; `_format_errors` prefixes the key path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _field_error(field: str, message: str) -> _FieldError:
    return _FieldError(field, message)


def _missing_secret(key: str) -> str:
    return (
        f"{PROJECT}:{key}: required secret is not set ({SECRET_KEYS[key]}); "
        f"run `pulumi config set --secret {key} <value>`"
    )


_TOP_LEVEL_KEYS = {
    (field.alias or name) for name, field in Settings.model_fields.items() if name not in {"stack", "region", "secrets"}
}


def _parse_value(raw: Any) -> Any:
    """Pulumi passes structured config as JSON text and scalars as strings; pydantic coerces scalars."""
    if isinstance(raw, str) and raw[:1] in "{[":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def parse_settings(stack: str, config: Mapping[str, Any], secret_keys: set[str] | frozenset[str]) -> Settings:
    """Build the validated settings from a flat Pulumi config map (``"<namespace>:<key>" -> value``).

    Pure and offline: the Pulumi program, the offline plan and the tests all call this. Raises
    ``SettingsError`` with every problem found, one per line.
    """
    problems: list[str] = []
    document: dict[str, Any] = {"stack": stack, "secrets": {}}
    region = config.get("aws:region")
    if not region:
        problems.append("aws:region: not set; run `pulumi config set aws:region <region>`, e.g. eu-west-1")
    else:
        document["region"] = region

    for full_key, raw in sorted(config.items()):
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            continue
        if key in SECRET_KEYS:
            if full_key not in secret_keys:
                problems.append(
                    f"{full_key}: is stored in plain text in the stack file; remove it and run "
                    f"`pulumi config set --secret {key} <value>`"
                )
            else:
                document["secrets"][to_snake(key)] = raw
        elif key in _TOP_LEVEL_KEYS:
            document[key] = _parse_value(raw)
        else:
            problems.append(
                f"{full_key}: unknown setting; remove it "
                f"(valid keys: {', '.join(sorted(_TOP_LEVEL_KEYS | set(SECRET_KEYS)))})"
            )

    if problems:
        raise SettingsError("\n".join(problems))
    try:
        return Settings.model_validate(document)
    except pydantic.ValidationError as exc:
        raise SettingsError(_format_errors(exc)) from None


def to_snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _format_errors(exc: pydantic.ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        context = error.get("ctx", {})
        inner = context.get("error")
        if isinstance(inner, _FieldError):
            loc.append(inner.field)
            message = inner.message
        else:
            message = _plain_message(error)
        lines.append(f"{_key_path(loc)}: {message}")
    return "\n".join(lines)


def _key_path(loc: list[str]) -> str:
    if not loc:
        return f"{PROJECT}:<settings>"
    head, *rest = loc
    if head == "region":
        return "aws:region"
    path = f"{PROJECT}:{head}"
    for part in rest:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


def _plain_message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required but not set; add it to the stack file (see docs/settings.md)"
    if kind == "extra_forbidden":
        return "unknown setting; remove it or fix its spelling (see docs/settings.md)"
    if kind == "literal_error":
        return f"{error['input']!r} is not allowed; {error['msg'].lower()}"
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} has the wrong form; it must match {error['ctx']['pattern']}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{message} (got {error['input']!r})" if kind != "value_error" else message


def load_settings() -> Settings:
    """Read the running stack's Pulumi config into validated settings (raises SettingsError)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    return parse_settings(pulumi.get_stack(), merged, frozenset(secret_keys))
