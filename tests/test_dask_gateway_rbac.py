"""The gateway's api and controller with the least Kubernetes access their code needs
(components/dask_gateway_rbac.py), against the real chart 2026.3.0 (its own ClusterRoles, rendered with
the program's values but without its ServiceAccount names) and the real dask-gateway-server 2026.3.0
(what its informers list in every namespace)."""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any

import pytest
from dask_gateway_server.backends.kubernetes import backend, controller

from components import dask_gateway_values as dgv
from offline_plan.mock_engine import Inventory, Recorded
from tests.test_dask_gateway import gateway_chart, render

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
CLUSTER_SCOPED = {"nodes", "ingressclasses"}
READ_VERBS = {"get", "list", "watch"}


def dask_namespace(plan: Inventory) -> str:
    return str(gateway_chart(plan).inputs["namespace"])


def bound_rules(plan: Inventory, account: str, kind: str) -> list[dict[str, Any]]:
    """The rules of every `kind` (Role or ClusterRole) the plan binds to the ServiceAccount `account`."""
    namespace = dask_namespace(plan)
    binding_type = f"{RBAC}:{kind}Binding"
    role_names = {
        b.inputs["roleRef"]["name"]
        for b in plan.of_type(binding_type)
        if {"kind": "ServiceAccount", "name": account, "namespace": namespace} in b.inputs["subjects"]
        and b.inputs["roleRef"]["kind"] == kind
    }
    return [
        rule
        for r in plan.of_type(f"{RBAC}:{kind}")
        if r.inputs["metadata"]["name"] in role_names
        for rule in r.inputs["rules"]
    ]


def allows(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and (verb in rule["verbs"] or "*" in rule["verbs"])
        for rule in rules
    )


@pytest.fixture(scope="module")
def chart(plans: dict[str, Inventory]) -> Recorded:
    return gateway_chart(plans["prod"])


ACCOUNTS = (dgv.API_SERVICE, dgv.CONTROLLER, dgv.TRAEFIK_SERVICE)


def test_the_chart_binds_no_clusterrole(plans: dict[str, Inventory], chart: Recorded) -> None:
    """Mutation: without the values' `rbac` the chart renders its ClusterRoles (pods, secrets, services
    created and deleted in every namespace; traefik reading every namespace's secrets) and its own
    ServiceAccounts."""
    rendered = render(chart)
    kinds = {o["kind"] for o in rendered}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "ServiceAccount"}
    for account in ACCOUNTS:
        (deployment,) = [o for o in rendered if o["kind"] == "Deployment" and o["metadata"]["name"] == account]
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account
    accounts = {
        (a.inputs["metadata"]["name"], a.inputs["metadata"]["namespace"])
        for a in plans["prod"].of_type("kubernetes:core/v1:ServiceAccount")
    }
    assert {(account, chart.inputs["namespace"]) for account in ACCOUNTS} <= accounts


def test_cluster_wide_the_api_and_the_controller_only_read(plans: dict[str, Inventory]) -> None:
    """Traefik has no ClusterRole at all. Mutation: `create` on pods in the controller's ClusterRole."""
    for account in (dgv.API_SERVICE, dgv.CONTROLLER):
        rules = bound_rules(plans["prod"], account, "ClusterRole")
        assert rules, account
        assert {verb for rule in rules for verb in rule["verbs"]} <= READ_VERBS, account
    assert bound_rules(plans["prod"], dgv.TRAEFIK_SERVICE, "ClusterRole") == []


def test_traefik_keeps_in_its_namespace_every_permission_the_chart_gives_it(
    plans: dict[str, Inventory], chart: Recorded
) -> None:
    """The chart's own ClusterRole for traefik (rendered from the program's values without its ServiceAccount
    names), but for the cluster-scoped objects it is told not to look up (test below), is granted in the
    Dask namespace by the program's Role. Mutation: the Role without secrets."""
    values = copy.deepcopy(chart.inputs["values"])
    del values["rbac"]
    chart_roles = {o["metadata"]["name"]: o["rules"] for o in render(chart, values) if o["kind"] == "ClusterRole"}
    assert set(chart_roles) == set(ACCOUNTS)
    granted = bound_rules(plans["prod"], dgv.TRAEFIK_SERVICE, "Role")
    for rule in chart_roles[dgv.TRAEFIK_SERVICE]:
        for group in rule["apiGroups"]:
            for resource in set(rule["resources"]) - CLUSTER_SCOPED:
                missing = [verb for verb in rule["verbs"] if not allows(granted, group, resource, verb)]
                assert missing == [], (group, resource)


