"""What the Dask Gateway's accounts may read in every namespace is exactly what the real dask-gateway-server
2026.3.0 informers list there, nothing more (security review of components/dask_gateway_rbac.py). The ClusterRoles
grant only reads (tests/test_dask_gateway_rbac.py), but a read of secrets cluster-wide would hand the api or the
controller the hub's, the cloud controllers' and every namespace's credentials: the check here bounds the resources,
so a secrets (or wildcard) rule added to CLUSTER_READS fails. Pods cluster-wide stay readable by the controller
(its informer lists them in every namespace, and RBAC cannot narrow a list to a label selector): a user server's
pod carries its hub API token in its env (KubeSpawner 7.0.0 sets JUPYTERHUB_API_TOKEN as a plain value), which the
chart's own controller ClusterRole could read as well; docs/dask.md names this."""

from __future__ import annotations

import inspect
import re

import pytest
from dask_gateway_server.backends.kubernetes import backend, controller

from components import dask_gateway_values as dgv
from offline_plan.mock_engine import Inventory
from tests.test_dask_gateway_rbac import ALL_NAMESPACES, RBAC, bound_rules, dask_namespace


def listed_in_every_namespace(module: object) -> set[tuple[str, str]]:
    methods = set(re.findall(r'method="(list_\w+)"', inspect.getsource(module)))  # type: ignore[arg-type]
    assert methods, module
    return {ALL_NAMESPACES[method] for method in methods}


@pytest.mark.parametrize("plan", ["prod"], indirect=True)  # dev runs no gateway
@pytest.mark.parametrize(
    ("module", "account"), [(backend, dgv.API_SERVICE), (controller, dgv.CONTROLLER), (None, dgv.TRAEFIK_SERVICE)]
)
def test_cluster_wide_reads_are_the_informers_lists_only(plan: Inventory, module: object, account: str) -> None:
    needed = listed_in_every_namespace(module) if module is not None else set()
    granted = set()
    for rule in bound_rules(plan, account, "ClusterRole"):
        assert "*" not in rule["apiGroups"] and "*" not in rule["resources"], (account, rule)
        granted |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    assert ("", "secrets") not in granted, account
    assert granted == needed, account


@pytest.mark.parametrize("plan", ["prod"], indirect=True)  # dev runs no gateway
def test_no_clusterrole_is_bound_to_the_namespace_as_a_group(plan: Inventory) -> None:
    """A binding to a group that holds the Dask namespace's accounts would give every pod there (schedulers and
    workers run users' code, under the namespace's default account) what it grants; bindings name single accounts.
    """
    namespace = dask_namespace(plan)
    broad = {"system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"}
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for binding in plan.of_type(f"{RBAC}:{kind}"):
            for subject in binding.inputs.get("subjects") or []:
                assert not (subject["kind"] == "Group" and subject["name"] in broad), (binding.name, subject)
                if subject["kind"] == "ServiceAccount" and subject.get("namespace") == namespace:
                    assert subject["name"] != "default", binding.name
