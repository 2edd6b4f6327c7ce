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
from tests.test_jupyterhub import hub_values

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
    namespace = hub_values(plan).get("namespace") or plan.one("kubernetes:core/v1:Namespace").inputs["metadata"]["name"]
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
            "Alarm states",
        ]
        name = plan.one(DASHBOARD).inputs["dashboardName"]
        assert NAME.match(name)
        assert plan.outputs["dashboard_url"].endswith(f"#dashboards/dashboard/{name}")
        assert "region=eu-west-1" in plan.outputs["dashboard_url"]


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