# kubernetes_asyncio's method verbs, and its core resources by the method's last word.
METHOD_VERBS = {"create": "create", "delete": "delete", "patch": "patch", "read": "get", "replace": "update"}


def calls_in_namespace(module: Any) -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of every namespaced call the module's Kubernetes clients make."""
    found = set()
    for match in re.finditer(r"self\.(core_client|custom_client)\.(\w+)\(([^)]*)\)", inspect.getsource(module)):
        client, method, arguments = match.groups()
        verb = METHOD_VERBS[method.split("_")[0]]
        literals = re.findall(r'"([^"]+)"', arguments)
        if client == "custom_client":
            group, resource = literals[0], next(x for x in literals if x.endswith("s") and "." not in x)
            if method.endswith("_status"):
                resource += "/status"
        else:
            group, resource = "", method.removeprefix(f"{method.split('_')[0]}_namespaced_") + "s"
        found.add((group, resource, verb))
    return found


@pytest.mark.parametrize(("module", "account"), [(backend, dgv.API_SERVICE), (controller, dgv.CONTROLLER)])
def test_every_call_the_code_makes_in_the_namespace_is_granted_there(
    plans: dict[str, Inventory], module: Any, account: str
) -> None:
    """Each create, patch, delete and read of the real api (backend.py) and controller (controller.py) is
    allowed in the Dask namespace by the program's Role or ClusterRole, with no wildcard (checkov
    CKV_K8S_49). Mutation: the controller's Role without secrets (it cannot store a cluster's
    credentials: no cluster starts)."""
    calls = calls_in_namespace(module)
    assert len(calls) >= (2 if account == dgv.API_SERVICE else 7), calls
    granted = bound_rules(plans["prod"], account, "Role") + bound_rules(plans["prod"], account, "ClusterRole")
    assert [call for call in sorted(calls) if not allows(granted, *call)] == []
    assert all("*" not in rule["verbs"] for rule in granted)


# The informers' list methods of kubernetes_asyncio and the resource each lists in every namespace.
ALL_NAMESPACES = {
    "list_pod_for_all_namespaces": ("", "pods"),
    "list_endpoints_for_all_namespaces": ("", "endpoints"),
    "list_cluster_custom_object": ("gateway.dask.org", "daskclusters"),
}


@pytest.mark.parametrize(("module", "account"), [(backend, dgv.API_SERVICE), (controller, dgv.CONTROLLER)])
def test_what_the_code_lists_in_every_namespace_is_readable_cluster_wide(
    plans: dict[str, Inventory], module: Any, account: str
) -> None:
    """Every informer of the real api (backend.py) and controller (controller.py) lists and watches in every
    namespace; without list and watch cluster-wide it never syncs. Mutation: pods left out of the
    controller's ClusterRole."""
    methods = set(re.findall(r'method="(list_\w+)"', inspect.getsource(module)))
    assert methods and methods <= set(ALL_NAMESPACES), methods
    rules = bound_rules(plans["prod"], account, "ClusterRole")
    for method in methods:
        group, resource = ALL_NAMESPACES[method]
        assert allows(rules, group, resource, "list") and allows(rules, group, resource, "watch"), (account, resource)


def test_traefik_watches_only_the_dask_namespace_and_nothing_cluster_scoped(chart: Recorded) -> None:
    """With a Role only, traefik 3.3.5 must list in its namespace only (`--providers.kubernetescrd.namespaces`:
    without it every informer lists in all namespaces and is refused) and start no informer of nodes
    (`disableclusterscoperesources`: the CRD provider's one cluster-scoped informer, client.go WatchAll);
    a cache that never syncs and traefik serves no route. Mutation: either flag left out."""
    rendered = render(chart)
    (traefik,) = [o for o in rendered if o["kind"] == "Deployment" and o["metadata"]["name"] == dgv.TRAEFIK_SERVICE]
    (container,) = traefik["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert f"--providers.kubernetescrd.namespaces={chart.inputs['namespace']}" in args
    assert "--providers.kubernetescrd.disableclusterscoperesources=true" in args
    assert "--providers.kubernetesingress" not in " ".join(args)  # the one provider that reads IngressClasses
