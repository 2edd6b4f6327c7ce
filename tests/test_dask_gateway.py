"""Dask Gateway as Helm and the gateway would make it: the real dask-gateway chart (tests/charts.py)
rendered with the values the prod stack gives it, then the program's transformation of the rendered
objects; and a scheduler and a worker as the real controller (dask-gateway-server 2026.3.0) builds
them from the configuration that chart gives the gateway. Every pod passes "restricted", the
gateway trusts only tokens with access to its hub service, and nothing is exposed but through the hub."""

from __future__ import annotations

import copy
import string
from typing import Any

import pytest
from dask_gateway_server.backends.kubernetes.backend import KubeClusterConfig
from dask_gateway_server.backends.kubernetes.controller import KubeController
from dask_gateway_server.models import User
from dask_gateway_server.utils import FrozenAttrDict
from helm_python import HelmValuesError
from traitlets.config import Config

from components import dask_gateway_values as dgv
from offline_plan.mock_engine import Inventory, Recorded
from tests import charts
from tests.pod_security import pod_restricted_violations
from tests.test_chart_render import hub_release

CHART = "kubernetes:helm.sh/v4:Chart"
# The chart's own pods: the gateway's api, its controller and traefik.
CHART_PODS = {"Deployment/api-dask-gateway", "Deployment/controller-dask-gateway", "Deployment/traefik-dask-gateway"}


def gateway_chart(plan: Inventory) -> Recorded:
    (chart,) = [c for c in plan.of_type(CHART) if c.inputs["chart"] == "dask-gateway"]
    return chart


