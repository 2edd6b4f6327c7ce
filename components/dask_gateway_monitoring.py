"""Dask Gateway on the operations dashboard and in the alarms: how many clusters (schedulers) and
workers run, and an alarm when the gateway is down (its api or its traefik has no running pod).

Read with the metric model of components/dashboard.py: Container Insights reports `pod_status_running`
per PodName under {PodName, Namespace, ClusterName}; a Deployment's pods under the Deployment's name
(`api-dask-gateway`, `traefik-dask-gateway`), the controller's bare pods under their own names
(`dask-scheduler-<cluster>`, `dask-worker-<cluster>-<id>`), which a SEARCH on the name's token sums."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.dask_gateway_values import API_SERVICE, TRAEFIK_SERVICE

GATEWAY_DEPLOYMENTS = (API_SERVICE, TRAEFIK_SERVICE)
DOWN_MINUTES = 3


def _running(cluster_name: str, namespace: str, token: str) -> str:
    return (
        f'SUM(SEARCH(\'{{ContainerInsights,ClusterName,Namespace,PodName}} MetricName="pod_status_running" '
        f'ClusterName="{cluster_name}" Namespace="{namespace}" PodName={token}\', \'Maximum\', 60))'
    )


def dask_widgets(region: str, cluster_name: str, namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "metric",
            "properties": {
                "title": "Dask clusters and workers",
                "region": region,
                "view": "timeSeries",
                "period": 60,
                "metrics": [
                    [
                        {
                            "expression": _running(cluster_name, namespace, "dask-scheduler"),
                            "id": "clusters",
                            "label": "clusters",
                        }
                    ],
                    [
                        {
                            "expression": _running(cluster_name, namespace, "dask-worker"),
                            "id": "workers",
                            "label": "workers",
                        }
                    ],
                ],
            },
        }
    ]


@dataclass(frozen=True)
class DaskGatewayAlarmArgs:
    cluster_name: str
    namespace: str
    alert_topic_arn: pulumi.Input[str]
    tags: dict[str, str] | None = None


class DaskGatewayAlarm(pulumi.ComponentResource):
    alarm_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DaskGatewayAlarmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:DaskGatewayAlarm", name, None, opts)
        queries = [
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=f"m{index}",
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace="ContainerInsights",
                    metric_name="pod_status_running",
                    dimensions={"ClusterName": args.cluster_name, "Namespace": args.namespace, "PodName": deployment},
                    period=60,
                    stat="Maximum",
                ),
                return_data=False,
            )
            for index, deployment in enumerate(GATEWAY_DEPLOYMENTS)
        ]
        queries.append(
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="running",
                expression=f"MIN([{', '.join(f'm{index}' for index in range(len(GATEWAY_DEPLOYMENTS)))}])",
                label="running pods of the gateway's api and traefik (the fewer)",
                return_data=True,
            )
        )
        notify = [args.alert_topic_arn]
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-dask-gateway-down",
            alarm_description=(
                f"Dask Gateway is down: {' or '.join(GATEWAY_DEPLOYMENTS)} had no running pod "
                f"for {DOWN_MINUTES} minutes"
            ),
            metric_queries=queries,
            evaluation_periods=DOWN_MINUTES,
            threshold=1,
            comparison_operator="LessThanThreshold",
            # No data: no running pod reported at all (the agent reports a running pod every minute).
            treat_missing_data="breaching",
            alarm_actions=notify,
            ok_actions=notify,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.alarm_arn = alarm.arn
        self.register_outputs({"alarm_arn": self.alarm_arn})
