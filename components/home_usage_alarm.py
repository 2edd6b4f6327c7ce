"""An alarm when a user's home is nearly full, and the metric it watches.

Container Insights publishes no metric of a claim's used space, in either mode of the add-on
(data/container_insights/volume-metrics.json: the agent's claim metrics are the claim's phase; the OTel
mode's kubelet receiver runs without its volume group). So the stack publishes its own, with the least
rights that can read it: a CronJob in the hub's namespace (components/home_usage_job.py) that may only
`list nodes` and `get nodes/stats`, reads each kubelet's Summary API directly, and prints one JSON line per
running server's home. No AWS credentials: the add-on's Fluent Bit already ships container output to the
application log group, parsed into `log_processed` next to the `kubernetes` metadata it adds, and a metric
filter there turns each line into HomeUsedPercent{ClusterName, PersistentVolumeClaim}. The alarm is a
Metrics Insights query, the largest value over every home of the cluster, so a new user's home is covered
without a new alarm; the dashboard lists the fullest homes with the same query grouped by claim.

Not `nodes/proxy`: reading the Summary API through the API server needs it, and it also opens a kubelet's
exec, attach and port-forward (Kubernetes, "Kubelet authentication/authorization": /stats/* is the `stats`
subresource, every other path `proxy`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.kube_objects import declare_manifest
from components.network_policies import KUBERNETES_API_CLUSTER_IP

METRIC_NAMESPACE = "JupyterHubEKS/Homes"
METRIC_NAME = "HomeUsedPercent"
RUNS_METRIC_NAME = "HomeUsageJobRuns"
"""1 per run of the job that read every node: a silence alarm fires when it stops (nothing else would show that
homes are no longer watched)."""
SILENCE_PERIODS = 3
CLUSTER_DIMENSION, CLAIM_DIMENSION = "ClusterName", "PersistentVolumeClaim"
NAME = "home-usage"
"""The CronJob, its container, ServiceAccount and ClusterRole (the metric filter selects on the container)."""
SCHEDULE = "*/5 * * * *"
PERIOD_SECONDS = 300
KUBELET_PORT = 10250
# The hub image (components/jupyterhub_values.py HUB_SLIM_IMAGE at the chart's version): already on the core
# nodes, with a Python 3 the job's standard-library script runs on.
JOB_SCRIPT = Path(__file__).with_name("home_usage_job.py")
SCRIPT_MOUNT = "/opt/home-usage"
CORE_NODES = {"hub.jupyter.org/node-purpose": "core"}


def metric_filter_pattern(hub_namespace: str) -> str:
    """The job's lines, and only them: Fluent Bit's metadata names the container, which users cannot set."""
    return (
        f'{{ $.kubernetes.namespace_name = "{hub_namespace}" && $.kubernetes.container_name = "{NAME}" '
        "&& $.log_processed.usedPercent >= 0 }"
    )


METRIC_VALUE = "$.log_processed.usedPercent"
METRIC_DIMENSIONS = {CLUSTER_DIMENSION: "$.log_processed.cluster", CLAIM_DIMENSION: "$.log_processed.claim"}


def runs_filter_pattern(hub_namespace: str) -> str:
    """The job's last line of a run that read every node."""
    return (
        f'{{ $.kubernetes.namespace_name = "{hub_namespace}" && $.kubernetes.container_name = "{NAME}" '
        "&& $.log_processed.nodesFailed = 0 }"
    )


def _schema(cluster_name: str) -> str:
    return (
        f'FROM SCHEMA("{METRIC_NAMESPACE}", {CLUSTER_DIMENSION}, {CLAIM_DIMENSION}) '
        f"WHERE {CLUSTER_DIMENSION} = '{cluster_name}'"
    )


def fullest_home_query(cluster_name: str) -> str:
    """Metrics Insights: the fullest home of the cluster, one series (what the alarm compares)."""
    return f"SELECT MAX({METRIC_NAME}) {_schema(cluster_name)}"


def fullest_homes_query(cluster_name: str, limit: int = 10) -> str:
    """Metrics Insights: the `limit` fullest homes, one series per claim (the dashboard's widget)."""
    return (
        f"SELECT MAX({METRIC_NAME}) {_schema(cluster_name)} "
        f"GROUP BY {CLAIM_DIMENSION} ORDER BY MAX() DESC LIMIT {limit}"
    )


def job_manifests(hub_namespace: str, cluster_name: str, image: str, vpc_cidr: str) -> list[dict[str, Any]]:
    """The job's Kubernetes objects (plain manifests: the tests read them as the API server would)."""
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "home-usage"}
    meta = {"name": NAME, "namespace": hub_namespace, "labels": labels}
    security = {
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pod = {
        "metadata": {"labels": labels},
        "spec": {
            "serviceAccountName": NAME,
            "restartPolicy": "Never",
            "nodeSelector": CORE_NODES,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "runAsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": NAME,
                    "image": image,
                    "command": ["python3", f"{SCRIPT_MOUNT}/{JOB_SCRIPT.name}"],
                    "env": [
                        {"name": "HUB_NAMESPACE", "value": hub_namespace},
                        {"name": "CLUSTER_NAME", "value": cluster_name},
                    ],
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"cpu": "200m", "memory": "128Mi"},
                    },
                    "securityContext": security,
                    "volumeMounts": [{"name": "script", "mountPath": SCRIPT_MOUNT, "readOnly": True}],
                }
            ],
            "volumes": [{"name": "script", "configMap": {"name": NAME}}],
        },
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{hub_namespace}-{NAME}", "labels": labels},
            "rules": [
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
                {"apiGroups": [""], "resources": ["nodes/stats"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{hub_namespace}-{NAME}", "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"{hub_namespace}-{NAME}",
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": hub_namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {JOB_SCRIPT.name: JOB_SCRIPT.read_text()},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {**meta, "name": f"{NAME}-egress"},
            "spec": {
                "podSelector": {"matchLabels": labels},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": [
                    # The API server through the `kubernetes` Service's ClusterIP (components/network_policies.py).
                    {
                        "to": [{"ipBlock": {"cidr": f"{KUBERNETES_API_CLUSTER_IP}/32"}}],
                        "ports": [{"port": 443, "protocol": "TCP"}],
                    },
                    # The kubelets, on the nodes' addresses in the VPC.
                    {"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": [{"port": KUBELET_PORT, "protocol": "TCP"}]},
                ],
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta,
            "spec": {
                "schedule": SCHEDULE,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 1,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 0, "activeDeadlineSeconds": 240, "template": pod}},
            },
        },
    ]


