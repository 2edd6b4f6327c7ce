"""Warm capacity on a schedule (components/warm_capacity_schedule.py, components/warm_capacity_scaler.py): which
hours are warm (in the schedule's time zone, across daylight saving time), the shipped script run against a fake
Kubernetes API that authorizes with the stack's own Role, the job's pod (Pod Security restricted, the hub image),
the Role's least privilege, the NetworkPolicy, and the plan pricing the scheduled hours only."""

from __future__ import annotations

import ast
import json
import sys
import threading
import types
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from components import warm_capacity_scaler as scaler
from components.network_policies import KUBERNETES_API_CLUSTER_IP
from components.warm_capacity import PlaceholderSpec, placeholder_statefulset
from components.warm_capacity_schedule import CONFIG, NAME, SCRIPT, ScheduleSpec, schedule_objects
from offline_plan.mock_engine import Inventory
from settings.capacity import WarmScheduleSettings
from tests.conftest import ROOT, stack_config
from tests.pod_security import pod_restricted_violations
from tests.test_chart_render import hub_release
from tests.test_warm_capacity import placeholders, warm_stack

PARIS_OFFICE = {"timezone": "Europe/Paris", "days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "startHour": 8, "endHour": 18}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ---- Which hours are warm --------------------------------------------------------------------------------------


def test_warm_hours_are_the_working_hours_of_the_week() -> None:
    monday = datetime(2026, 6, 1, tzinfo=ZoneInfo("Europe/Paris"))
    warm = [h for h in range(7 * 24) if scaler.is_warm(PARIS_OFFICE, monday + timedelta(hours=h))]
    assert warm == [day * 24 + hour for day in range(5) for hour in range(8, 18)]


@pytest.mark.parametrize(
    ("timezone", "before", "after"),
    [
        # Europe/Paris moves to summer time on Sunday 29 March 2026: 08:00 local is 07:00 UTC before, 06:00 after.
        ("Europe/Paris", utc(2026, 3, 27, 6, 30), utc(2026, 3, 30, 6, 30)),
        # America/New_York on Sunday 8 March 2026: 08:00 local is 13:00 UTC before, 12:00 after.
        ("America/New_York", utc(2026, 3, 6, 12, 30), utc(2026, 3, 9, 12, 30)),
    ],
)
def test_the_hours_follow_daylight_saving_time(timezone: str, before: datetime, after: datetime) -> None:
    schedule = {**PARIS_OFFICE, "timezone": timezone}
    # The same UTC time of day is before the start on the Friday and inside the hours on the Monday after.
    assert not scaler.is_warm(schedule, before)
    assert scaler.is_warm(schedule, after)
    assert scaler.is_warm(schedule, before + timedelta(hours=1))
    assert not scaler.is_warm(schedule, after - timedelta(hours=1))


def test_a_run_a_moment_before_the_hour_counts_as_that_hour() -> None:
    config = {"replicas": 2, "schedule": PARIS_OFFICE}
    paris = ZoneInfo("Europe/Paris")
    assert scaler.desired_replicas(config, datetime(2026, 6, 1, 7, 59, 58, tzinfo=paris)) == 2
    assert scaler.desired_replicas(config, datetime(2026, 6, 1, 8, 0, 3, tzinfo=paris)) == 2
    assert scaler.desired_replicas(config, datetime(2026, 6, 1, 17, 59, 58, tzinfo=paris)) == 0
    assert scaler.desired_replicas(config, datetime(2026, 6, 1, 18, 0, 3, tzinfo=paris)) == 0
    assert scaler.desired_replicas(config, datetime(2026, 6, 6, 10, 0, 3, tzinfo=paris)) == 0  # a Saturday


@pytest.mark.parametrize("week", [utc(2026, 3, 23), utc(2026, 10, 19), utc(2026, 6, 1)])
def test_the_priced_hours_are_the_hours_the_script_keeps_warm(week: datetime) -> None:
    """The plan's hours (settings, offline_plan/cost.py) are what the scaler does, in a week with a clock change
    (Paris: 29 March and 25 October 2026) as in any other."""
    settings = WarmScheduleSettings.model_validate(PARIS_OFFICE)
    hours = sum(scaler.is_warm(PARIS_OFFICE, week + timedelta(hours=h)) for h in range(7 * 24))
    assert hours == settings.hours_per_week == scaler.warm_hours_per_week(PARIS_OFFICE) == 50


def test_the_hub_image_has_what_the_script_needs(plans: dict[str, Inventory]) -> None:
    """The image the job runs is the one recorded (data/charts/jupyterhub-4.4.0/hub-image-runtime.json): Python with
    zoneinfo and the time zone data."""
    runtime = json.loads((ROOT / "data" / "charts" / "jupyterhub-4.4.0" / "hub-image-runtime.json").read_text())
    assert tuple(int(n) for n in runtime["python"].split(".")) >= (3, 9)
    assert "tzdata" in runtime["packages"]
    (container,) = _pod(warm_stack(plans))["spec"]["containers"]
    assert container["image"] == f"{runtime['image']}:{runtime['tag']}"


def test_the_api_address_comes_from_the_kubernetes_service_s_variables() -> None:
    assert scaler.api_url("172.20.0.1", "443") == "https://172.20.0.1:443"
    assert scaler.api_url("fd00:10:96::1", "443") == "https://[fd00:10:96::1]:443"


def test_the_script_needs_nothing_but_python() -> None:
    """It runs in the chart's hub image: only the standard library (and the image's tzdata) is assumed."""
    tree = ast.parse(Path(scaler.__file__).read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names


# ---- The stack's objects ---------------------------------------------------------------------------------------


def objects(plan: Inventory) -> dict[str, dict[str, Any]]:
    """The schedule's objects by kind."""
    found = {}
    for resource in plan.resources:
        if resource.type.startswith("kubernetes:") and (resource.inputs.get("metadata") or {}).get("name") == NAME:
            found[resource.inputs["kind"]] = resource.inputs
    return found


@pytest.fixture(scope="module")
def scheduled(plans: dict[str, Inventory]) -> Inventory:
    plan = warm_stack(plans)
    assert stack_config(plan)["jhub-eks:capacity"]["warm"]["schedule"], "prod's example sets a schedule"
    return plan


def test_pulumi_leaves_the_replicas_to_the_job(scheduled: Inventory) -> None:
    for resource in placeholders(scheduled):
        assert "replicas" not in resource.inputs["spec"]
    spec = PlaceholderSpec("jupyterhub", "jupyterhub", "eu-west-1a", 2, 1, "4Gi")
    assert placeholder_statefulset(spec)["spec"]["replicas"] == 2  # without a schedule, Pulumi's


def test_the_cron_job_runs_every_local_hour_in_the_schedule_s_time_zone(scheduled: Inventory) -> None:
    schedule = stack_config(scheduled)["jhub-eks:capacity"]["warm"]["schedule"]
    cron = objects(scheduled)["CronJob"]["spec"]
    assert cron["timeZone"] == schedule["timezone"]
    assert cron["schedule"] == "0 * * * *"
    assert cron["concurrencyPolicy"] == "Forbid"


def _pod(plan: Inventory) -> dict[str, Any]:
    template: dict[str, Any] = objects(plan)["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
    return template


def test_the_job_runs_the_hub_image_the_chart_runs(scheduled: Inventory) -> None:
    image = hub_release(scheduled)["values"]["hub"]["image"]
    (container,) = _pod(scheduled)["spec"]["containers"]
    assert container["image"] == f"{image['name']}:{image['tag']}"


def test_the_job_s_pod_passes_pod_security_restricted(scheduled: Inventory) -> None:
    pod = _pod(scheduled)["spec"]
    assert pod_restricted_violations(pod) == {}
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["nodeSelector"] == {"hub.jupyter.org/node-purpose": "core"}


def allows(role: dict[str, Any], verb: str, group: str, resource: str, name: str) -> bool:
    """Kubernetes RBAC's rule match for a namespaced request (no wildcards expected, but honoured)."""

    def has(values: list[str], value: str) -> bool:
        return "*" in values or value in values

    return any(
        has(rule.get("verbs", []), verb)
        and has(rule.get("apiGroups", []), group)
        and has(rule.get("resources", []), resource)
        and (not rule.get("resourceNames") or name in rule["resourceNames"])
        for rule in role["rules"]
    )


def test_the_role_can_scale_only_the_placeholders(scheduled: Inventory) -> None:
    role = objects(scheduled)["Role"]
    names = [r.inputs["metadata"]["name"] for r in placeholders(scheduled)]
    for name in names:
        assert allows(role, "patch", "apps", "statefulsets/scale", name)
    # Not the hub's other StatefulSets, not the pod template, not a read of anything, not pods or secrets.
    denied = [
        ("patch", "apps", "statefulsets/scale", "user-placeholder"),
        ("patch", "apps", "statefulsets/scale", "user-scheduler"),
        ("patch", "apps", "deployments/scale", "hub"),
        ("patch", "apps", "statefulsets", names[0]),
        ("update", "apps", "statefulsets", names[0]),
        ("get", "apps", "statefulsets/scale", names[0]),
        ("create", "", "pods", ""),
        ("get", "", "secrets", "hub"),
    ]
    assert [request for request in denied if allows(role, *request)] == []
    binding = objects(scheduled)["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    namespace = role["metadata"]["namespace"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": _pod(scheduled)["spec"]["serviceAccountName"], "namespace": namespace}
    ]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return not selector.get("matchExpressions") and selector.get("matchLabels", {}).items() <= labels.items()


def test_the_job_may_reach_the_kubernetes_api_only(scheduled: Inventory) -> None:
    pod = _pod(scheduled)
    namespace = objects(scheduled)["CronJob"]["metadata"]["namespace"]
    policies = [
        r.inputs
        for r in scheduled.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.inputs["metadata"]["namespace"] == namespace
        and _selects(r.inputs["spec"]["podSelector"], pod["metadata"]["labels"])
    ]
    egress = [rule for policy in policies for rule in policy["spec"].get("egress", [])]
    ingress = [rule for policy in policies for rule in policy["spec"].get("ingress", [])]
    assert ingress == []
    vpc = stack_config(scheduled)["jhub-eks:network"]["vpcCidr"]
    assert egress == [
        {
            "to": [{"ipBlock": {"cidr": f"{KUBERNETES_API_CLUSTER_IP}/32"}}, {"ipBlock": {"cidr": vpc}}],
            "ports": [{"protocol": "TCP", "port": 443}],
        }
    ]
    # Every policy that selects it is the namespace's default deny or its own.
    assert {p["metadata"]["name"] for p in policies} == {"default-deny", NAME}


def test_lockdown_leaves_the_job_without_network() -> None:
    spec = ScheduleSpec("jupyterhub", ["user-placeholder-a"], 1, "UTC", ["Mon"], 8, 18, "image", "10.0.0.0/16", True)
    assert "NetworkPolicy" not in {o["kind"] for o in schedule_objects(spec)}


# ---- The shipped script against a fake Kubernetes API ----------------------------------------------------------


class FakeApi:
    """The API server's part the script meets: bearer token, RBAC with the stack's Role, the scale subresource of
    the StatefulSets it holds, JSON merge patches."""

    def __init__(self, role: dict[str, Any], namespace: str, replicas: dict[str, int]) -> None:
        self.role, self.namespace, self.replicas = role, namespace, dict(replicas)
        self.token = "token-of-the-job"
        self.managers: dict[str, str] = {}
        """Who the API server records as the last writer of each StatefulSet's replicas (fieldManager, else the
        client's User-Agent up to its first slash)."""

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"kind": "Status", "reason": "Unauthorized"}
        url = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        # /apis/apps/v1/namespaces/<ns>/statefulsets/<name>/scale
        if len(parts) != 8 or parts[:3] != ["apis", "apps", "v1"] or parts[3] != "namespaces":
            return 404, {"kind": "Status", "reason": "NotFound"}
        namespace, resource, name, subresource = parts[4], parts[5], parts[6], parts[7]
        verb = {"PATCH": "patch", "GET": "get", "PUT": "update"}[method]
        if namespace != self.namespace or not allows(self.role, verb, "apps", f"{resource}/{subresource}", name):
            return 403, {"kind": "Status", "reason": "Forbidden"}
        if name not in self.replicas:
            return 404, {"kind": "Status", "reason": "NotFound"}
        if headers.get("Content-Type") != "application/merge-patch+json":
            return 415, {"kind": "Status", "reason": "UnsupportedMediaType"}
        running = self.replicas[name]
        self.replicas[name] = int(json.loads(body)["spec"]["replicas"])
        self.managers[name] = query.get("fieldManager", [str(headers.get("User-Agent", "")).split("/")[0]])[0]
        return 200, {"kind": "Scale", "spec": {"replicas": self.replicas[name]}, "status": {"replicas": running}}


@pytest.fixture()
def api_server() -> Iterator[tuple[str, list[FakeApi]]]:
    holder: list[FakeApi] = []

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = holder[0].handle(self.command, self.path, self.headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PATCH(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", holder
    server.shutdown()
    server.server_close()


def shipped_script(plan: Inventory) -> types.ModuleType:
    """The script as the ConfigMap ships it (not the repository's file)."""
    module = types.ModuleType("shipped_warm_capacity_scaler")
    exec(compile(objects(plan)["ConfigMap"]["data"][SCRIPT], "warm_capacity_scaler.py", "exec"), module.__dict__)
    return module


def test_the_shipped_script_scales_the_placeholders_up_in_hours_and_down_outside(
    scheduled: Inventory, api_server: tuple[str, list[FakeApi]]
) -> None:
    url, holder = api_server
    config = json.loads(objects(scheduled)["ConfigMap"]["data"][CONFIG])
    role = objects(scheduled)["Role"]
    script = shipped_script(scheduled)
    warm = stack_config(scheduled)["jhub-eks:capacity"]["warm"]
    zone = ZoneInfo(warm["schedule"]["timezone"])
    names = [r.inputs["metadata"]["name"] for r in placeholders(scheduled)]
    assert sorted(config["statefulSets"]) == sorted(names)
    api = FakeApi(role, config["namespace"], dict.fromkeys(names, 0))
    holder.append(api)
    tuesday_morning = datetime(2026, 6, 2, warm["schedule"]["startHour"], 0, 2, tzinfo=zone)
    assert script.run(config, tuesday_morning, url, api.token, None) == 0
    assert api.replicas == dict.fromkeys(names, warm["serversPerZone"])
    tuesday_evening = datetime(2026, 6, 2, warm["schedule"]["endHour"], 0, 2, tzinfo=zone)
    assert script.run(config, tuesday_evening, url, api.token, None) == 0
    assert api.replicas == dict.fromkeys(names, 0)


def test_a_refused_call_fails_the_run_after_trying_every_statefulset(
    scheduled: Inventory, api_server: tuple[str, list[FakeApi]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, holder = api_server
    config = json.loads(objects(scheduled)["ConfigMap"]["data"][CONFIG])
    names = list(config["statefulSets"])
    api = FakeApi(objects(scheduled)["Role"], config["namespace"], dict.fromkeys([*names, "user-scheduler"], 0))
    holder.append(api)
    # A StatefulSet outside the Role's resourceNames is refused (403), the others are still scaled.
    config["statefulSets"] = ["user-scheduler", *names]
    noon = datetime(2026, 6, 2, 12, tzinfo=ZoneInfo(config["schedule"]["timezone"]))
    assert shipped_script(scheduled).run(config, noon, url, api.token, None) == 1
    assert api.replicas == {"user-scheduler": 0, **dict.fromkeys(names, config["replicas"])}
    assert "user-scheduler: could not scale" in capsys.readouterr().err


# ---- The plan --------------------------------------------------------------------------------------------------


def test_the_plan_says_the_warm_capacity_is_priced_for_the_scheduled_hours(scheduled: Inventory) -> None:
    from offline_plan.capacity import capacity_cost, render_capacity_cost
    from offline_plan.cost import estimate, load_prices
    from policies.checklist import support_phase
    from tests.test_capacity import settings_of

    settings = settings_of(scheduled.stack)
    prices = load_prices(settings.region)
    report = estimate(scheduled, prices, support_phase, 160)
    cost = capacity_cost(settings, report, prices)
    schedule = settings.capacity.warm.schedule
    assert schedule is not None
    assert cost.warm_hours == pytest.approx(730 * schedule.hours_per_week / 168)
    # The capacity cost's warm line and the cost table's WarmCapacity lines agree.
    warm_lines = [line for line in report.lines if line.item.startswith("warm capacity")]
    assert cost.warm_monthly == pytest.approx(sum(line.monthly_min or 0 for line in warm_lines), rel=1e-6)
    text = render_capacity_cost(settings, cost, report)
    assert f"in working hours only, {cost.warm_hours:.0f} h a month" in text
