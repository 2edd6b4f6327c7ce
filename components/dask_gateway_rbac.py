"""The gateway's api and controller with the least Kubernetes access their code needs: the program's own
ServiceAccounts (the chart's `rbac.gateway.serviceAccountName` / `rbac.controller.serviceAccountName`:
given one, the chart renders no ServiceAccount, ClusterRole or ClusterRoleBinding for that component,
templates/gateway/rbac.yaml and templates/controller/rbac.yaml), bound to

- a ClusterRole that may only read (get, list, watch) what the code watches in every namespace: in
  dask-gateway-server 2026.3.0 the api's informer lists DaskClusters with `list_cluster_custom_object`
  (backends/kubernetes/backend.py), the controller's list DaskClusters, pods and endpoints with
  `list_cluster_custom_object`, `list_pod_for_all_namespaces` and `list_endpoints_for_all_namespaces`
  (controller.py); there is no option to watch one namespace, so this part cannot be namespaced;
- a Role in the Dask namespace with the writes the code makes: every object it creates, changes or deletes
  is in the cluster's namespace (`create_namespaced_pod`,
  `create_namespaced_secret`, `patch_namespaced_custom_object_status`, ...), which is the gateway's
  (`KubeClusterConfig.namespace` defaults to the pod's own).

The chart's ClusterRoles grant these writes in every namespace: its controller could create a pod in
kube-system. Traefik (3.3.5 in the chart) reads secrets and services in every namespace under the chart's
ClusterRole; told to watch the Dask namespace only (`--providers.kubernetescrd.namespaces`) and to look up
no cluster-scoped object (`--providers.kubernetescrd.disableclusterscoperesources`: its CRD provider's
only one is the nodes informer, pkg/provider/kubernetes/crd/client.go WatchAll), it needs a Role only
(the flags: components/dask_gateway_values.py, `traefik.additionalArguments`)."""

from __future__ import annotations

import copy
from typing import Any

from components.dask_gateway_values import API_SERVICE, CONTROLLER, TRAEFIK_SERVICE

READ_VERBS = ["get", "list", "watch"]
CLUSTER_READS: dict[str, list[dict[str, Any]]] = {
    API_SERVICE: [{"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters"], "verbs": READ_VERBS}],
    CONTROLLER: [
        {"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters"], "verbs": READ_VERBS},
        {"apiGroups": [""], "resources": ["pods", "endpoints"], "verbs": READ_VERBS},
    ],
    TRAEFIK_SERVICE: [],
}
"""What each component lists in every namespace (the informers above), read-only."""
_TRAEFIK_KINDS = [
    "ingressroutes",
    "ingressroutetcps",
    "ingressrouteudps",
    "middlewares",
    "middlewaretcps",
    "serverstransports",
    "serverstransporttcps",
    "tlsoptions",
    "tlsstores",
    "traefikservices",
]
NAMESPACE_RULES: dict[str, list[dict[str, Any]]] = {
    # The calls of 2026.3.0 in the namespace, no wildcard (the chart grants `*` on DaskClusters): the api
    # creates a DaskCluster and patches it to stop it, and reads a cluster's credentials (backend.py); the
    # controller deletes DaskClusters and patches their status, creates and deletes pods and credentials,
    # creates the scheduler's service and routes (controller.py; those go with their scheduler pod, their
    # owner, by Kubernetes' garbage collection).
    API_SERVICE: [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        {"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters"], "verbs": ["create", "patch"]},
    ],
    CONTROLLER: [
        {"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters"], "verbs": ["delete"]},
        {"apiGroups": ["gateway.dask.org"], "resources": ["daskclusters/status"], "verbs": ["patch"]},
        {"apiGroups": ["traefik.io"], "resources": ["ingressroutes", "ingressroutetcps"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["create", "delete"]},
        {"apiGroups": [""], "resources": ["services"], "verbs": ["create"]},
    ],
    # templates/traefik/rbac.yaml of the chart 2026.3.0 without its cluster-scoped resources (nodes,
    # ingressclasses), in the namespace only.
    TRAEFIK_SERVICE: [
        {"apiGroups": [""], "resources": ["secrets", "services"], "verbs": READ_VERBS},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        {"apiGroups": ["traefik.io"], "resources": _TRAEFIK_KINDS, "verbs": READ_VERBS},
    ],
}


def gateway_rbac(namespace: str) -> list[dict[str, Any]]:
    """The ServiceAccount, ClusterRole (reads), ClusterRoleBinding, Role (the rest) and RoleBinding of the
    api and the controller. Cluster-scoped names carry the namespace (two gateways never share one)."""
    objects: list[dict[str, Any]] = []
    for account in (API_SERVICE, CONTROLLER, TRAEFIK_SERVICE):
        cluster_name = f"{namespace}-{account}-read"
        subject = [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
        objects.append(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}}
        )
        if CLUSTER_READS[account]:
            objects += [
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
            ]
        objects += [
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
