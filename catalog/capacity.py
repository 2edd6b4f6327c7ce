"""How many user servers fit: on one node of a pool, in one zone at the pool's maximum, in all zones.

Pure and offline, on the catalog's figures (`allocatable`: what nodeadm leaves pods of a type; `max_pods`: the
ENI-based pod limit nodeadm gives the kubelet), the DaemonSets' requests and pod count on the pool's nodes
(data/eks/daemonset-requests.json) and a server's guarantees (what KubeSpawner requests). The settings
(settings/capacity.py) and the plan's table (offline_plan/capacity.py) read these; nothing recomputes them.

Every limit is counted as the scheduler does: a server fits where its request fits beside the DaemonSets'
requests, and the kubelet admits at most `max_pods` pods (DaemonSet pods count). A pool that lists several
instance types is counted at the type that holds the fewest servers: cluster-autoscaler may start any of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from catalog.instance_types import FALLBACK_MAX_PODS, allocatable, lookup, mebibytes, millicores

# What bounds the servers of one node, in the words the table prints.
CPU, MEMORY, PODS, GPUS = "CPU", "memory", "pods per node (ENI-based max pods)", "GPUs"


@dataclass(frozen=True)
class DaemonSetLoad:
    """What the DaemonSets take on each node of a pool: requests and pods."""

    cpu: str
    memory: str
    pods: int


@dataclass(frozen=True)
class NodeFit:
    """Servers of one size on one node of a type, and which of the node's resources runs out first."""

    instance_type: str
    servers: int
    binding: str
    """CPU, MEMORY, PODS or GPUS: the resource with the fewest servers (several joined by "and" when they tie)."""
    by_resource: dict[str, int]
    """Servers each resource alone would hold."""

    def describe(self) -> str:
        return f"{self.servers} per {self.instance_type} ({self.binding} binds)"


def node_fit(
    instance_type: str,
    cpu_guarantee: str | int | float,
    memory_guarantee: str | int | float,
    daemonsets: DaemonSetLoad,
    gpus: int = 0,
    gpus_per_node: int = 0,
) -> NodeFit:
    """Servers guaranteed this CPU and memory (and `gpus` of the node's `gpus_per_node` advertised GPUs) on one
    node of `instance_type`. Raises KeyError for a type not in the catalog."""
    instance = lookup(instance_type)
    if instance is None:
        raise KeyError(instance_type)
    free_cpu, free_mib = allocatable(instance)
    free_cpu -= millicores(daemonsets.cpu)
    free_mib_left = free_mib - mebibytes(daemonsets.memory)
    want_cpu, want_mib = millicores(cpu_guarantee), mebibytes(memory_guarantee)
    max_pods = instance.max_pods if instance.max_pods is not None else FALLBACK_MAX_PODS
    by_resource = {
        CPU: max(free_cpu, 0) // want_cpu if want_cpu else max_pods,
        MEMORY: math.floor(max(free_mib_left, 0) / want_mib) if want_mib else max_pods,
        PODS: max(max_pods - daemonsets.pods, 0),
    }
    if gpus:
        by_resource[GPUS] = gpus_per_node // gpus
    fewest = min(by_resource.values())
    binding = " and ".join(resource for resource, servers in by_resource.items() if servers == fewest)
    return NodeFit(instance.name, int(fewest), binding, {k: int(v) for k, v in by_resource.items()})


def pool_fit(
    instance_types: Sequence[str],
    cpu_guarantee: str | int | float,
    memory_guarantee: str | int | float,
    daemonsets: DaemonSetLoad,
    gpus: int = 0,
    gpus_per_node: int = 0,
) -> NodeFit:
    """`node_fit` at the pool's type that holds the fewest servers (types not in the catalog are skipped; the
    settings refuse them)."""
    fits = [
        node_fit(name, cpu_guarantee, memory_guarantee, daemonsets, gpus, gpus_per_node)
        for name in instance_types
        if lookup(name) is not None
    ]
    if not fits:
        raise KeyError(", ".join(instance_types))
    return min(fits, key=lambda fit: (fit.servers, fit.instance_type))


def nodes_for(servers: int, servers_per_node: int, zones: int) -> int:
    """Nodes that `servers` need when they are spread evenly over `zones` (each user's home volume holds them in
    one zone, so every zone with users starts its own nodes)."""
    if servers <= 0 or servers_per_node <= 0:
        return 0
    busy_zones = min(zones, servers)
    per_zone = math.ceil(servers / busy_zones)
    return busy_zones * math.ceil(per_zone / servers_per_node)
