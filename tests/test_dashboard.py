"""The operations dashboard: the widgets the issue lists, laid out as CloudWatch accepts them, and
each reading the metric, rule, alarm or log group the stack really produces (by name, dimension and
namespace), so no widget stays empty because of a typo."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from components.dashboard import USER_POD_NAME_TOKEN, node_count_query
from components.jupyterhub_values import USER_POD_NAME_TEMPLATE
from offline_plan.mock_engine import Inventory
from tests.conftest import region_of
from tests.container_insights import PodState, evaluate, pod_name_dimension, published_points
from tests.test_jupyterhub import hub_values
from tests.test_user_pods import spawner_config
from tests.user_pods import HubUser, spawn

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")  # PutDashboard's DashboardName


def body(plan: Inventory) -> dict[str, Any]:
    return json.loads(plan.one(DASHBOARD).inputs["dashboardBody"])


def titled(widgets: list[dict[str, Any]], title: str) -> dict[str, Any]:
    return next(w for w in widgets if w["properties"]["title"] == title)


def problems(plan: Inventory, document: dict[str, Any]) -> list[str]:
    """What would leave a widget empty or the dashboard refused, read against the plan."""
    found = []
    widgets = document["widgets"]
    for widget in widgets:
        if widget["x"] + widget["width"] > 24:
            found.append(f"{widget['properties']['title']}: wider than the 24-column grid")
        metrics = widget["properties"].get("metrics", [])
        ids = {m[-1].get("id") for m in metrics if isinstance(m[-1], dict)}
        for entry in metrics:
            expression = entry[0].get("expression", "") if isinstance(entry[0], dict) else ""
            for reference in re.findall(r"\(([a-z]\w*),", expression):
                if reference not in ids:
                    found.append(f"{widget['properties']['title']}: expression refers to unknown id {reference}")
    alarms = {a.arn for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    shown = set(titled(widgets, "Alarm states")["properties"]["alarms"])
    if shown != alarms or len(shown) > 100:
        found.append(f"Alarm states: shows {sorted(shown)}, the stack has {sorted(alarms)}")
    filters = {
        f.inputs["metricTransformation"]["name"] for f in plan.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    }
    namespaces = {
        f.inputs["metricTransformation"]["namespace"]
        for f in plan.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    }
    for namespace, metric, *_ in titled(widgets, "Failed logins")["properties"]["metrics"]:
        if metric not in filters or namespace not in namespaces:
            found.append(f"Failed logins: {namespace}/{metric} is no metric filter's")
    bucket = plan.one("aws:s3/bucket:Bucket", "user-data").id
    configuration = plan.one("aws:s3/bucketMetric:BucketMetric").inputs["name"]
    for entry in titled(widgets, "User bucket requests (and expected band)")["properties"]["metrics"]:
        if isinstance(entry[0], str) and entry[2:6] != ["BucketName", bucket, "FilterId", configuration]:
            found.append(f"User bucket: dimensions {entry[2:6]} are not the bucket's request metrics")
    rules = {r.outputs.get("name", r.name) for r in plan.of_type("aws:cloudwatch/eventRule:EventRule")}
    for entry in titled(widgets, "GuardDuty findings and security events")["properties"]["metrics"]:
        if entry[3] not in rules:
            found.append(f"events: {entry[3]} is no rule of the stack")
    namespace = (
        hub_values(plan).get("namespace")
        or plan.one("kubernetes:core/v1:Namespace", "-namespace").inputs["metadata"]["name"]
    )
    for title in ("Running user servers", "Pending spawns"):
        expression = titled(widgets, title)["properties"]["metrics"][0][0]["expression"]
        if f'Namespace="{namespace}"' not in expression:
            found.append(f"{title}: not the hub's namespace {namespace}")
    return found


def test_every_stack_has_the_widgets_the_issue_lists(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        titles = [w["properties"]["title"] for w in body(plan)["widgets"]]
        gpu = bool(
            [g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if g.inputs["labels"]["node-purpose"] == "gpu"]
        )
        assert titles == [
            "Running user servers",
            "Pending spawns",
            "User nodes",
            *(["GPU nodes"] if gpu else []),
            "Hub and proxy restarts",
            "Failed logins",
            "User bucket requests (and expected band)",
            "GuardDuty findings and security events",
            *(["Dask clusters and workers"] if plan.stack == "prod" else []),  # daskGateway.enabled
            "Fullest homes (% used)",
            "Alarm states",
        ]
        name = plan.one(DASHBOARD).inputs["dashboardName"]
        assert NAME.match(name)
        assert plan.outputs["dashboard_url"].endswith(f"#dashboards/dashboard/{name}")
        assert f"region={region_of(plan)}" in plan.outputs["dashboard_url"]


def test_each_widget_reads_what_the_stack_produces(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        assert problems(plan, body(plan)) == [], plan.stack


@pytest.mark.parametrize(
    "mutation",
    [
        lambda b: b["widgets"][-1]["properties"]["alarms"].pop(),
        lambda b: titled(b["widgets"], "Failed logins")["properties"]["metrics"][0].__setitem__(1, "HubLoginFailure"),
        lambda b: titled(b["widgets"], "User bucket requests (and expected band)")["properties"]["metrics"][
            0
        ].__setitem__(5, "WholeBucket"),
        lambda b: titled(b["widgets"], "User bucket requests (and expected band)")["properties"]["metrics"][1][
            0
        ].update(expression="ANOMALY_DETECTION_BAND(m1, 2)"),
        lambda b: titled(b["widgets"], "GuardDuty findings and security events")["properties"]["metrics"][
            0
        ].__setitem__(3, "guardduty-findings"),
        lambda b: b["widgets"][0].update(x=18),
    ],
    ids=["alarm missing", "metric name typo", "wrong FilterId", "unknown id", "wrong rule", "off the grid"],
)
def test_the_check_finds_a_planted_problem(plans: dict[str, Inventory], mutation: Any) -> None:
    plan = plans["prod"]
    document = copy.deepcopy(body(plan))
    mutation(document)
    assert problems(plan, document)


def test_user_pods_are_what_the_search_counts() -> None:
    # KubeSpawner names each server's pod from this template; SEARCH matches its `jupyter` token.
    assert USER_POD_NAME_TEMPLATE.startswith(f"{USER_POD_NAME_TOKEN}-")


def test_node_counts_follow_the_auto_scaling_group_names_eks_gives(plans: dict[str, Inventory]) -> None:
    """EKS names a node group's Auto Scaling group eks-<node group name>-<uuid>; the node group's
    name is our prefix plus Pulumi's random suffix."""
    plan = plans["prod"]
    for pool in ("user", "gpu", "core"):
        pattern = re.search(r"like /(.+?)/", node_count_query("/aws/x", pool))
        assert pattern is not None
        for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
            asg = f"eks-{group.inputs['nodeGroupNamePrefix']}20261123abcdef-0ac4e2f5-1b2c-3d4e-5f60-718293a4b5c6"
            matches = re.search(pattern.group(1), asg) is not None
            assert matches == (group.inputs["labels"]["node-purpose"] == pool), (pool, asg)


