"""The Dask Gateway namespace's NetworkPolicies, declared by the program (the chart ships none,
dask/dask-gateway#360). A default deny, then one policy per kind of pod, on the labels the chart
(2026.3.0 `_helpers.tpl`: `app.kubernetes.io/component` gateway, controller, traefik) and the
controller (`make_pod`: dask-scheduler, dask-worker; `gateway.dask.org/instance`) give them, and the
ports they listen on (data/pods/contract.yaml). Read the module docstring of
components/hub_network_policies.py for how the VPC CNI's agent reads them.

- traefik takes the hub's proxy (the /services/dask-gateway route) and user servers on its web port,
  and forwards to the api and to schedulers' Dask port and dashboard (8787); traefik alone reaches a
  dashboard, which has no login of its own (dask/dask-gateway#570), and only after the api's login
  check (the forwardAuth middleware first on every dashboard route: hub_config/dask_dashboard_login.py);
- the api takes traefik and schedulers (their heartbeats), reaches the hub's API, the Kubernetes API
  and schedulers' gateway API (8788);
- the controller reaches the Kubernetes API only;
- a scheduler takes traefik and workers on 8786 and the api on 8788, reaches the api and workers;
- workers take their scheduler and peer workers (on any port: workers listen on random ports),
  reach schedulers on 8786, peers, and public addresses on 80/443 like user servers (never private
  ranges or the metadata service).

Which cluster a worker belongs to is a label (`gateway.dask.org/cluster`) whose value is known only
at run time, and the VPC CNI's agent keys its rules by pod name prefix (`dask-scheduler` for every
scheduler), so no static policy can confine a worker to its own scheduler: a cluster's scheduler and
workers authenticate each other with the cluster's own TLS certificate (the controller's per-cluster
Secret), which another cluster's pods do not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.dask_gateway_values import (
    API_PORT,
    DASHBOARD_PORT,
    RELEASE_NAME,
    SCHEDULER_API_PORT,
    SCHEDULER_PORT,
)
from components.hub_network_policies import HUB_PORT, PRIVATE_AND_LINK_LOCAL
from components.network_policies import CLUSTER_DNS, KUBERNETES_API_CLUSTER_IP

TRAEFIK_WEB_PORT = 8000


@dataclass(frozen=True)
class DaskNetworkSpec:
    namespace: str
    hub_namespace: str
    hub_release: str
    vpc_cidr: str
    worker_egress_ports: tuple[int, ...] = (80, 443)


def dask_pods(component: str) -> dict[str, Any]:
    """Selector of one kind of the gateway's pods (chart or controller made)."""
    return {"matchLabels": {"gateway.dask.org/instance": RELEASE_NAME, "app.kubernetes.io/component": component}}


def _peer(component: str) -> dict[str, Any]:
    return {"podSelector": dask_pods(component)}


def _hub_peer(spec: DaskNetworkSpec, component: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": spec.hub_namespace}},
        "podSelector": {"matchLabels": {"app": "jupyterhub", "release": spec.hub_release, "component": component}},
    }


def _ports(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _dns() -> dict[str, Any]:
    return {"to": [CLUSTER_DNS], "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def _api(spec: DaskNetworkSpec) -> dict[str, Any]:
    return {
        "to": [{"ipBlock": {"cidr": f"{KUBERNETES_API_CLUSTER_IP}/32"}}, {"ipBlock": {"cidr": spec.vpc_cidr}}],
        "ports": _ports(443),
    }


def _policy(spec: DaskNetworkSpec, name: str, component: str, ingress: list[Any], egress: list[Any]) -> Any:
    return {
        "metadata": {"name": name, "namespace": spec.namespace},
        "spec": {
            "podSelector": dask_pods(component),
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def dask_network_policies(spec: DaskNetworkSpec) -> list[dict[str, Any]]:
    """Every NetworkPolicy of the Dask namespace."""
    deny = {
        "metadata": {"name": "default-deny", "namespace": spec.namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    return [
        deny,
        _policy(
            spec,
            "traefik",
            "traefik",
            [
                {
                    "from": [_hub_peer(spec, "proxy"), _hub_peer(spec, "singleuser-server")],
                    "ports": _ports(TRAEFIK_WEB_PORT),
                }
            ],
            [
                {"to": [_peer("gateway")], "ports": _ports(API_PORT)},
                {"to": [_peer("dask-scheduler")], "ports": _ports(SCHEDULER_PORT, DASHBOARD_PORT)},
                _api(spec),  # its CRD provider watches IngressRoutes
                _dns(),
            ],
        ),
        _policy(
            spec,
            "api",
            "gateway",
            [{"from": [_peer("traefik"), _peer("dask-scheduler")], "ports": _ports(API_PORT)}],
            [
                {"to": [_hub_peer(spec, "hub")], "ports": _ports(HUB_PORT)},
                {"to": [_peer("dask-scheduler")], "ports": _ports(SCHEDULER_API_PORT)},
                _api(spec),
                _dns(),
            ],
        ),
        _policy(spec, "controller", "controller", [], [_api(spec), _dns()]),
        _policy(
            spec,
            "schedulers",
            "dask-scheduler",
            [
                {"from": [_peer("traefik"), _peer("dask-worker")], "ports": _ports(SCHEDULER_PORT)},
                {"from": [_peer("traefik")], "ports": _ports(DASHBOARD_PORT)},  # behind the login check
                {"from": [_peer("gateway")], "ports": _ports(SCHEDULER_API_PORT)},
            ],
            [
                {"to": [_peer("gateway")], "ports": _ports(API_PORT)},
                {"to": [_peer("dask-worker")]},
                _dns(),
            ],
        ),
        _policy(
            spec,
            "workers",
            "dask-worker",
            [{"from": [_peer("dask-scheduler"), _peer("dask-worker")]}],
            [
                {"to": [_peer("dask-scheduler")], "ports": _ports(SCHEDULER_PORT)},
                {"to": [_peer("dask-worker")]},
                _dns(),
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_AND_LINK_LOCAL)}}],
                    "ports": _ports(*spec.worker_egress_ports),
                },
            ],
        ),
    ]


def hub_side_rules(dask_namespace: str) -> dict[str, dict[str, Any]]:
    """What the hub namespace's policies add for the gateway: egress of the proxy and of user servers
    to traefik's web port, ingress of the hub's API from the gateway's api."""
    traefik = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": dask_namespace}},
                "podSelector": dask_pods("traefik"),
            }
        ],
        "ports": _ports(TRAEFIK_WEB_PORT),
    }
    api = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": dask_namespace}},
        "podSelector": dask_pods("gateway"),
    }
    return {"proxy_egress": traefik, "user_egress": traefik, "hub_ingress_from": api}
