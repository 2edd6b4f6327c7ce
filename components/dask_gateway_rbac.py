"""The gateway's api and controller with the least Kubernetes access their code needs: the program's own
ServiceAccounts (the chart's `rbac.gateway.serviceAccountName` / `rbac.controller.serviceAccountName`:
given one, the chart renders no ServiceAccount, ClusterRole or ClusterRoleBinding for that component,
templates/gateway/rbac.yaml and templates/controller/rbac.yaml), bound to

- a ClusterRole that may only read (get, list, watch) what the code watches in every namespace: in
  dask-gateway-server 2026.3.0 the api's informer lists DaskClusters with `list_cluster_custom_object`
  (backends/kubernetes/backend.py), the controller's list DaskClusters, pods and endpoints with
  `list_cluster_custom_object`, `list_pod_for_all_namespaces` and `list_endpoints_for_all_namespaces`
  (controller.py); there is no option to watch one namespace, so this part cannot be namespaced;
- a Role in the Dask namespace with everything else of the chart's ClusterRole: every object the code
  creates, changes or deletes is in the cluster's namespace (`create_namespaced_pod`,
  `create_namespaced_secret`, `patch_namespaced_custom_object_status`, ...), which is the gateway's
  (`KubeClusterConfig.namespace` defaults to the pod's own).

The chart's ClusterRoles grant these writes in every namespace: its controller could create a pod in
kube-system. Traefik keeps the chart's ClusterRole (its own, read-only; see docs/dask.md)."""

from __future__ import annotations

import copy
from typing import Any

from components.dask_gateway_values import API_SERVICE, CONTROLLER

READ_VERBS = ["get", "list", "watch"]
CLUSTER_READS: dict[str, list[dict[str, Any]]] = {
    API_SERVICE: [{"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters"], "verbs": READ_VERBS}],
    CONTROLLER: [
        {"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters"], "verbs": READ_VERBS},
        {"apiGroups": [""], "resources": ["pods", "endpoints"], "verbs": READ_VERBS},
    ],
}
"""What each component lists in every namespace (the informers above), read-only."""
NAMESPACE_RULES: dict[str, list[dict[str, Any]]] = {
    # templates/gateway/rbac.yaml of the chart 2026.3.0, in the namespace only.
    API_SERVICE: [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        {"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters"], "verbs": ["*"]},
    ],
    # templates/controller/rbac.yaml of the chart 2026.3.0, in the namespace only.
    CONTROLLER: [
        {"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters", "daskclusters/status"], "verbs": ["*"]},
        {
            "apiGroups": ["traefik.io"],
            "resources": ["ingressroutes", "ingressroutetcps"],
            "verbs": ["get", "create", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create", "delete"]},
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["secrets", "services"], "verbs": ["create", "delete"]},
    ],
}


def gateway_rbac(namespace: str) -> list[dict[str, Any]]:
    """The ServiceAccount, ClusterRole (reads), ClusterRoleBinding, Role (the rest) and RoleBinding of the
    api and the controller. Cluster-scoped names carry the namespace (two gateways never share one)."""
    objects: list[dict[str, Any]] = []
    for account in (API_SERVICE, CONTROLLER):
        cluster_name = f"{namespace}-{account}-read"
        subject = [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
        objects += [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": cluster_name},
                "rules": copy.deepcopy(CLUSTER_READS[account]),
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": cluster_name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
                "subjects": copy.deepcopy(subject),
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": account, "namespace": namespace},
                "rules": copy.deepcopy(NAMESPACE_RULES[account]),
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": account, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
                "subjects": copy.deepcopy(subject),
            },
        ]
    return objects