# ---- Pending spawns: a server waiting for a node is counted ---------------------------------------


def cluster_pods(plan: Inventory) -> list[PodState]:
    """Scale from zero: one server running, one on its new node pulling the image, one waiting for
    the node the autoscaler is adding (no node yet), and the hub. User pods are the real
    KubeSpawner's, with the stack's hub settings."""
    config = spawner_config(plan)
    namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace").inputs["metadata"]["name"]

    def user_pod(name: str) -> dict[str, Any]:
        pod = spawn(config, HubUser(name))[1]
        pod["metadata"]["namespace"] = namespace
        assert pod_name_dimension(pod) == pod["metadata"]["name"]  # no owner: each pod its own PodName
        return pod

    hub = {
        "metadata": {
            "name": "hub-5d8c7b9f4-x2x7q",
            "namespace": namespace,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "hub-5d8c7b9f4"}],
        }
    }
    return [
        PodState(user_pod("running.user@example.org"), "Running", "ip-10-0-1-10.eu-west-1.compute.internal"),
        PodState(user_pod("pulling"), "Pending", "ip-10-0-1-11.eu-west-1.compute.internal"),
        PodState(user_pod("waiting-for-a-node"), "Pending", None),
        PodState(hub, "Running", "ip-10-0-0-5.eu-west-1.compute.internal"),
    ]


def shown(plan: Inventory, title: str, points: dict[Any, list[float]]) -> float:
    (entry,) = titled(body(plan)["widgets"], title)["properties"]["metrics"]
    return evaluate(entry[0]["expression"], points)


def test_pending_spawns_count_a_server_waiting_for_a_node_that_does_not_exist_yet(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    points = published_points(cluster_pods(plan), plan.one("eks:index:Cluster").inputs["name"])
    assert shown(plan, "Pending spawns", points) == 2
    assert shown(plan, "Running user servers", points) == 1


def test_a_metric_from_node_agents_alone_would_miss_it(plans: dict[str, Inventory]) -> None:
    """What the check tells apart: the agent before it reported Pending pods from the API server
    (#139), and a pod metric only node agents publish (container states), both show one pending."""
    plan = plans["prod"]
    cluster = plan.one("eks:index:Cluster").inputs["name"]
    node_agents_only = published_points(cluster_pods(plan), cluster, leader_reports_pending=False)
    assert shown(plan, "Pending spawns", node_agents_only) == 1
    points = published_points(cluster_pods(plan), cluster)
    (entry,) = titled(body(plan)["widgets"], "Pending spawns")["properties"]["metrics"]
    waiting = entry[0]["expression"].replace('"pod_status_pending"', '"pod_container_status_waiting"')
    assert evaluate(waiting, points) == 1


def enhanced_observability(configuration_values: str | None) -> bool:
    """Whether the add-on's agent publishes the pod status metrics: its chart's `agent.defaultConfig`
    turns on `enhanced_container_insights`; an `agent.config` replaces it whole and must say so too
    (aws-observability/helm-charts, amazon-cloudwatch-observability values.yaml)."""
    config = json.loads(configuration_values or "{}").get("agent", {}).get("config")
    if config is None:
        return True
    kubernetes = config.get("logs", {}).get("metrics_collected", {}).get("kubernetes", {})
    return kubernetes.get("enhanced_container_insights") is True


def test_the_agent_keeps_the_enhanced_observability_the_pod_status_widgets_read(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        (addon,) = [
            a for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "amazon-cloudwatch-observability"
        ]
        assert enhanced_observability(addon.inputs.get("configurationValues")), plan.stack
    own_config = {"agent": {"config": {"logs": {"metrics_collected": {"kubernetes": {"cluster_name": "x"}}}}}}
    assert not enhanced_observability(json.dumps(own_config))
