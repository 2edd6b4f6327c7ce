"""The home usage alarm (components/home_usage_alarm.py), followed from the kubelet to the alarm state: the
kubelet's volume statistics of real KubeSpawner pods, the job's lines, the add-on's Fluent Bit event (its
Merge_Log_Key, data/container_insights/volume-metrics.json), the plan's metric filter, the metric it
publishes, and the plan's alarm and dashboard queries evaluated over those metrics. Each step reads what the
plan declares, so a name or dimension that differs between two steps leaves the alarm silent here as it
would in CloudWatch. Also: the job's rights as the kubelet and the API server authorize them, and the
threshold setting reaching the alarm."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import home_usage_job
from offline_plan.department import render_department
from offline_plan.mock_engine import Inventory
from tests.conftest import run_plan, stack_config
from tests.pod_security import pod_restricted_violations
from tests.test_home_usage import _summary
from tests.test_jupyterhub import hub_values

ROOT = Path(__file__).resolve().parents[1]
FINDINGS = json.loads((ROOT / "data" / "container_insights" / "volume-metrics.json").read_text())
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
CRONJOB = "kubernetes:batch/v1:CronJob"


# --- CloudWatch Logs filter patterns: the JSON subset the filter uses ({ $.a.b = "x" && $.c >= 0 }), as the
# user guide's "Filter pattern syntax for JSON log events" defines it: a selector, an operator, a quoted
# string or a number; conditions joined by &&.
_CONDITION = re.compile(r'^\$\.([\w.]+)\s*(=|!=|>=|<=|>|<)\s*("([^"]*)"|-?\d+(?:\.\d+)?)$')


def _select(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def json_filter_matches(pattern: str, event: dict[str, Any]) -> bool:
    body = pattern.strip()
    assert body.startswith("{") and body.endswith("}"), pattern
    for condition in body[1:-1].split("&&"):
        match = _CONDITION.match(condition.strip())
        assert match, f"outside the modelled syntax: {condition!r}"
        path, operator, literal, text = match.groups()
        value = _select(event, path)
        if text is not None or literal.startswith('"'):
            if operator not in ("=", "!=") or not isinstance(value, str):
                return False
            if (value == text) != (operator == "="):
                return False
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        number = float(literal)
        if not {
            "=": value == number,
            "!=": value != number,
            ">=": value >= number,
            "<=": value <= number,
            ">": value > number,
            "<": value < number,
        }[operator]:
            return False
    return True


def fluent_bit_event(line: str, namespace: str, pod: str, container: str) -> dict[str, Any]:
    """The application log event of one container output line, as the add-on's Fluent Bit builds it: the
    kubernetes filter's metadata, and a JSON line parsed under Merge_Log_Key (Labels and Annotations Off)."""
    kubernetes_filter = FINDINGS["containerLogs"]["kubernetesFilter"]
    event: dict[str, Any] = {
        "log": line,
        "stream": "stdout",
        "kubernetes": {"namespace_name": namespace, "pod_name": pod, "container_name": container},
    }
    if kubernetes_filter["Merge_Log"] == "On":
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            event[kubernetes_filter["Merge_Log_Key"]] = parsed
    return event


def published(
    plan: Inventory, events: list[dict[str, Any]]
) -> dict[tuple[str, str, frozenset[tuple[str, str]]], list[float]]:
    """The metric points the plan's metric filters make of the events: (namespace, name, dimensions) -> values."""
    points: dict[tuple[str, str, frozenset[tuple[str, str]]], list[float]] = defaultdict(list)
    for metric_filter in plan.of_type(FILTER):
        if not metric_filter.inputs["pattern"].startswith("{"):
            continue  # the security alarms' term filters: other metrics, not in the Homes namespace
        transformation = metric_filter.inputs["metricTransformation"]
        for event in events:
            if not json_filter_matches(metric_filter.inputs["pattern"], event):
                continue
            literal = transformation["value"]
            value = _select(event, literal.removeprefix("$.")) if literal.startswith("$.") else float(literal)
            dimensions = {
                key: _select(event, selector.removeprefix("$."))
                for key, selector in (transformation.get("dimensions") or {}).items()
            }
            if value is None or any(v is None for v in dimensions.values()):
                continue  # CloudWatch Logs publishes no point for an event missing a field
            key = (transformation["namespace"], transformation["name"], frozenset(dimensions.items()))
            points[key].append(float(value))
    return points


