"""Warm capacity: user placeholders in each zone, so the first users of the day start on a node that is up.

The chart's own placeholders (scheduling.userPlaceholder) are one StatefulSet, and the scheduler spreads pods only
over zones that have a node already (Kubernetes "Pod Topology Spread Constraints", known limitations: domains are
learnt from existing nodes, a problem when a node group is scaled to zero). A user's home volume pins their
server to one zone, so room in another zone does not help them. Hence one StatefulSet per zone, each the chart's
placeholder pod (its priority class, below every server's, so a real server evicts it at once; the user
scheduler; the user nodes' tolerations and affinity; the chart's security context) with a required zone, and
requests of the default profile's guarantees. The chart's StatefulSet stays at 0 replicas: its PriorityClass is
the one these pods use.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalog.instance_types import millicores
from components.jupyterhub_values import USER_TOLERATIONS
from components.pause_image import PAUSE_IMAGE

PLACEHOLDER_IMAGE = PAUSE_IMAGE
ZONE_LABEL = "topology.kubernetes.io/zone"
# The chart's user affinity (scheduling.userPods.nodeAffinity.matchNodePurpose: require).
NODE_PURPOSE_LABEL = "hub.jupyter.org/node-purpose"
PLACEHOLDER_ZONE_LABEL = "hub.jupyter.org/placeholder-zone"
# The chart's values.yaml scheduling.userPlaceholder.containerSecurityContext (nobody, Pod Security restricted),
# and a read-only root filesystem: pause writes nothing.
PLACEHOLDER_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
    "readOnlyRootFilesystem": True,
}


@dataclass(frozen=True)
class PlaceholderSpec:
    namespace: str
    release: str
    zone: str
    replicas: int
    cpu: float | str
    memory: str


def placeholder_labels(release: str) -> dict[str, str]:
    """The chart's placeholder pod labels (jupyterhub.matchLabelsLegacyAndModern): the namespace's NetworkPolicies
    and the contract in data/pods/contract.yaml select on them."""
    return {
        "component": "user-placeholder",
        "app": "jupyterhub",
        "release": release,
        "app.kubernetes.io/component": "user-placeholder",
        "app.kubernetes.io/name": "jupyterhub",
        "app.kubernetes.io/instance": release,
    }


def placeholder_statefulset(spec: PlaceholderSpec) -> dict[str, Any]:
    """The StatefulSet of one zone's placeholders, as a Kubernetes object."""
    labels = {**placeholder_labels(spec.release), PLACEHOLDER_ZONE_LABEL: spec.zone}
    name = f"user-placeholder-{spec.zone}"
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": spec.namespace, "labels": dict(labels)},
        "spec": {
            "podManagementPolicy": "Parallel",
            "replicas": spec.replicas,
            "serviceName": name,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "priorityClassName": f"{spec.release}-user-placeholder-priority",
                    "schedulerName": f"{spec.release}-user-scheduler",
                    "tolerations": copy.deepcopy(USER_TOLERATIONS),
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {"key": NODE_PURPOSE_LABEL, "operator": "In", "values": ["user"]},
                                            {"key": ZONE_LABEL, "operator": "In", "values": [spec.zone]},
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    "terminationGracePeriodSeconds": 0,
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "pause",
                            "image": PLACEHOLDER_IMAGE,
                            # Limits equal to the requests: pause uses neither, and the room it holds is the
                            # requests (the scheduler's arithmetic); limits only bound the pod.
                            "resources": {
                                "requests": {"cpu": f"{millicores(spec.cpu)}m", "memory": spec.memory},
                                "limits": {"cpu": f"{millicores(spec.cpu)}m", "memory": spec.memory},
                            },
                            "securityContext": copy.deepcopy(PLACEHOLDER_SECURITY_CONTEXT),
                        }
                    ],
                },
            },
        },
    }


@dataclass(frozen=True)
class WarmCapacityArgs:
    namespace: str
    release: str
    zones: list[str]
    servers_per_zone: int
    cpu: float | str
    memory: str
    provider: k8s.Provider
    depends_on: list[pulumi.Resource]
    """The JupyterHub release: its PriorityClass and user-scheduler."""


class WarmCapacity(pulumi.ComponentResource):
    def __init__(self, name: str, args: WarmCapacityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:k8s:WarmCapacity", name, None, opts)
        options = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.depends_on)
        for zone in args.zones:
            manifest = placeholder_statefulset(
                PlaceholderSpec(args.namespace, args.release, zone, args.servers_per_zone, args.cpu, args.memory)
            )
            k8s.apps.v1.StatefulSet(
                f"{name}-placeholder-{zone}", metadata=manifest["metadata"], spec=manifest["spec"], opts=options
            )
        self.register_outputs({})
