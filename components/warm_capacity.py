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
from components.kube_objects import declare_manifest
from components.pause_image import CHART_PAUSE_SECURITY_CONTEXT, PAUSE_IMAGE
from components.warm_capacity_schedule import ScheduleSpec, schedule_objects
from settings.capacity import WarmScheduleSettings

PLACEHOLDER_IMAGE = PAUSE_IMAGE
ZONE_LABEL = "topology.kubernetes.io/zone"
# The chart's user affinity (scheduling.userPods.nodeAffinity.matchNodePurpose: require).
NODE_PURPOSE_LABEL = "hub.jupyter.org/node-purpose"
PLACEHOLDER_ZONE_LABEL = "hub.jupyter.org/placeholder-zone"
# pulumi-kubernetes applies server-side without force (provider/pkg/await/await.go patchForce), so an `up` that sets
# replicas the schedule's job owns (its scale patches, field manager warm-capacity-scaler) fails with a field
# conflict. With this annotation Pulumi takes the field back: after the schedule is removed, and on any StatefulSet
# of the program's own that only the job also writes.
PATCH_FORCE_ANNOTATION = {"pulumi.com/patchForce": "true"}
# The chart's values.yaml scheduling.userPlaceholder.containerSecurityContext (nobody, Pod Security restricted).
PLACEHOLDER_SECURITY_CONTEXT: dict[str, Any] = CHART_PAUSE_SECURITY_CONTEXT


@dataclass(frozen=True)
class PlaceholderSpec:
    namespace: str
    release: str
    zone: str
    replicas: int
    cpu: float | str
    memory: str
    scheduled: bool = False
    """The replicas are the schedule's job's (components/warm_capacity_schedule.py): Pulumi leaves them out."""


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


def placeholder_name(zone: str) -> str:
    return f"user-placeholder-{zone}"


def placeholder_statefulset(spec: PlaceholderSpec) -> dict[str, Any]:
    """The StatefulSet of one zone's placeholders, as a Kubernetes object."""
    labels = {**placeholder_labels(spec.release), PLACEHOLDER_ZONE_LABEL: spec.zone}
    name = placeholder_name(spec.zone)
    manifest: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": dict(labels),
            "annotations": dict(PATCH_FORCE_ANNOTATION),
        },
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
                    "securityContext": {
                        key: PLACEHOLDER_SECURITY_CONTEXT[key]
                        for key in ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
                    },
                    "automountServiceAccountToken": False,
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
                            # The chart's, and a read-only root filesystem (pause writes nothing).
                            "securityContext": {**PLACEHOLDER_SECURITY_CONTEXT, "readOnlyRootFilesystem": True},
                        }
                    ],
                },
            },
        },
    }
    if spec.scheduled:
        # Server-side apply: a field Pulumi does not send is not Pulumi's, so `pulumi up` never resets what the
        # schedule's job set (a new StatefulSet starts at the API's default, 1, until the job's next run).
        del manifest["spec"]["replicas"]
    return manifest


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
    schedule: WarmScheduleSettings | None = None
    """Working hours; None: placeholders all the time."""
    scaler_image: str = ""
    """The chart's hub image (hub.image), which the schedule's job runs."""
    vpc_cidr: str = ""
    lockdown: bool = False


class WarmCapacity(pulumi.ComponentResource):
    def __init__(self, name: str, args: WarmCapacityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:k8s:WarmCapacity", name, None, opts)
        options = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.depends_on)
        scheduled = args.schedule is not None
        for zone in args.zones:
            manifest = placeholder_statefulset(
                PlaceholderSpec(
                    args.namespace, args.release, zone, args.servers_per_zone, args.cpu, args.memory, scheduled
                )
            )
            k8s.apps.v1.StatefulSet(
                f"{name}-placeholder-{zone}", metadata=manifest["metadata"], spec=manifest["spec"], opts=options
            )
        if args.schedule is not None:
            schedule = ScheduleSpec(
                namespace=args.namespace,
                statefulsets=[placeholder_name(zone) for zone in args.zones],
                replicas=args.servers_per_zone,
                timezone=args.schedule.timezone,
                days=list(args.schedule.days),
                start_hour=args.schedule.start_hour,
                end_hour=args.schedule.end_hour,
                image=args.scaler_image,
                vpc_cidr=args.vpc_cidr,
                lockdown=args.lockdown,
            )
            # Beside the StatefulSets, not after them: the Role names them, and a run before they exist fails and the
            # next hour's succeeds.
            _declare_schedule(name, schedule_objects(schedule), options)
        self.register_outputs({})


def _declare_schedule(name: str, objects: list[dict[str, Any]], options: pulumi.ResourceOptions) -> None:
    """The schedule's objects as Pulumi resources (`<name>-warm-schedule-<kind>`)."""
    for document in objects:
        declare_manifest(f"{name}-warm-schedule-{document['kind'].lower()}", document, options)
