"""Node settings: the managed node groups (core, user) and the optional GPU pool, whose instance
types are checked against what EC2 has (catalog/instance_types.py: EC2's names, cluster-autoscaler's
table of vCPUs, memory, GPUs and architecture)."""

from __future__ import annotations

import json
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from catalog.instance_types import gpu_pool_problem, lookup, pool_problem
from settings.base import DATA, _field_error, _Model

# What the DaemonSets that run on every node of a pool request (data/eks/daemonset-requests.json, each
# figure with its source): a server's guarantee must fit beside them.
DAEMONSET_REQUESTS: dict[str, dict[str, str]] = json.loads((DATA / "eks" / "daemonset-requests.json").read_text())[
    "pools"
]

# The EKS AMI types the node groups run (components/node_groups.py declares them with these names).
STANDARD_AMI_TYPE = "AL2023_x86_64_STANDARD"
NVIDIA_AMI_TYPE = "AL2023_x86_64_NVIDIA"


class NodeGroupSettings(_Model):
    ami_type: ClassVar[str] = STANDARD_AMI_TYPE

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
        problem = self.instance_type_problem()
        if problem:
            raise _field_error("instanceTypes", problem)
        if not self.min_size <= self.desired_size <= self.max_size:
            raise _field_error(
                "desiredSize",
                "needs minSize <= desiredSize <= maxSize, "
                f"got {self.min_size} <= {self.desired_size} <= {self.max_size}",
            )
        return self

    def instance_type_problem(self) -> str | None:
        """An unknown type (with the closest names), mixed architectures, or one the AMI cannot run."""
        return pool_problem(self.instance_types, self.ami_type)


# Families the EKS-optimized AL2023 NVIDIA AMI supports
# (https://docs.aws.amazon.com/eks/latest/userguide/ml-eks-optimized-ami.html).
# g6f is not among them although AWS lists it: its GPU is a fraction of an L4, which EC2 and
# cluster-autoscaler count as 0 GPUs, so a group at zero would never be scaled up for a GPU server.
GPU_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p4d", "p5")
DEVICE_PLUGIN_CHART_VERSIONS = ("0.20.0",)


class GpuNodeGroupSettings(NodeGroupSettings):
    """GPU nodes: EKS-optimized AL2023 NVIDIA AMI (driver and container toolkit included), tainted so that
    only GPU profiles land there, scaled from zero."""

    ami_type: ClassVar[str] = NVIDIA_AMI_TYPE

    time_slicing_replicas: int = Field(1, ge=1, le=16)
    """Servers sharing one GPU (NVIDIA time-slicing: the device plugin advertises each GPU this many times;
    no memory isolation between them). 1: every server gets whole GPUs."""
    device_plugin_chart_version: str = "0.20.0"
    """NVIDIA k8s-device-plugin Helm chart version (https://nvidia.github.io/k8s-device-plugin)."""

    @property
    def gpus_per_node(self) -> int:
        """Physical GPUs of each node (the same for every listed type, checked below)."""
        found = lookup(self.instance_types[0])
        return found.gpus if found else 0

    @property
    def advertised_gpus_per_node(self) -> int:
        return self.gpus_per_node * self.time_slicing_replicas

    @property
    def accelerator(self) -> str | None:
        """The `k8s.amazonaws.com/accelerator` label value cluster-autoscaler knows for this family."""
        found = lookup(self.instance_types[0])
        return found.accelerator if found else None

    def instance_type_problem(self) -> str | None:
        """Also: whole NVIDIA GPUs of one model and count, of a family the NVIDIA AMI supports."""
        problem = gpu_pool_problem(self.instance_types, self.ami_type)
        if problem:
            return problem
        other = [t for t in self.instance_types if t.split(".")[0] not in GPU_FAMILIES]
        if other:
            return f"{other} are not of a GPU family the EKS AL2023 NVIDIA AMI supports ({', '.join(GPU_FAMILIES)})"
        return None

    @model_validator(mode="after")
    def _check_gpus(self) -> GpuNodeGroupSettings:
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
