"""The one root model: all settings of one stack, and the checks that span several concerns (zones
of the region, secrets, profiles against the GPU pool, the user-scheduler and AMI release against
the Kubernetes version, the budget, and prod's stricter rules)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from catalog.instance_types import profile_fit_problem
from settings.base import PROJECT, SettingsError, _Model
from settings.capacity import CapacityPlan, CapacitySettings, plan_capacity
from settings.cluster import ADDON_VERSIONS, USER_SCHEDULER_IMAGE_TAGS, ClusterSettings
from settings.dask import DaskGatewaySettings
from settings.data import DataSettings, EncryptionSettings, RegistrySettings
from settings.department import DepartmentSettings, department_problems
from settings.environments import EnvironmentPin, environment_problems
from settings.hub import JupyterHubSettings
from settings.hub_database import HubDatabaseSettings, hub_database_prod_problems
from settings.network import NetworkSettings
from settings.nodes import DAEMONSET_REQUESTS, STANDARD_AMI_TYPE, NodeGroupsSettings, ami_release_parameter
from settings.operations import CostSettings, DetectionSettings, IncidentSettings

# Settings keys that are Pulumi secrets, read from `pulumi config set --secret`.
SECRET_KEYS: dict[str, str] = {
    "oauthClientId": "Client ID of the GitHub OAuth app that JupyterHub logs users in with.",
    "oauthClientSecret": "Client secret of the GitHub OAuth app that JupyterHub logs users in with.",
}


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
    environments: dict[str, EnvironmentPin] = Field(default_factory=dict)
    """User environments by name, each pinned by digest (maintenance/promote.py writes them; docs/environments.md)."""
    capacity: CapacitySettings = CapacitySettings()
    """How many servers the hub admits and starts at once, the start timeout, warm capacity (settings/capacity.py)."""
    hub_database: HubDatabaseSettings = HubDatabaseSettings()
    """Where the hub keeps its database: SQLite on a zonal volume, or RDS for PostgreSQL Multi-AZ."""
    department: DepartmentSettings = DepartmentSettings()
    """How the department shares the hub: home size and server limits per group, culling, announcements."""
    dask_gateway: DaskGatewaySettings = DaskGatewaySettings()
    """Scale-out with Dask Gateway behind the hub's login (off by default)."""
    secrets: Secrets = Secrets()
    """Secret settings (top-level keys, see SECRET_KEYS)."""

    @property
    def resource_prefix(self) -> str:
        """What every resource's name starts with, and the stack cost tag: `jhub-<stack>`, unique in an account
        that other stacks and projects share."""
        return f"jhub-{self.stack}"

    @property
    def capacity_plan(self) -> CapacityPlan:
        """What the node groups hold at their maximums, and the hub's limits sized from it."""
        user = self.jupyterhub.user_servers
        # Each profile's environment (the default's with no profiles); a name not pinned is a settings error
        # reported elsewhere, and the estimate stands for it.
        names = {slug: self.environment_name_of(slug) for slug in [p.slug for p in user.profiles] or ["default"]}
        image_sizes = {
            slug: pin.compressed_size_bytes if name and (pin := self.environments.get(name)) else None
            for slug, name in names.items()
        }
        return plan_capacity(self.node_groups, user, len(self.network.availability_zones), self.capacity, image_sizes)

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
        problems += environment_problems(self.environments, self.jupyterhub.user_servers, self.environment == "prod")
        problems += department_problems(self.department, self.jupyterhub)
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
        if not problems:
            problems += self._capacity_problems()
        if self.dask_gateway.enabled:
            user_daemonsets = DAEMONSET_REQUESTS["user"]
            problems += [
                f"{PROJECT}:{problem}"
                for problem in self.dask_gateway.worker_node_problems(
                    (user_daemonsets["cpu"], user_daemonsets["memory"])
                )
            ]
        if self.environment == "prod":
            problems += self._prod_problems()
            problems += self._prod_pin_problems()
            problems += hub_database_prod_problems(self.hub_database)
        if problems:
            raise SettingsError("\n".join(problems))
        return self

    def environment_name_of(self, profile_slug: str | None = None) -> str | None:
        """The name of the environment a profile's servers run (None or an unknown slug: userServers'), or None
        when they run `image`. Not looked up: the name may be one the settings check refuses."""
        user = self.jupyterhub.user_servers
        profile = next((p for p in user.profiles if p.slug == profile_slug), None)
        if profile is not None and profile.image is not None:
            return None
        return (profile.environment if profile is not None else None) or user.environment

    def environment_of(self, profile_slug: str | None = None) -> tuple[str, EnvironmentPin] | None:
        """The environment a profile's servers run (None: userServers'), or None when they run `image`."""
        name = self.environment_name_of(profile_slug)
        return (name, self.environments[name]) if name is not None else None

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
        return problems + self._fit_problems()

    def _fit_problems(self) -> list[str]:
        """A server whose guarantee does not fit on its pool's smallest node, after the kubelet's reserves and
        the DaemonSets' requests, would stay Pending forever (and the autoscaler would not help)."""
        user = self.jupyterhub.user_servers
        servers = [
            (
                f"profile {p.slug!r}",
                f"jupyterhub.userServers.profiles[{i}].resources"
                if p.resources
                else "jupyterhub.userServers.resources",
                p.resources or user.resources,
                p.node_pool,
            )
            for i, p in enumerate(user.profiles)
        ] or [("the default server", "jupyterhub.userServers.resources", user.resources, "user")]
        problems = []
        for who, key, resources, pool_name in servers:
            pool = self.node_groups.gpu if pool_name == "gpu" else self.node_groups.user
            if pool is None or pool.instance_type_problem():
                continue  # reported with the pool
            daemonsets = DAEMONSET_REQUESTS[pool_name]
            problem = profile_fit_problem(
                resources.cpu_guarantee,
                resources.memory_guarantee,
                pool.instance_types,
                (daemonsets["cpu"], daemonsets["memory"]),
                pool_key=f"nodeGroups.{pool_name}.instanceTypes",
            )
            if problem:
                problems.append(f"{PROJECT}:{key}: {who} {problem}")
        return problems

    def _capacity_problems(self) -> list[str]:
        plan, capacity = self.capacity_plan, self.capacity
        problems = []
        if capacity.active_server_limit != "auto" and capacity.active_server_limit > plan.node_group_servers:
            problems.append(
                f"{PROJECT}:capacity.activeServerLimit: {capacity.active_server_limit} is more servers than the node "
                f"groups hold at their maximums ({plan.node_group_servers}), so users beyond them would wait for a "
                "server that is never placed instead of being told the hub is full; lower it, raise "
                "nodeGroups.*.maxSize, or set `auto`"
            )
        if capacity.warm.servers_per_zone > plan.default.per_zone:
            problems.append(
                f"{PROJECT}:capacity.warm.serversPerZone: {capacity.warm.servers_per_zone} placeholders of the default "
                f"profile do not fit in a zone's user nodes at nodeGroups.user.maxSize ({plan.default.per_zone}); "
                "lower it or raise maxSize"
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
        if self.jupyterhub.auth == "oidc" and oidc is not None and not oidc.allowed_groups:
            problems.append(
                f"{PROJECT}:jupyterhub.oidc.allowedGroups: prod needs an allow rule (without one only admins could "
                "log in); list the identity provider's groups whose members may log in"
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

    def _prod_pin_problems(self) -> list[str]:
        """Prod runs what its stack file says, so only a reviewed change of that file moves it: not what AWS
        publishes next (`amiRelease: latest`, an add-on without a pin, read at each `up`), and not the default
        of a newer version of this program (a chart or Kubernetes version the stack file leaves out: pydantic's
        `model_fields_set` holds the keys the stack file wrote, whatever their value)."""
        problems = []
        kubernetes = self.cluster.kubernetes_version
        if "kubernetes_version" not in self.cluster.model_fields_set:
            problems.append(
                f"{PROJECT}:cluster.kubernetesVersion: prod must write its Kubernetes version in the stack file "
                f"(left out, it is this program's default, so upgrading the program would upgrade prod's control "
                f'plane); set kubernetesVersion: "{kubernetes}" (today\'s default)'
            )
        if self.node_groups.ami_release == "latest":
            parameter = ami_release_parameter(STANDARD_AMI_TYPE, kubernetes)
            problems.append(
                f"{PROJECT}:nodeGroups.amiRelease: prod must pin the EKS-optimized AMI release (`latest` rolls every "
                "node group, ending the user servers on them, onto whatever AWS publishes next, at any `up`); set "
                f"the release you tested, e.g. the one `latest` gives today: aws ssm get-parameter --name {parameter} "
                "--query Parameter.Value (the weekly update pull request proposes newer ones)"
            )
        documented = ADDON_VERSIONS["documented"].get(kubernetes, {})
        for addon in ADDON_VERSIONS["installed"]:
            if addon in self.cluster.addon_versions:
                continue
            example = (
                f"{documented[addon]}, the version AWS documents for Kubernetes {kubernetes} "
                "(data/eks/addon-versions.json), or "
                if addon in documented
                else ""
            )
            problems.append(
                f"{PROJECT}:cluster.addonVersions.{addon}: prod must pin every EKS add-on the program installs "
                "(unpinned, each `up` installs the version EKS offers that day, unreviewed); set it to "
                f"{example}EKS's default: aws eks describe-addon-versions --addon-name {addon} --kubernetes-version "
                f"{kubernetes} (the version whose compatibilities say defaultVersion: true)"
            )
        charts = [
            ("jupyterhub.chartVersion", self.jupyterhub, "chart_version"),
            ("cluster.autoscaler.chartVersion", self.cluster.autoscaler, "chart_version"),
        ]
        if self.node_groups.gpu is not None:
            charts.append(
                ("nodeGroups.gpu.devicePluginChartVersion", self.node_groups.gpu, "device_plugin_chart_version")
            )
        if self.dask_gateway.enabled:
            charts.append(("daskGateway.chartVersion", self.dask_gateway, "chart_version"))
        for key, section, field in charts:
            if field not in section.model_fields_set:
                problems.append(
                    f"{PROJECT}:{key}: prod must write its chart version in the stack file (left out, it is this "
                    "program's default, so upgrading the program would upgrade the release unreviewed); set "
                    f"{key.rsplit('.', 1)[1]}: {getattr(section, field)} (today's default)"
                )
        return problems


def _missing_secret(key: str) -> str:
    return (
        f"{PROJECT}:{key}: required secret is not set ({SECRET_KEYS[key]}); "
        f"run `pulumi config set --secret {key} <value>`"
    )