# --- Metrics Insights: SELECT MAX(metric) FROM SCHEMA("namespace", dims...) [WHERE d = 'v' [AND ...]]
# [GROUP BY d ORDER BY MAX() DESC LIMIT n]. SCHEMA matches the metrics with exactly those dimensions.
_QUERY = re.compile(
    r'^SELECT MAX\((?P<metric>\w+)\) FROM SCHEMA\("(?P<namespace>[^"]+)", (?P<dims>[\w, ]+)\)'
    r"(?: WHERE (?P<where>.+?))?(?: GROUP BY (?P<group>\w+) ORDER BY MAX\(\) DESC LIMIT (?P<limit>\d+))?$"
)


def insights(query: str, points: dict[tuple[str, str, frozenset[tuple[str, str]]], list[float]]) -> dict[str, float]:
    """The query's series over one period: label -> value (one series "" without GROUP BY)."""
    match = _QUERY.match(query)
    assert match, f"outside the modelled Metrics Insights subset: {query}"
    schema = {d.strip() for d in match["dims"].split(",")}
    where = dict(re.findall(r"(\w+) = '([^']*)'", match["where"] or ""))
    series: dict[str, float] = {}
    for (namespace, metric, dims), values in points.items():
        dimensions = dict(dims)
        if namespace != match["namespace"] or metric != match["metric"] or set(dimensions) != schema:
            continue
        if any(dimensions.get(k) != v for k, v in where.items()):
            continue
        label = dimensions[match["group"]] if match["group"] else ""
        series[label] = max(series.get(label, float("-inf")), *values)
    if match["limit"]:
        series = dict(sorted(series.items(), key=lambda kv: -kv[1])[: int(match["limit"])])
    return series


def home_alarm(plan: Inventory) -> Any:
    return next(a for a in plan.of_type(ALARM) if "HomeUsedPercent" in json.dumps(a.inputs.get("metricQueries")))


def alarm_state(plan: Inventory, points: dict[tuple[str, str, frozenset[tuple[str, str]]], list[float]]) -> str:
    alarm = home_alarm(plan)
    (query,) = [q for q in alarm.inputs["metricQueries"] if q.get("returnData")]
    series = insights(query["expression"], points)
    assert alarm.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    if not series:
        return {"notBreaching": "OK", "breaching": "ALARM"}.get(alarm.inputs["treatMissingData"], "INSUFFICIENT_DATA")
    return "ALARM" if series[""] >= alarm.inputs["threshold"] else "OK"


def job_container(plan: Inventory) -> dict[str, Any]:
    cronjob = plan.one(CRONJOB, "home-usage")
    (container,) = cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return dict(container)


def job_events(plan: Inventory, used_gib: dict[str, float]) -> list[dict[str, Any]]:
    """What the job prints for one node whose users have these homes, as application log events."""
    cronjob = plan.one(CRONJOB, "home-usage")
    env = {e["name"]: e["value"] for e in job_container(plan)["env"]}
    summary, _ = _summary(plan, used_gib)
    lines = [json.dumps(line) for line in home_usage_job.home_lines(summary, env["HUB_NAMESPACE"], env["CLUSTER_NAME"])]
    return [
        fluent_bit_event(
            line, cronjob.inputs["metadata"]["namespace"], "home-usage-29412-abcde", job_container(plan)["name"]
        )
        for line in lines
    ]