def _after(ready: pulumi.Output[str], value: str) -> pulumi.Output[str]:
    """`value` once `ready` resolves (so the object waits for what `ready` comes from)."""
    return ready.apply(lambda _: value)


@dataclass(frozen=True)
class HomeUsageAlarmArgs:
    cluster_name: str
    hub_namespace: pulumi.Input[str]
    hub_namespace_name: str
    """The namespace's name as the settings give it (the manifests and the filter pattern are built from it)."""
    image: str
    vpc_cidr: str
    application_log_group: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]
    percent: int
    provider: k8s.Provider
    lockdown: bool = False
    """The incident lockdown (incident.lockdown): the hub namespace gets no traffic, so the job is suspended, its
    policy withdrawn and the silence alarm quiet until the namespace reopens."""
    tags: dict[str, str] | None = None


class HomeUsageAlarm(pulumi.ComponentResource):
    alarm_arns: pulumi.Output[list[str]]
    """The nearly-full alarm and the silence alarm."""

    def __init__(self, name: str, args: HomeUsageAlarmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:HomeUsageAlarm", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kube = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace_ready = pulumi.Output.from_input(args.hub_namespace)
        before: list[pulumi.Resource] = []
        for manifest in job_manifests(args.hub_namespace_name, args.cluster_name, args.image, args.vpc_cidr):
            kind, key = manifest["kind"], f"{name}-home-usage-{manifest['kind'].lower()}"
            # Any: the manifests are plain dicts (checking them against every overload's TypedDicts costs mypy GBs).
            metadata: Any = dict(manifest["metadata"])
            if "namespace" in metadata:  # after the namespace exists
                metadata["namespace"] = _after(namespace_ready, metadata["namespace"])
            if kind == "CronJob":
                # Last: under strict enforcement a pod started before its policy never gets traffic.
                declare_manifest(
                    key,
                    {**manifest, "metadata": metadata, "spec": {**manifest["spec"], "suspend": args.lockdown}},
                    pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=before)),
                )
            elif kind != "NetworkPolicy" or not args.lockdown:
                before.append(declare_manifest(key, {**manifest, "metadata": metadata}, kube))
        aws.cloudwatch.LogMetricFilter(
            f"{name}-home-usage",
            log_group_name=args.application_log_group,
            pattern=metric_filter_pattern(args.hub_namespace_name),
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=METRIC_NAME,
                namespace=METRIC_NAMESPACE,
                value=METRIC_VALUE,
                dimensions=METRIC_DIMENSIONS,
                unit="Percent",
            ),
            opts=child,
        )
        notify = [args.alert_topic_arn]
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-home-usage",
            alarm_description=(
                f"A user's home is at least {args.percent}% full (HomeUsedPercent, the fullest home of "
                f"{args.cluster_name}; the dashboard's 'Fullest homes' names it; docs/storage.md)"
            ),
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=args.percent,
            evaluation_periods=1,
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="fullest",
                    expression=fullest_home_query(args.cluster_name),
                    period=PERIOD_SECONDS,
                    label="fullest home (%)",
                    return_data=True,
                )
            ],
            # No server running, or the job not reporting, is not a full home (the job's own failures
            # show as failed Jobs in the hub's namespace).
            treat_missing_data="notBreaching",
            alarm_actions=notify,
            ok_actions=notify,
            tags=args.tags or {},
            opts=child,
        )
        aws.cloudwatch.LogMetricFilter(
            f"{name}-home-usage-runs",
            log_group_name=args.application_log_group,
            pattern=runs_filter_pattern(args.hub_namespace_name),
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=RUNS_METRIC_NAME,
                namespace=METRIC_NAMESPACE,
                value="1",
                dimensions={CLUSTER_DIMENSION: "$.log_processed.cluster"},
            ),
            opts=child,
        )
        silence = aws.cloudwatch.MetricAlarm(
            f"{name}-home-usage-silent",
            alarm_description=(
                f"The home usage job of {args.cluster_name} has not read every node for "
                f"{SILENCE_PERIODS * PERIOD_SECONDS // 60} minutes: homes are not watched (its failed Jobs in the "
                "hub's namespace say why; docs/storage.md)"
            ),
            namespace=METRIC_NAMESPACE,
            metric_name=RUNS_METRIC_NAME,
            dimensions={CLUSTER_DIMENSION: args.cluster_name},
            statistic="Sum",
            period=PERIOD_SECONDS,
            evaluation_periods=SILENCE_PERIODS,
            threshold=1,
            comparison_operator="LessThanThreshold",
            # No run is the failure this alarm is for.
            treat_missing_data="breaching",
            actions_enabled=not args.lockdown,
            alarm_actions=notify,
            ok_actions=notify,
            tags=args.tags or {},
            opts=child,
        )
        self.alarm_arns = pulumi.Output.all(alarm.arn, silence.arn)
        self.register_outputs({"alarm_arns": self.alarm_arns})
