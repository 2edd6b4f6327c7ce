"""Node settings: the managed node groups (core, user) and the optional GPU pool, whose instance
types are checked against cluster-autoscaler's GPU table (data/gpu/instance-types.json)."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, model_validator

from settings.base import DATA, _field_error, _Model


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
# node from it while the group is at zero): data/gpu/instance-types.json, from maintenance/gpu_instance_types.py.
GPU_DATA = json.loads((DATA / "gpu" / "instance-types.json").read_text())
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