def render(chart: Recorded, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return charts.render_install(chart.inputs, values)


@pytest.fixture(scope="module")
def prod_chart(plans: dict[str, Inventory]) -> Recorded:
    return gateway_chart(plans["prod"])


@pytest.fixture(scope="module")
def rendered(prod_chart: Recorded) -> list[dict[str, Any]]:
    """The chart's objects as the program deploys them: rendered, then transformed."""
    namespace = prod_chart.inputs["namespace"]
    return [dgv.require_dashboard_login(dgv.restrict_pods(document), namespace) for document in render(prod_chart)]


def violations(objects: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    return {name: found for name, spec in charts.pod_templates(objects) if (found := pod_restricted_violations(spec))}


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_only_the_stacks_that_turn_it_on_have_the_gateway(plans: dict[str, Inventory]) -> None:
    assert [c.inputs["chart"] for c in plans["dev"].of_type(CHART)] == []
    chart = gateway_chart(plans["prod"])
    assert (chart.inputs["version"], chart.inputs["repositoryOpts"]["repo"]) == ("2026.3.0", "https://helm.dask.org")


def test_the_charts_schema_accepts_the_values_and_refuses_what_it_does_not_know(prod_chart: Recorded) -> None:
    chart = charts.load(prod_chart.inputs["chart"], prod_chart.inputs["version"])
    chart.validate_schema(prod_chart.inputs["values"])
    values = copy.deepcopy(prod_chart.inputs["values"])
    values["traefik"]["securityContext"] = {"runAsUser": 1000}  # what the chart does not let values set
    with pytest.raises(HelmValuesError, match="securityContext"):
        chart.validate_schema(values)


def test_the_namespace_enforces_restricted(plans: dict[str, Inventory]) -> None:
    namespace = plans["prod"].one("kubernetes:core/v1:Namespace", "-dask-ns")
    labels = namespace.inputs["metadata"]["labels"]
    assert namespace.inputs["metadata"]["name"] == "dask-gateway"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_pod_of_the_chart_passes_restricted_after_the_transformation(
    prod_chart: Recorded, rendered: list[dict[str, Any]]
) -> None:
    assert {name for name, _ in charts.pod_templates(rendered)} == CHART_PODS
    assert violations(rendered) == {}
    # Without the transformation, the chart's own pods would be refused by the namespace.
    untransformed = violations(render(prod_chart))
    assert set(untransformed) == CHART_PODS
    assert "runAsNonRoot must be true" in untransformed["Deployment/api-dask-gateway"]["gateway"]


def test_the_transformation_is_what_pulumi_applies_to_deployments_only() -> None:
    from components.dask_gateway import restricted_transform

    class Args:
        def __init__(self, type_: str, props: dict[str, Any]) -> None:
            self.type_, self.props, self.opts = type_, props, None

    deployment = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}
    result = restricted_transform(Args("kubernetes:apps/v1:Deployment", deployment))  # type: ignore[arg-type]
    assert result is not None and pod_restricted_violations(result.props["spec"]["template"]["spec"]) == {}
    assert restricted_transform(Args("kubernetes:core/v1:Service", {"kind": "Service"})) is None  # type: ignore[arg-type]


def test_traefik_has_no_load_balancer_and_the_gateway_serves_under_the_hubs_service_path(
    rendered: list[dict[str, Any]],
) -> None:
    services = {o["metadata"]["name"]: o["spec"] for o in rendered if o["kind"] == "Service"}
    assert {name: spec.get("type", "ClusterIP") for name, spec in services.items()} == {
        "api-dask-gateway": "ClusterIP",
        "traefik-dask-gateway": "ClusterIP",
    }
    route = one(rendered, "IngressRoute", "api-dask-gateway")["spec"]["routes"][0]
    assert route["match"] == "PathPrefix(`/services/dask-gateway`)"


def _gateway_config(rendered: list[dict[str, Any]], name: str) -> Config:
    """The gateway's (or controller's) configuration file as the chart renders it, loaded as
    dask-gateway-server loads it (a traitlets config file: `c` in its namespace)."""
    config = Config()
    source = one(rendered, "ConfigMap", name)["data"]["dask_gateway_config.py"]
    exec(compile(source, f"{name}/dask_gateway_config.py", "exec"), {"c": config, "__file__": "/etc/x/config.py"})
    return config


def test_the_gateway_trusts_only_tokens_with_access_to_its_hub_service(rendered: list[dict[str, Any]]) -> None:
    from dask_gateway_server.auth import JupyterHubAuthenticator

    config = _gateway_config(rendered, "api-dask-gateway")
    # The hub's authenticator, with the dashboard login check added (hub_config/dask_dashboard_login.py).
    authenticator_class = config.DaskGateway.authenticator_class
    assert issubclass(authenticator_class, JupyterHubAuthenticator)
    authenticator = authenticator_class(config=config)
    assert authenticator.jupyterhub_service_name == dgv.HUB_SERVICE
    assert authenticator.use_service_access_scopes is True
    assert authenticator.jupyterhub_api_url == "http://hub.jupyterhub:8081/hub/api"
    api = one(rendered, "Deployment", "api-dask-gateway")["spec"]["template"]["spec"]["containers"][0]
    (token,) = [e for e in api["env"] if e["name"] == "JUPYTERHUB_API_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": dgv.HUB_TOKEN_SECRET, "key": dgv.HUB_TOKEN_KEY}


def controller_pods(
    rendered: list[dict[str, Any]], groups: list[str], user: str = "alice"
) -> dict[str, dict[str, Any]]:
    """A scheduler and a worker as the real controller makes them for a cluster a member of `groups`
    starts with the default options (the gateway's cluster options, then KubeClusterConfig, then
    KubeController.make_pod, with the configuration files the chart renders)."""
    gateway = _gateway_config(rendered, "api-dask-gateway")
    options = gateway.Backend.cluster_options(User(user, groups=groups))
    overrides = options.get_configuration(options.parse_options({}), User(user, groups=groups))
    cluster_config = KubeClusterConfig(config=gateway, **overrides)
    controller = KubeController(config=_gateway_config(rendered, "controller-dask-gateway"))
    frozen = FrozenAttrDict(cluster_config.to_dict())
    return {
        "scheduler": controller.make_pod("dask-gateway", "abc", frozen, is_worker=False),
        "worker": controller.make_pod("dask-gateway", "abc", frozen, is_worker=True),
    }


def test_schedulers_and_workers_pass_restricted_and_get_no_kubernetes_token(rendered: list[dict[str, Any]]) -> None:
    pods = controller_pods(rendered, ["data-science"])
    for role, pod in pods.items():
        spec = pod["spec"]
        assert pod_restricted_violations(spec) == {}, role
        assert spec["automountServiceAccountToken"] is False, role
        assert spec["activeDeadlineSeconds"] == 12 * 3600, role  # maxLifetimeHours
        assert spec["containers"][0]["image"] == rendered_worker_image(rendered), role
    assert pods["worker"]["spec"]["nodeSelector"] == {"node-purpose": "dask-worker"}
    assert pods["scheduler"]["spec"]["nodeSelector"] == {"node-purpose": "core"}
    worker = pods["worker"]["spec"]["containers"][0]["resources"]
    assert worker == {"requests": {"cpu": "2.000", "memory": str(8 * 1024**3)}, "limits": worker["requests"]}


# Hub names the label value must survive: valid as they are, an e-mail, "--" (KubeSpawner hashes those),
# capitals, a leading digit or symbol, non-ASCII, longer than a label value, nothing label-safe at all.
HUB_NAMES = ["alice", "Alice.Smith@example.org", "bob--smith", "Bob_Smith", "1user", "_x_", "jörg", "a" * 70, "@@@"]


def test_schedulers_and_workers_carry_their_users_cost_label_as_kubespawner_labels_servers(
    rendered: list[dict[str, Any]],
) -> None:
    """The per-user cost query (bootstrap/cost_export.py) reads USERNAME_LABELS from the pods' cost allocation
    tags and groups by COALESCE(server's, dask's): the controller's pods must carry the Dask one, a valid label
    value, equal to the one KubeSpawner (7.0.0, the real slug function) gives the same user's server, so one user
    is one row key. Mutation: the options hook without the labels (the backend labels no user)."""
    from kubespawner.slugs import is_valid_label, safe_slug

    from bootstrap.cost_export import USERNAME_LABELS

    server_label, dask_label = USERNAME_LABELS
    values = set()
    for name in HUB_NAMES:
        pods = controller_pods(rendered, ["data-science"], user=name)
        value = pods["scheduler"]["metadata"]["labels"].get(dask_label)
        assert value == pods["worker"]["metadata"]["labels"].get(dask_label), name
        assert value == safe_slug(name, is_valid=is_valid_label), name  # the server's `hub.jupyter.org/username`
        assert value and len(value) <= 63 and value[0].isalnum() and value[-1].isalnum(), name
        assert set(value) <= set("-_." + string.ascii_letters + string.digits), name
        values.add(value)
    assert len(values) == len(HUB_NAMES)  # no two users share a row
    assert server_label == "hub.jupyter.org/username"


def rendered_worker_image(rendered: list[dict[str, Any]]) -> str:
    return str(_gateway_config(rendered, "api-dask-gateway").KubeClusterConfig.image)


def test_the_worker_image_is_the_user_servers_image(
    plans: dict[str, Inventory], rendered: list[dict[str, Any]]
) -> None:
    user_image = hub_release(plans["prod"])["values"]["singleuser"]["image"]
    assert rendered_worker_image(rendered) == f"{user_image['name']}:{user_image['tag']}"


def test_the_restricted_check_sees_the_controllers_pods(rendered: list[dict[str, Any]]) -> None:
    """Mutation: without the values' security contexts the controller's pods are refused."""
    values_less = copy.deepcopy(rendered)
    for document in values_less:
        if document["kind"] == "ConfigMap" and document["metadata"]["name"] == "api-dask-gateway":
            source = document["data"]["dask_gateway_config.py"]
            document["data"]["dask_gateway_config.py"] = source + (
                "\nc.KubeClusterConfig.worker_extra_container_config = {}\n"
                "c.KubeClusterConfig.worker_extra_pod_config = {}\n"
            )
    found = pod_restricted_violations(controller_pods(values_less, ["data-science"])["worker"]["spec"])
    assert "allowPrivilegeEscalation must be false" in found["dask-worker"]


def test_the_hub_registers_the_service_and_grants_it_to_the_named_groups_only(plans: dict[str, Inventory]) -> None:
    values = hub_release(plans["prod"])["values"]
    service = values["hub"]["services"]["dask-gateway"]
    assert service["url"] == "http://traefik-dask-gateway.dask-gateway:80"
    assert service["apiToken"] == "[secret]"  # the program's generated token, a Pulumi secret
    # The dashboards' browser login: the hub's OAuth sends its code to the api's callback, at the service's
    # prefix (the hub's proxy and traefik's api route, prefix stripped, lead there).
    assert service["oauth_redirect_uri"] == "/services/dask-gateway/api/v1/dashboard-oauth-callback"
    assert service["oauth_no_confirm"] is True
    assert values["hub"]["loadRoles"]["dask-gateway-users"] == {
        "description": "May use Dask Gateway (daskGateway.groups)",
        "scopes": ["access:services!service=dask-gateway"],
        "groups": ["data-science", "ml-research"],
    }
    assert "access:services!service=dask-gateway" in values["hub"]["config"]["KubeSpawner"]["server_token_scopes"]
    env = values["singleuser"]["extraEnv"]
    assert env["DASK_GATEWAY__ADDRESS"] == "http://traefik-dask-gateway.dask-gateway:80/services/dask-gateway"
    assert env["DASK_GATEWAY__AUTH__TYPE"] == "jupyterhub"
    assert env["DASK_GATEWAY__PUBLIC_ADDRESS"] == "https://hub.example.org/services/dask-gateway"
    dev = hub_release(plans["dev"])["values"]
    assert "services" not in dev["hub"] and "loadRoles" not in dev["hub"]


def _quantity(value: str) -> float:
    from catalog.instance_types import quantity

    return float(quantity(value))


def test_the_namespace_quota_and_limits_admit_the_gateway_and_a_cluster_at_its_caps(
    plans: dict[str, Inventory], rendered: list[dict[str, Any]]
) -> None:
    """A ResourceQuota on cpu and memory refuses a pod whose containers set no resources unless the
    LimitRange fills them in (the chart's api, controller and traefik set none); the controller's pods
    set theirs, within the LimitRange's max; one cluster at its caps fits in the quota."""
    plan = plans["prod"]
    quota = plan.one("kubernetes:core/v1:ResourceQuota", "-dask-quota").inputs["spec"]["hard"]
    (limits,) = plan.one("kubernetes:core/v1:LimitRange", "-dask-limits").inputs["spec"]["limits"]
    for name, spec in charts.pod_templates(rendered):
        for container in spec["containers"]:
            assert not container.get("resources"), f"{name} sets resources: the LimitRange defaults do not apply"
    assert set(limits["default"]) == set(limits["defaultRequest"]) == {"cpu", "memory"}
    for role, pod in controller_pods(rendered, ["data-science"]).items():
        resources = pod["spec"]["containers"][0]["resources"]
        for kind in ("cpu", "memory"):
            assert _quantity(resources["limits"][kind]) <= _quantity(limits["max"][kind]), role
    values = gateway_chart(plan).inputs["values"]
    assert _quantity(quota["limits.cpu"]) >= 64 and _quantity(quota["limits.memory"]) >= _quantity("256Gi")
    assert values["gateway"]["backend"]["worker"]["extraPodConfig"]["nodeSelector"]


def test_a_cluster_cap_above_the_namespace_quota_is_refused() -> None:
    from settings.dask import DaskGatewaySettings

    with pytest.raises(ValueError, match="exceed the namespace's"):
        DaskGatewaySettings(enabled=True, groups=["a"], max_cores=300)


def test_workers_run_on_their_spot_pool_from_zero_and_schedulers_on_demand(
    plans: dict[str, Inventory], rendered: list[dict[str, Any]]
) -> None:
    """The worker pool is Spot with several instance types, scales from zero with the autoscaler told
    its label and taint (the ASG's template tags), and is tainted so only the workers (which tolerate
    it, with the pool's node selector) land there; schedulers go to the on-demand core nodes."""
    plan = plans["prod"]
    groups = [
        g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if g.inputs["labels"]["node-purpose"] == "dask-worker"
    ]
    assert len(groups) == 3  # one per zone
    core = [g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if g.inputs["labels"]["node-purpose"] == "core"]
    assert {g.inputs.get("capacityType", "ON_DEMAND") for g in core} == {"ON_DEMAND"}
    tags = {
        (t.inputs["tag"]["key"], t.inputs["tag"]["value"])
        for t in plan.of_type("aws:autoscaling/tag:Tag")
        if "-dask-worker-" in t.name
    }
    pods = controller_pods(rendered, ["data-science"])
    worker = pods["worker"]["spec"]
    for group in groups:
        inputs = group.inputs
        assert inputs["capacityType"] == "SPOT" and len(inputs["instanceTypes"]) >= 2
        assert inputs["scalingConfig"]["minSize"] == 0
        (taint,) = inputs["taints"]
        toleration = {"key": taint["key"], "operator": "Equal", "value": taint["value"], "effect": "NoSchedule"}
        assert toleration in worker["tolerations"]
        assert worker["nodeSelector"].items() <= inputs["labels"].items()
    prefix = "k8s.io/cluster-autoscaler/node-template"
    assert tags == {
        (f"{prefix}/label/node-purpose", "dask-worker"),
        (f"{prefix}/taint/jhub-eks/dedicated", "dask-worker:NoSchedule"),
    }
    assert pods["scheduler"]["spec"]["nodeSelector"] == {"node-purpose": "core"}
    assert "tolerations" not in pods["scheduler"]["spec"] or pods["scheduler"]["spec"]["tolerations"] == []


def test_workers_get_no_aws_identity(plans: dict[str, Inventory], rendered: list[dict[str, Any]]) -> None:
    """Until per-user credentials are forwarded to workers (not built), workers hold none: no EKS Pod
    Identity association in the Dask namespace, no IRSA annotation, no Kubernetes token, and their
    NetworkPolicy (tests/test_dask_reachability.py) keeps them off the metadata service and the Pod
    Identity agent (IMDS hop limit 1 besides). So a worker reads nobody's data, the user's own included."""
    plan = plans["prod"]
    associations = plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert associations and all(a.inputs["namespace"] != "dask-gateway" for a in associations)
    pods = controller_pods(rendered, ["data-science"])
    for pod in pods.values():
        assert "serviceAccountName" not in pod["spec"]  # the namespace's default account, no association
        assert pod["spec"]["automountServiceAccountToken"] is False
        env = {e["name"] for e in pod["spec"]["containers"][0]["env"]}
        assert not {n for n in env if n.startswith("AWS_")}


def test_the_gateway_down_alarm_and_the_widget_read_the_pods_the_chart_and_controller_name(
    plans: dict[str, Inventory], rendered: list[dict[str, Any]]
) -> None:
    """Container Insights names a Deployment's pods by the Deployment (components/dashboard.py): the
    alarm watches the api's and traefik's as the chart names them, in the gateway's namespace, and
    counts a silent minute as down; the widget's searches match the controller's pod names."""
    import json

    plan = plans["prod"]
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "dask-gateway-down").inputs
    deployments = {o["metadata"]["name"] for o in rendered if o["kind"] == "Deployment"}
    watched = {q["metric"]["dimensions"]["PodName"] for q in alarm["metricQueries"] if "metric" in q}
    assert watched == deployments - {"controller-dask-gateway"}
    assert {q["metric"]["dimensions"]["Namespace"] for q in alarm["metricQueries"] if "metric" in q} == {
        gateway_chart(plan).inputs["namespace"]
    }
    assert alarm["treatMissingData"] == "breaching" and alarm["comparisonOperator"] == "LessThanThreshold"
    topic = plan.one("aws:sns/topic:Topic").arn
    assert alarm["alarmActions"] == [topic]
    body = json.loads(plan.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    (widget,) = [w for w in body["widgets"] if w["properties"]["title"] == "Dask clusters and workers"]
    pods = controller_pods(rendered, ["data-science"])
    names = {"clusters": pods["scheduler"]["metadata"]["name"], "workers": pods["worker"]["metadata"]["generateName"]}
    for (query,) in widget["properties"]["metrics"]:
        token = query["expression"].split("PodName=")[1].split("'")[0]
        assert names[query["id"]].startswith(f"{token}-"), query["id"]
        assert 'Namespace="dask-gateway"' in query["expression"]


def dashboard_route(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    """The route to a cluster's dashboard as the real controller makes it from its rendered configuration."""
    controller = KubeController(config=_gateway_config(rendered, dgv.CONTROLLER))
    (route,) = controller.make_ingressroute("abc", "dask-gateway")["spec"]["routes"]
    assert route["services"][0]["port"] == dgv.DASHBOARD_PORT
    return dict(route)


def test_every_dashboard_route_asks_the_apis_login_check_first(
    plans: dict[str, Inventory], prod_chart: Recorded, rendered: list[dict[str, Any]]
) -> None:
    """dask/dask-gateway#570: the controller's dashboard routes need no login. The program's
    transformation puts its forwardAuth middleware first on them (before the chart's prefix strip, so
    the check sees which cluster the path names); the Middleware forwards to the api's check on the
    api's Service port, with the caller's Authorization header. Mutation: the chart's configuration
    as rendered (no transformation) routes dashboards with the prefix strip only."""
    plan = plans["prod"]
    namespace = prod_chart.inputs["namespace"]
    route = dashboard_route(rendered)
    assert route["middlewares"][0] == {"name": dgv.DASHBOARD_LOGIN_MIDDLEWARE, "namespace": namespace}
    (middleware,) = [r for r in plan.of_type("kubernetes:traefik.io/v1alpha1:Middleware")]
    metadata = middleware.inputs["metadata"]
    assert (metadata["name"], metadata["namespace"]) == (dgv.DASHBOARD_LOGIN_MIDDLEWARE, namespace)
    forward = middleware.inputs["spec"]["forwardAuth"]
    service = one(rendered, "Service", dgv.API_SERVICE)["spec"]
    assert dgv.API_PORT in {p["port"] for p in service["ports"]}
    assert forward["address"] == f"http://{dgv.API_SERVICE}.{namespace}:{dgv.API_PORT}{dgv.DASHBOARD_LOGIN_PATH}"
    # An API client's token or a browser's cookie (tests/test_dask_gateway_login.py follows a browser).
    assert forward["authRequestHeaders"] == ["Authorization", "Cookie"] and forward["trustForwardHeader"] is False
    # The check is served where the address points: the api's own routes (the /api prefix kept).
    source = one(rendered, "ConfigMap", dgv.API_SERVICE)["data"]["dask_gateway_config.py"]
    assert f'DASHBOARD_LOGIN_PATH = "{dgv.DASHBOARD_LOGIN_PATH}"' in source

    untransformed = [dgv.restrict_pods(document) for document in render(prod_chart)]
    assert dgv.DASHBOARD_LOGIN_MIDDLEWARE not in str(dashboard_route(untransformed)["middlewares"])


def traefik_label_selector(rendered: list[dict[str, Any]]) -> str:
    """The label selector the chart's traefik applies to every traefik.io object it watches (traefik
    pkg/provider/kubernetes/crd/client.go WatchAll: one selector for IngressRoutes and Middlewares)."""
    (container,) = one(rendered, "Deployment", dgv.TRAEFIK_SERVICE)["spec"]["template"]["spec"]["containers"]
    flag = "--providers.kubernetescrd.labelselector="
    (selector,) = [arg.removeprefix(flag) for arg in container["args"] if arg.startswith(flag)]
    return str(selector)


def selects(selector: str, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (k8s.io/apimachinery labels.Parse) selects `labels`; only the
    forms `k=v`, `k==v`, `k!=v`, `k` and `!k`, comma-joined (anything else fails the test, not guessed)."""
    for requirement in selector.split(","):
        requirement = requirement.strip()
        if "!=" in requirement:
            key, value = (part.strip() for part in requirement.split("!=", 1))
            matched = labels.get(key) != value
        elif "=" in requirement:
            key, value = (part.strip() for part in requirement.replace("==", "=").split("=", 1))
            matched = labels.get(key) == value
        elif requirement.startswith("!"):
            matched = requirement[1:].strip() not in labels
        else:
            assert " " not in requirement and "(" not in requirement, f"selector form not modelled: {requirement}"
            matched = requirement in labels
        if not matched:
            return False
    return True


def test_the_charts_traefik_sees_the_login_middleware(
    plans: dict[str, Inventory], rendered: list[dict[str, Any]]
) -> None:
    """Traefik loads only the traefik.io objects its label selector selects, Middlewares included, and
    drops a route whose middleware it has not loaded: the program's Middleware must carry the label the
    rendered traefik Deployment selects on (the controller's own routes do). Mutation: a Middleware
    without labels is not selected."""
    selector = traefik_label_selector(rendered)
    assert selector == "gateway.dask.org/instance=dask-gateway"
    (middleware,) = plans["prod"].of_type("kubernetes:traefik.io/v1alpha1:Middleware")
    assert selects(selector, middleware.inputs["metadata"].get("labels") or {})
    controller = KubeController(config=_gateway_config(rendered, dgv.CONTROLLER))
    assert selects(selector, controller.make_ingressroute("abc", "dask-gateway")["metadata"]["labels"])
    assert not selects(selector, {})
    assert not selects(selector, {dgv.INSTANCE_LABEL: "another-release"})


def test_the_dashboard_check_sends_a_browser_to_the_hubs_public_login(
    plans: dict[str, Inventory], rendered: list[dict[str, Any]]
) -> None:
    """traefik resolves a relative Location of the check's answer against the api's own address: the
    check's redirect into the hub's OAuth flow must name the hub's public URL, the one the stack serves
    the hub at (tests/test_dask_gateway_login.py follows the flow). Mutation: the hub layer not passing
    it (refused at plan time) or passing another."""
    source = one(rendered, "ConfigMap", dgv.API_SERVICE)["data"]["dask_gateway_config.py"]
    namespace: dict[str, Any] = {"c": Config(), "__file__": "/etc/x/config.py"}
    exec(compile(source, "api-dask-gateway/dask_gateway_config.py", "exec"), namespace)
    hub = hub_release(plans["prod"])["values"]["hub"]
    assert namespace["DASK_GATEWAY_HUB_PUBLIC_URL"] == hub["config"]["JupyterHub"]["public_url"].rstrip("/")
    assert namespace["DASK_GATEWAY_HUB_PUBLIC_URL"] == "https://hub.example.org"
    with pytest.raises(ValueError, match="hub_public_url"):
        dgv.gateway_extra_config(dgv.DaskGatewaySettings(), "")


def test_the_gateways_hub_token_is_generated_and_kept_secret(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    token = plan.one("random:index/randomId:RandomId", "-dask-hub-api-token")
    assert token.inputs["byteLength"] == 32 and "hex" in token.additional_secret_outputs
    secret = plan.one("kubernetes:core/v1:Secret", "-dask-hub-api-token")
    assert secret.inputs["metadata"]["name"] == dgv.HUB_TOKEN_SECRET
    assert any(path.startswith("stringData") for path in secret.secret_inputs)


def chart_crd_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of one of the chart's CRDs (crds/traefik.yaml of the release archive)."""
    import tarfile

    import yaml

    with tarfile.open(charts.chart_archive("dask-gateway", dgv_chart_version())) as tar:
        member = tar.extractfile("dask-gateway/crds/traefik.yaml")
        assert member is not None
        documents = list(yaml.safe_load_all(member.read()))
    (crd,) = [d for d in documents if d and d["spec"]["names"]["kind"] == kind]
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def dgv_chart_version() -> str:
    from settings.dask import DaskGatewaySettings

    return str(DaskGatewaySettings().chart_version)


def test_the_login_middleware_is_valid_for_the_charts_traefik_crd(plans: dict[str, Inventory]) -> None:
    import jsonschema

    (middleware,) = plans["prod"].of_type("kubernetes:traefik.io/v1alpha1:Middleware")
    schema = _strict(chart_crd_schema("Middleware"))
    document = {k: middleware.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")}
    jsonschema.validate(document, schema)
    broken = copy.deepcopy(document)
    broken["spec"]["forwardAuth"]["trustForwardHeaders"] = False  # a misspelt field traefik would drop
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def _strict(schema: Any) -> Any:
    """The schema with additionalProperties false on every object that lists its properties (what the
    API server's structural pruning does to unknown fields: it drops them, silently)."""
    if isinstance(schema, dict):
        result = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema
