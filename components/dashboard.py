"""The operations dashboard: is the hub healthy and used. A CloudWatch dashboard over the signals the
stack already produces: Container Insights (the amazon-cloudwatch-observability add-on, enhanced
observability), the security alarms' log metrics, the user bucket's request metrics, the EventBridge
rules' AWS/Events metrics (GuardDuty publishes none of its own) and the alarms themselves.

Metric names and dimension sets are the CloudWatch agent's (translator/translate/otel/exporter/
awsemf/kubernetes.go): a Deployment's pods report PodName = the Deployment's name (`hub`, `proxy`);
KubeSpawner's user pods have no owner, so each reports its own name (`jupyter-<user>`), which a
SEARCH expression sums. Pod metrics have no {Namespace, ClusterName} set, hence the SEARCH. Nodes
carry no node-group dimension: the user and GPU node counts come from the Container Insights
performance log's Node events, by the Auto Scaling group EKS names after each node group
(`eks-<node group name>-<uuid>`, our names start with the pool)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import (
    BUCKET_METRICS_FILTER_ID,
    HUB_LOGIN_FAILURES_METRIC,
    KUBERNETES_AUTH_FAILURES_METRIC,
    METRIC_NAMESPACE,
)

USER_POD_NAME_TOKEN = "jupyter"
"""KubeSpawner's pod names are `jupyter-<user>` (components/jupyterhub_values.py)."""
WIDTH, HEIGHT = 12, 6


@dataclass(frozen=True)
class DashboardSources:
    region: str
    cluster_name: str
    namespace: str
    bucket_name: str
    performance_log_group: str
    alarm_arns: Sequence[str]
    event_rules: Sequence[tuple[str, str]]
    """(label, rule name) of the EventBridge rules whose matches are shown (GuardDuty findings, ...)."""
    node_pools: Sequence[str]
    """The node pools whose node count is shown (`user`, `gpu`)."""
    anomaly_band: float
    extra_widgets: Sequence[dict[str, Any]] = ()
    """Widgets of optional parts (Dask Gateway's), before the alarm states."""
    home_usage_query: str | None = None
    """Metrics Insights query of the fullest homes (components/home_usage_alarm.py); None: no widget."""


def _pod_search(metric: str, sources: DashboardSources) -> str:
    # 'Maximum' per pod, not 'Sum': a Pending pod on a node is reported twice in the same metric
    # (its node's agent and the leader, see "Pending spawns" below).
    return (
        f'SUM(SEARCH(\'{{ContainerInsights,ClusterName,Namespace,PodName}} MetricName="{metric}" '
        f'ClusterName="{sources.cluster_name}" Namespace="{sources.namespace}" PodName={USER_POD_NAME_TOKEN}\', '
        "'Maximum', 60))"
    )


def node_count_query(log_group: str, pool: str) -> str:
    """Logs Insights: distinct nodes of the pool's Auto Scaling groups, per 5 minutes."""
    return (
        f"SOURCE '{log_group}' | filter Type = \"Node\" and AutoScalingGroupName like /^eks-{pool}-/ "
        f"| stats count_distinct(NodeName) as {pool}_nodes by bin(5m)"
    )


