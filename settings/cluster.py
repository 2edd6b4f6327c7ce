"""Cluster settings: the EKS control plane, who reaches its API, the cluster-autoscaler and the pinned
EKS add-ons, each checked against the pinned data (data/charts/cluster-autoscaler/, data/eks/)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, model_validator

from settings.base import DATA, Cidr, IamRoleArn, RetentionDays, _field_error, _Model, version_key

# The kube-scheduler image tag the hub's user-scheduler runs, per cluster minor version (read here, at the
# bottom layer, so that settings can refuse a Kubernetes version without one and components/user_scheduler.py
# sets the image from the same table).
USER_SCHEDULER_IMAGE_TAGS: dict[str, str] = json.loads((DATA / "eks" / "user-scheduler.json").read_text())["imageTags"]

# Versions of the cluster-autoscaler chart whose image and ClusterRole were read from the chart's
# source (data/charts/cluster-autoscaler/versions.json): a chart is accepted only when its RBAC is
# known to cover what its autoscaler watches.
AUTOSCALER_CHARTS: dict[str, Any] = json.loads((DATA / "charts" / "cluster-autoscaler" / "versions.json").read_text())


def _minor(version: str) -> str:
    return ".".join(version.removeprefix("v").split(".")[:2])


class AutoscalerSettings(_Model):
    chart_version: str = Field("9.59.0", pattern=r"^\d+\.\d+\.\d+$")
    """Version of the kubernetes/autoscaler `cluster-autoscaler` Helm chart (one listed in
    `data/charts/cluster-autoscaler/versions.json`, whose ClusterRole was checked); prod writes it in the stack
    file."""
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
    after data/eks/kubernetes-versions.json's end date and warns 90 days before); prod writes it in the stack file."""
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
    for the cluster's Kubernetes version at each `pulumi up` (kube-proxy: the most recent), shown in the preview;
    prod pins every add-on the program installs (the weekly update pull request proposes newer defaults)."""

    @model_validator(mode="after")
    def _check(self) -> ClusterSettings:
        # First: an unknown version (1.53 for 1.35) was reported as the autoscaler chart not matching it.
        if self.kubernetes_version not in EKS_KUBERNETES_VERSIONS:
            raise _field_error(
                "kubernetesVersion",
                f"{self.kubernetes_version} is not a Kubernetes version EKS runs; use one of "
                f"{', '.join(EKS_KUBERNETES_VERSIONS)} (data/eks/kubernetes-versions.json, from EKS's release "
                "calendar; a newer one is added there with its dates)",
            )
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


# The EKS add-ons the program installs and the version AWS documents for each per Kubernetes minor.
EKS_KUBERNETES_VERSIONS: list[str] = list(
    json.loads((DATA / "eks" / "kubernetes-versions.json").read_text())["versions"]
)
ADDON_VERSIONS = json.loads((DATA / "eks" / "addon-versions.json").read_text())


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
