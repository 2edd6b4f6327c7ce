"""The JupyterHub release as Helm would install it: the real jupyterhub chart (tests/charts.py)
rendered with the values each stack gives its release. The chart's own schema accepts them, every
object is valid Kubernetes at the cluster's version, and every pod the chart makes is admitted by the
Pod Security level its namespace enforces (restricted)."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from helm_python import HelmValuesError

from offline_plan.mock_engine import Inventory
from tests import charts
from tests.pod_security import pod_restricted_violations

# The chart's pods with the stacks' settings: the hub, the proxy, the user scheduler, the user
# placeholders and the image puller (the puller's install hook is off).
CHART_PODS = {
    "Deployment/hub",
    "Deployment/proxy",
    "Deployment/user-scheduler",
    "StatefulSet/user-placeholder",
    "DaemonSet/continuous-image-puller",
}


def hub_release(plan: Inventory) -> dict[str, Any]:
    (release,) = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "jupyterhub"]
    inputs: dict[str, Any] = release.inputs
    return inputs


def render(release: dict[str, Any], values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return charts.render_install(release, values)


_RENDERED: dict[str, list[dict[str, Any]]] = {}


def rendered(plan: Inventory) -> list[dict[str, Any]]:
    """The stack's release, rendered once per session."""
    if plan.stack not in _RENDERED:
        _RENDERED[plan.stack] = render(hub_release(plan))
    return _RENDERED[plan.stack]


def pod_violations(objects: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    return {name: found for name, spec in charts.pod_templates(objects) if (found := pod_restricted_violations(spec))}


def test_the_charts_schema_accepts_the_values(plan: Inventory) -> None:
    release = hub_release(plan)
    charts.load(release["chart"], release["version"]).validate_schema(release["values"])


def test_the_charts_schema_check_bites(plans: dict[str, Inventory]) -> None:
    release = hub_release(plans["dev"])
    chart = charts.load(release["chart"], release["version"])
    values = copy.deepcopy(release["values"])
    values["hub"]["networkPolicy"] = {**values["hub"].get("networkPolicy", {}), "enabled": "yes"}
    with pytest.raises(HelmValuesError, match="/hub/networkPolicy/enabled"):
        chart.validate_schema(values)
    values = copy.deepcopy(release["values"])
    values["hub"]["podSecurityContex"] = {}  # a misspelt key
    with pytest.raises(HelmValuesError, match="podSecurityContex"):
        chart.validate_schema(values)


def test_the_rendered_objects_are_valid_kubernetes(plan: Inventory) -> None:
    version = plan.one("eks:index:Cluster").inputs["version"]
    for document in rendered(plan):
        kubernetes_validate.validate(document, version, strict=True)


def test_every_pod_the_chart_makes_is_admitted_by_its_namespace_level(plan: Inventory) -> None:
    namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace")
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    objects = rendered(plan)
    assert {name for name, _ in charts.pod_templates(objects)} == CHART_PODS
    assert pod_violations(objects) == {}


def test_the_restricted_check_sees_what_the_chart_renders(plans: dict[str, Inventory]) -> None:
    """A host path mounted into the hub, a host port on the proxy, the image puller's own security
    context instead of ours: each is in the rendered pods and each is refused."""
    release = hub_release(plans["dev"])
    values = copy.deepcopy(release["values"])
    values["hub"]["extraVolumes"] = [{"name": "host", "hostPath": {"path": "/"}}]
    values["proxy"]["chp"]["extraPodSpec"] = {"hostNetwork": True}
    values["prePuller"]["containerSecurityContext"] = {"runAsUser": 0}
    found = pod_violations(render(release, values))
    assert "volume host of type ['hostPath'] (hostPath and others refused)" in found["Deployment/hub"]["pod"]
    assert found["Deployment/proxy"]["pod"] == ["hostNetwork must not be set"]
    assert "runAsUser must not be 0" in found["DaemonSet/continuous-image-puller"]["image-pull-singleuser"]


WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
# The chart's pods that talk: each needs a policy that allows it traffic, not only the default deny.
TALKING_PODS = {"Deployment/hub", "Deployment/proxy", "Deployment/user-scheduler"}


def test_every_pod_the_chart_makes_is_selected_by_a_program_policy_for_ingress_and_egress(plan: Inventory) -> None:
    """Under the VPC CNI's strict mode a pod no policy selects gets no traffic, and a pod only the default
    deny selects gets none either: checked on the pods Helm really renders, with their real labels."""
    from tests.test_network_policies import NETWORK_POLICY, _selects

    objects = rendered(plan)
    assert [o for o in objects if o["kind"] == "NetworkPolicy"] == []  # the chart's own are off: ours decide
    namespace = hub_release(plan)["namespace"]
    policies = [p.inputs for p in plan.of_type(NETWORK_POLICY) if p.inputs["metadata"].get("namespace") == namespace]
    problems = []
    for document in objects:
        if document["kind"] not in WORKLOADS:
            continue
        name = f"{document['kind']}/{document['metadata']['name']}"
        labels = document["spec"]["template"]["metadata"].get("labels") or {}
        selecting = [p["spec"] for p in policies if _selects(p["spec"]["podSelector"], labels)]
        for direction in ("Ingress", "Egress"):
            if not any(direction in spec.get("policyTypes", []) for spec in selecting):
                problems.append(f"{name}: no policy selects it for {direction}")
        if name in TALKING_PODS and not any(spec.get("egress") for spec in selecting):
            problems.append(f"{name}: only denied egress (not even DNS)")
        if name in TALKING_PODS - {"Deployment/user-scheduler"} and not any(spec.get("ingress") for spec in selecting):
            problems.append(f"{name}: only denied ingress")
    assert problems == []