def test_container_insights_has_no_metric_of_a_claims_use() -> None:
    """Why the stack publishes its own metric: the add-on's claim metrics are the claim's phase, its EBS metrics
    are I/O, and its OTel mode does not collect the kubelet's volume group."""
    enhanced = FINDINGS["enhancedContainerInsights"]
    claim_metrics = [
        name
        for group in enhanced.values()
        if isinstance(group, dict) and "dimensionSets" in group
        for name in group["metrics"]
        if any("PersistentVolumeClaimName" in s for s in group["dimensionSets"])
    ]
    assert claim_metrics and all(re.search(r"_status_|_count$", m) for m in claim_metrics)
    assert "volume" not in FINDINGS["otelContainerInsights"]["kubeletstatsMetricGroups"]


def test_a_nearly_full_home_fires_the_alarm_and_the_dashboard_names_it(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        percent = home_alarm(plan).inputs["threshold"]
        size = int(hub_values(plan)["singleuser"]["storage"]["capacity"].removesuffix("Gi"))
        full, half = size * (percent + 1) / 100, size / 2
        events = job_events(plan, {"alice.smith@x": full, "bob": half, "carol": 1.0})
        claims = [json.loads(e["log"])["claim"] for e in events]  # KubeSpawner's names: alice, bob, carol
        points = published(plan, events)
        assert alarm_state(plan, points) == "ALARM", plan.stack
        assert alarm_state(plan, published(plan, job_events(plan, {"bob": half, "carol": 1.0}))) == "OK"
        assert alarm_state(plan, {}) == "OK"  # no server running: nothing to report, not a full home
        widget = json.loads(plan.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])["widgets"]
        (homes,) = [w for w in widget if w["properties"]["title"] == "Fullest homes (% used)"]
        listed = insights(homes["properties"]["metrics"][0][0]["expression"], points)
        assert list(listed) == claims, listed  # fullest first
        assert (
            home_alarm(plan).arn
            in next(w for w in widget if w["properties"]["title"] == "Alarm states")["properties"]["alarms"]
        )


def silence_state(plan: Inventory, runs: list[dict[str, Any] | None]) -> str:
    """The silence alarm over the last periods, one job run (its last line) or None (no run) per period."""
    alarm = next(a for a in plan.of_type(ALARM) if a.inputs.get("metricName") == "HomeUsageJobRuns")
    assert alarm.inputs["statistic"] == "Sum" and alarm.inputs["comparisonOperator"] == "LessThanThreshold"
    cronjob = plan.one(CRONJOB, "home-usage")
    wanted = ("JupyterHubEKS/Homes", "HomeUsageJobRuns", frozenset(alarm.inputs["dimensions"].items()))
    breaching = []
    for run in runs[-alarm.inputs["evaluationPeriods"] :]:
        points = {}
        if run is not None:
            event = fluent_bit_event(
                json.dumps(run), cronjob.inputs["metadata"]["namespace"], "home-usage-1-x", job_container(plan)["name"]
            )
            points = published(plan, [event])
        if wanted in points:
            breaching.append(sum(points[wanted]) < alarm.inputs["threshold"])
        else:
            breaching.append(alarm.inputs["treatMissingData"] == "breaching")
    return "ALARM" if all(breaching) else "OK"


