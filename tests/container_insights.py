"""A pod's status as Container Insights publishes it (the CloudWatch agent of the
amazon-cloudwatch-observability add-on, with enhanced observability: the add-on's default agent
configuration, which the program keeps), and a dashboard SEARCH over what was published: a model
for tests, from the agent's sources.

Who reports a pod (awscontainerinsightreceiver in amazon-contributing/opentelemetry-collector-contrib):
- Each node's agent, for the pods its own kubelet runs: it lists pods from the local kubelet and
  decorates each pod's cAdvisor metric with `pod_status_{pending,running,succeeded,failed}` (1 for the
  pod's phase, 0 for the others) and the per-container states, summed to the pod as
  `pod_container_status_{running,waiting,terminated}` (internal/stores/podstore.go: NewPodStore's
  kubelet client, Decorate, addStatus, addPodStatusMetrics). A pod that no node runs yet is in no
  kubelet's list and has no cAdvisor metric: no node agent reports it.
- The agent holding the leader lease, for every Pending pod of the cluster, node or no node: it
  watches all pods through the API server and publishes the same `pod_status_*` fields for each
  Pending one (internal/k8sapiserver/k8sapiserver.go, getPendingPodStatusMetrics: "Given Pending
  pods do not have a node allocated to them, we need to fetch their details from the K8s API Server
  here"; added 2023-11-09, amazon-contributing/opentelemetry-collector-contrib#139, with enhanced
  observability). Only pod status fields: no container states.
- Both name the pod's PodName after its controller (a ReplicaSet's Deployment, a DaemonSet, a Job)
  or, without one, the pod's own name, next to Namespace and ClusterName (podstore.go
  addPodOwnersAndPodName; k8sapiserver.go getKubernetesBlob).

How it becomes CloudWatch metrics: the agent's EMF exporter publishes these pod metrics under the
dimension sets [PodName, Namespace, ClusterName] and [ClusterName] (and two that need labels not
modelled here, FullPodName and Service) (amazon-cloudwatch-agent translator/translate/otel/exporter/
awsemf/kubernetes.go, getPodMetricDeclarations with enhanced_container_insights). A CloudWatch metric
is its name and dimension set, so the leader's and a node agent's points for one pod fall into one
metric, and a statistic over the period combines them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

NAMESPACE = "ContainerInsights"
PHASE_METRICS = {
    "Pending": "pod_status_pending",
    "Running": "pod_status_running",
    "Succeeded": "pod_status_succeeded",
    "Failed": "pod_status_failed",
}
CONTAINER_STATE_METRICS = ("pod_container_status_running", "pod_container_status_waiting")
POD_DIMENSION_SETS = (("PodName", "Namespace", "ClusterName"), ("ClusterName",))


@dataclass(frozen=True)
class PodState:
    manifest: dict[str, Any]
    """The pod as its creator made it (name, namespace, owner references)."""
    phase: str
    node: str | None
    """The node it is bound to; None while it waits for one (e.g. for the autoscaler's new node)."""


def pod_name_dimension(manifest: dict[str, Any]) -> str:
    """PodName as the agent derives it: the controller's name, or the pod's own without one."""
    for owner in manifest["metadata"].get("ownerReferences") or []:
        if owner["kind"] == "ReplicaSet":  # parseDeploymentFromReplicaSet: drop the template hash
            return str(owner["name"]).rsplit("-", 1)[0]
        if owner["kind"] in ("DaemonSet", "Job", "ReplicationController"):
            return str(owner["name"])
        if owner["kind"] == "StatefulSet":
            break
    return str(manifest["metadata"]["name"])


def published_points(
    pods: list[PodState], cluster_name: str, *, leader_reports_pending: bool = True
) -> dict[tuple[str, frozenset[tuple[str, str]]], list[float]]:
    """The data points of one collection interval, by metric (name, dimensions).
    `leader_reports_pending=False` is the agent before #139: node agents only."""
    points: dict[tuple[str, frozenset[tuple[str, str]]], list[float]] = defaultdict(list)

    def publish(pod: PodState, fields: dict[str, float]) -> None:
        labels = {
            "ClusterName": cluster_name,
            "Namespace": pod.manifest["metadata"]["namespace"],
            "PodName": pod_name_dimension(pod.manifest),
        }
        for name, value in fields.items():
            for dimension_set in POD_DIMENSION_SETS:
                points[(name, frozenset((d, labels[d]) for d in dimension_set))].append(value)

    for pod in pods:
        status = {metric: float(phase == pod.phase) for phase, metric in PHASE_METRICS.items()}
        if pod.node is not None:  # its node's agent (kubelet and cAdvisor of that node)
            containers = {
                "pod_container_status_running": float(pod.phase == "Running"),
                "pod_container_status_waiting": float(pod.phase == "Pending"),  # ContainerCreating, pulling
            }
            publish(pod, {**status, **containers})
        if leader_reports_pending and pod.phase == "Pending":  # the leader, from the API server
            publish(pod, status)
    return points


SEARCH = re.compile(
    r"^SUM\(SEARCH\('\{(?P<schema>[^}]*)\}\s+(?P<terms>[^']*)',\s*'(?P<stat>\w+)',\s*(?P<period>\d+)\)\)$"
)
TERM = re.compile(r'(?P<key>\w+)=(?:"(?P<exact>[^"]*)"|(?P<token>[^\s"]+))')
STATISTICS = {"Maximum": max, "Minimum": min, "Sum": sum}


def evaluate(expression: str, points: dict[tuple[str, frozenset[tuple[str, str]]], list[float]]) -> float:
    """`SUM(SEARCH('{Namespace,Dim,...} Key="exact" Key=token ...', 'Stat', period))` over one period,
    as CloudWatch evaluates it: the schema selects metrics with exactly those dimensions, a quoted
    value must equal the property, an unquoted one must be one of its tokens (split at
    non-alphanumerics); the statistic combines each metric's points, SUM adds the metrics."""
    found = SEARCH.match(expression)
    assert found, f"not a SUM(SEARCH(...)) this model reads: {expression}"
    namespace, *dimensions = [part.strip() for part in found["schema"].split(",")]
    terms = [(t["key"], t["exact"], t["token"]) for t in TERM.finditer(found["terms"])]
    statistic = STATISTICS[found["stat"]]
    total = 0.0
    for (metric, dimension_items), values in points.items():
        if namespace != NAMESPACE or {d for d, _ in dimension_items} != set(dimensions):
            continue
        properties = {"MetricName": metric, **dict(dimension_items)}
        if all(_matches(properties.get(key), exact, token) for key, exact, token in terms):
            total += statistic(values)
    return total


def _matches(value: str | None, exact: str | None, token: str | None) -> bool:
    if value is None:
        return False
    if exact is not None:
        return value == exact
    return token in re.split(r"[^A-Za-z0-9]+", value)