def widgets(sources: DashboardSources) -> list[dict[str, Any]]:
    """The widgets, in reading order (the plan lists their titles)."""
    region = sources.region
    hub_pods = {"ClusterName": sources.cluster_name, "Namespace": sources.namespace}

    def metric(title: str, metrics: list[list[Any]], **extra: Any) -> dict[str, Any]:
        return {
            "type": "metric",
            "properties": {"title": title, "region": region, "view": "timeSeries", "metrics": metrics, **extra},
        }

    def dims(values: dict[str, str]) -> list[str]:
        return [part for key, value in values.items() for part in (key, value)]

    # The request metrics configuration's name is the FilterId dimension (components/alarms.py).
    bucket = dims({"BucketName": sources.bucket_name, "FilterId": BUCKET_METRICS_FILTER_ID})
    found: list[dict[str, Any]] = [
        metric(
            "Running user servers",
            [[{"expression": _pod_search("pod_status_running", sources), "id": "running", "label": "running"}]],
            period=60,
        ),
        # Pods waiting for a node count too (scale from zero, the usual case): node agents report
        # only the pods their kubelet runs, but the agent holding the leader lease reports every
        # Pending pod from the API server under the same metric and dimensions (the receiver's
        # k8sapiserver.go getPendingPodStatusMetrics, amazon-contributing/opentelemetry-collector-
        # contrib#139, 2023-11). tests/container_insights.py models both; docs/operations-dashboard.md.
        metric(
            "Pending spawns",
            [[{"expression": _pod_search("pod_status_pending", sources), "id": "pending", "label": "pending"}]],
            period=60,
        ),
        *(
            {
                "type": "log",
                "properties": {
                    "title": f"{pool.upper() if pool == 'gpu' else pool.capitalize()} nodes",
                    "region": region,
                    "view": "timeSeries",
                    "query": node_count_query(sources.performance_log_group, pool),
                },
            }
            for pool in sources.node_pools
        ),
        metric(
            "Hub and proxy restarts",
            [
                [
                    "ContainerInsights",
                    "pod_number_of_container_restarts",
                    *dims({"PodName": pod, **hub_pods}),
                    {"stat": "Sum", "label": pod},
                ]
                for pod in ("hub", "proxy")
            ],
            period=300,
        ),
        metric(
            "Failed logins",
            [
                [METRIC_NAMESPACE, HUB_LOGIN_FAILURES_METRIC, {"stat": "Sum", "label": "hub logins refused"}],
                [METRIC_NAMESPACE, KUBERNETES_AUTH_FAILURES_METRIC, {"stat": "Sum", "label": "Kubernetes API"}],
            ],
            period=300,
        ),
        metric(
            "User bucket requests (and expected band)",
            [
                ["AWS/S3", "AllRequests", *bucket, {"id": "requests", "stat": "Sum"}],
                [
                    {
                        "expression": f"ANOMALY_DETECTION_BAND(requests, {sources.anomaly_band:g})",
                        "id": "band",
                        "label": "expected",
                    }
                ],
                ["AWS/S3", "4xxErrors", *bucket, {"id": "refused", "stat": "Sum"}],
            ],
            period=300,
        ),
        metric(
            "GuardDuty findings and security events",
            [
                ["AWS/Events", "TriggeredRules", "RuleName", rule, {"stat": "Sum", "label": label}]
                for label, rule in sources.event_rules
            ],
            period=300,
        ),
        *sources.extra_widgets,
        *(
            [
                metric(
                    "Fullest homes (% used)",
                    [[{"expression": sources.home_usage_query, "id": "homes", "label": ""}]],
                    period=300,
                    view="bar",
                    yAxis={"left": {"min": 0, "max": 100}},
                )
            ]
            if sources.home_usage_query
            else []
        ),
        {
            "type": "alarm",
            "properties": {
                "title": "Alarm states",
                "alarms": list(sources.alarm_arns),
                "sortBy": "stateUpdatedTimestamp",
            },
        },
    ]
    for index, widget in enumerate(found):
        widget.update(x=(index % 2) * WIDTH, y=(index // 2) * HEIGHT, width=WIDTH, height=HEIGHT)
    return found


def dashboard_url(region: str, name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


@dataclass(frozen=True)
class OperationsDashboardArgs:
    dashboard_name: str
    region: str
    cluster_name: str
    namespace: str
    bucket_name: pulumi.Input[str]
    performance_log_group: str
    alarm_arns: pulumi.Input[Sequence[str]]
    event_rules: Sequence[tuple[str, pulumi.Input[str]]]
    node_pools: Sequence[str]
    anomaly_band: float
    extra_widgets: Sequence[dict[str, Any]] = ()
    home_usage_query: str | None = None


class OperationsDashboard(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: OperationsDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:OperationsDashboard", name, None, opts)
        labels = [label for label, _ in args.event_rules]
        body = pulumi.Output.all(
            args.bucket_name, pulumi.Output.from_input(args.alarm_arns), *(rule for _, rule in args.event_rules)
        ).apply(
            lambda v: json.dumps(
                {
                    "widgets": widgets(
                        DashboardSources(
                            region=args.region,
                            cluster_name=args.cluster_name,
                            namespace=args.namespace,
                            bucket_name=v[0],
                            performance_log_group=args.performance_log_group,
                            alarm_arns=v[1],
                            event_rules=list(zip(labels, v[2:], strict=True)),
                            node_pools=args.node_pools,
                            anomaly_band=args.anomaly_band,
                            extra_widgets=args.extra_widgets,
                            home_usage_query=args.home_usage_query,
                        )
                    )
                }
            )
        )
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-operations",
            dashboard_name=args.dashboard_name,
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.url = dashboard.dashboard_name.apply(lambda n: dashboard_url(args.region, n))
        self.register_outputs({"url": self.url})