def test_a_job_that_stops_reading_the_nodes_raises_the_silence_alarm(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        cluster = {e["name"]: e["value"] for e in job_container(plan)["env"]}["CLUSTER_NAME"]
        good = {"cluster": cluster, "nodesRead": 3, "nodesFailed": 0}
        bad = {**good, "nodesRead": 2, "nodesFailed": 1}
        assert silence_state(plan, [good, good, good]) == "OK"
        assert silence_state(plan, [bad, good, None]) == "OK"  # one good run in the window
        assert silence_state(plan, [bad, bad, bad]) == "ALARM"  # a node's homes unwatched for 15 min
        assert silence_state(plan, [None, None, None]) == "ALARM"  # the job stopped running


def test_what_a_user_prints_cannot_move_the_alarm(plans: dict[str, Inventory]) -> None:
    """A user's server printing the job's line in its own log is another container of another pod: the metric
    filter selects on the metadata Fluent Bit adds, which the line cannot overwrite (it is parsed under
    Merge_Log_Key)."""
    plan = plans["dev"]
    (event,) = job_events(plan, {"mallory": 9.9})
    line = event["log"]
    namespace = event["kubernetes"]["namespace_name"]
    forged = json.dumps({**json.loads(line), "kubernetes": {"container_name": job_container(plan)["name"]}})
    for printed in (line, forged):
        user_event = fluent_bit_event(printed, namespace, "jupyter-mallory", "notebook")
        assert published(plan, [user_event]) == {}
    assert published(plan, [event])  # the job's own line does publish


def test_the_threshold_setting_reaches_the_alarm(plans: dict[str, Inventory], tmp_path: Path) -> None:
    for plan in plans.values():
        configured = (stack_config(plan).get("jhub-eks:department") or {}).get("homeUsageAlarm") or {}
        assert home_alarm(plan).inputs["threshold"] == configured.get("percent", 90)
        assert home_alarm(plan).inputs["alarmActions"]
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    department = document["config"].setdefault("jhub-eks:department", {})
    department["homeUsageAlarm"] = {"percent": 75}
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    result = run_plan("dev", tmp_path / "plan.json", stack_file)
    assert result.returncode == 0, result.stdout + result.stderr
    variant = Inventory.from_json(json.loads((tmp_path / "plan.json").read_text()))
    assert home_alarm(variant).inputs["threshold"] == 75
    points = published(variant, job_events(variant, {"alice": 3.8}))  # 76% of dev's 5Gi home
    assert alarm_state(variant, points) == "ALARM"
    assert "homes nearly full: an alarm at 75% of a home's size" in render_department(variant)  # the plan says it


# --- The job's rights. Kubernetes, "Kubelet authentication/authorization": the kubelet authorizes a request as
# the node's subresource its path names (/stats/* stats, /metrics/* metrics, /logs/* log, /spec/* spec,
# /checkpoint/* checkpoint) and every other path (exec, attach, run, port-forward...) as `proxy`; the verb
# is the HTTP method's (GET: get).
KUBELET_SUBRESOURCES = {
    "stats": "stats",
    "metrics": "metrics",
    "logs": "log",
    "spec": "spec",
    "checkpoint": "checkpoint",
}


def kubelet_resource(path: str) -> str:
    first = path.strip("/").split("/")[0]
    return f"nodes/{KUBELET_SUBRESOURCES.get(first, 'proxy')}"


def allowed(rules: list[dict[str, Any]], verb: str, resource: str) -> bool:
    return any(
        "" in rule.get("apiGroups", [])
        and (resource in rule.get("resources", []) or "*" in rule.get("resources", []))
        and (verb in rule.get("verbs", []) or "*" in rule.get("verbs", []))
        for rule in rules
    )


def test_the_job_may_read_volume_statistics_and_nothing_a_kubelet_runs(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        (role,) = [
            r for r in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole") if "home-usage" in r.name
        ]
        (binding,) = [
            b
            for b in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
            if "home-usage" in b.name
        ]
        rules = role.inputs["rules"]
        assert binding.inputs["roleRef"]["name"] == role.inputs["metadata"]["name"]
        pod = plan.one(CRONJOB, "home-usage").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (subject,) = binding.inputs["subjects"]
        assert subject["name"] == pod["serviceAccountName"]
        # What it calls: the API server's node list, each kubelet's Summary API.
        assert home_usage_job.NODES_PATH == "/api/v1/nodes" and allowed(rules, "list", "nodes")
        assert allowed(rules, "get", kubelet_resource(home_usage_job.SUMMARY_PATH))
        # What it must not reach: a kubelet's exec/attach/run (nodes/proxy), the API server's node proxy,
        # pods' exec and the namespace's secrets.
        for path in ("/exec/jupyterhub/jupyter-alice/notebook", "/run/jupyterhub/jupyter-alice/notebook", "/pods"):
            assert not allowed(rules, "get", kubelet_resource(path)) and not allowed(
                rules, "create", kubelet_resource(path)
            )
        for verb, resource in (("get", "nodes/proxy"), ("create", "pods/exec"), ("get", "secrets"), ("list", "pods")):
            assert not allowed(rules, verb, resource), (verb, resource)
        assert pod_restricted_violations(pod) == {}


def test_job_lines_agree_with_the_operators_report(plans: dict[str, Inventory]) -> None:
    """The job and maintenance/home_usage.py read the same kubelet statistics the same way."""
    from maintenance.home_usage import home_usage

    plan = plans["prod"]
    summary, claims = _summary(plan, {"alice": 19.0, "bob": 2.0})
    namespace = job_container(plan)["env"][0]["value"]
    lines = {line["claim"]: line["usedPercent"] for line in home_usage_job.home_lines(summary, namespace, "c")}
    report = {u.claim: round(u.percent, 1) for u in home_usage([summary], claims, namespace)}
    assert lines == report and len(lines) == 2
    # Claims that are no user's home: the hub's own database volume, another namespace's `claim-` volume.
    others = [
        {"pvcRef": {"name": "hub-db-dir", "namespace": namespace}, "usedBytes": 99, "capacityBytes": 100},
        {"pvcRef": {"name": "claim-zoe", "namespace": "dask-gateway"}, "usedBytes": 99, "capacityBytes": 100},
    ]
    summary["pods"].append({"podRef": {"name": "other", "namespace": namespace}, "volume": others})
    assert {line["claim"] for line in home_usage_job.home_lines(summary, namespace, "c")} == set(lines)


@pytest.mark.parametrize(
    "node, expected",
    [
        (
            {
                "metadata": {"name": "n1"},
                "status": {
                    "addresses": [{"type": "InternalIP", "address": "10.50.1.10"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                },
            },
            [("n1", "10.50.1.10", 10250)],
        ),
        ({"metadata": {"name": "n2"}, "status": {"addresses": [{"type": "Hostname", "address": "n2"}]}}, []),
    ],
)
def test_kubelet_addresses(node: dict[str, Any], expected: list[tuple[str, str, int]]) -> None:
    assert home_usage_job.kubelet_addresses({"items": [node]}) == expected


def test_the_alarms_pass_the_checklist_like_the_others(plans: dict[str, Inventory]) -> None:
    from policies.checklist import evaluate
    from tests.test_checklist import view

    for plan in plans.values():
        resources = view(plan)
        homes = [r for r in resources if r.type == ALARM and "home-usage" in r.name]
        assert len(homes) == 2
        assert not [v.message for found in evaluate(resources).values() for v in found]
        for alarm in homes:  # the checklist reads these alarms: one that notifies nobody fails it
            alarm.props.pop("alarmActions")
        messages = [v.message for v in evaluate(resources)["alarms-present"]]
        assert sorted(m for m in messages if "home-usage" in m) == sorted(
            f"alarm {a.name} notifies nobody" for a in homes
        )


def test_the_lockdown_suspends_the_job_and_quiets_its_silence_alarm(variant_plans: dict[str, Inventory]) -> None:
    plan = variant_plans["lockdown"]
    assert plan.one(CRONJOB, "home-usage").inputs["spec"]["suspend"] is True
    assert not [p for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if "home-usage" in p.name]
    silence = next(a for a in plan.of_type(ALARM) if a.inputs.get("metricName") == "HomeUsageJobRuns")
    assert silence.inputs["actionsEnabled"] is False
    assert home_alarm(plan).inputs.get("actionsEnabled", True)  # the homes' alarm itself stays on
