"""The hub namespace's NetworkPolicies, declared by the program (the chart's own are off).

Each is its own Kubernetes object, so `pulumi preview` shows every rule. A default deny selects every
pod of the namespace; then one policy per component allows exactly what it needs. Selectors use the
labels of data/pods/contract.yaml (z2jh 4.4.0 and KubeSpawner 7.0.0 with the chart's configuration),
ports the containers' named ports where the chart names them. With `incident.lockdown` only the
default deny is declared.

How the VPC CNI's agent sees traffic shapes the rules: pods reach the Kubernetes API at the
`kubernetes` Service's ClusterIP (the agent sees that address, not the control plane's), a pod peer
also admits the ClusterIPs of Services that select it (the controller adds them), and link-local
addresses (the Pod Identity agent, the instance metadata service) are ordinary ipBlocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.network_policies import CLUSTER_DNS, KUBERNETES_API_CLUSTER_IP

# Pod Identity agent on every node (credentials for the user role); the metadata service is
# 169.254.169.254 and stays unreachable (it lies in the link-local range excepted below).
POD_IDENTITY_AGENT = "169.254.170.23/32"
PRIVATE_AND_LINK_LOCAL = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]

HUB_PORT = 8081
PROXY_HTTP_PORT = 8000
PROXY_API_PORT = 8001
USER_SERVER_PORT = 8888


@dataclass(frozen=True)
class HubNetworkSpec:
    namespace: str
    release: str
    https_mode: str
    """`letsencrypt` adds autohttps; `secret` makes the proxy itself listen on 8443."""
    vpc_cidr: str
    user_egress_ports: list[tuple[int, str]] = field(default_factory=lambda: [(80, "TCP"), (443, "TCP")])
    pod_identity: bool = True
    lockdown: bool = False
    database_cidrs: list[str] = field(default_factory=list)
    """The private subnets, where the hub's RDS database (components/hub_database.py) has its addresses."""
    database_port: int = 5432
    dask_namespace: str | None = None
    """With Dask Gateway: the proxy and user servers reach its traefik, its api reaches the hub."""


def component(spec: HubNetworkSpec, name: str) -> dict[str, Any]:
    """Selector of one chart component's pods (the chart's legacy match labels)."""
    return {"matchLabels": {"app": "jupyterhub", "release": spec.release, "component": name}}


def _peer(spec: HubNetworkSpec, name: str) -> dict[str, Any]:
    return {"podSelector": component(spec, name)}


def _ports(*ports: tuple[int | str, str]) -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": port} for port, protocol in ports]


def _dns() -> dict[str, Any]:
    return {"to": [CLUSTER_DNS], "ports": _ports((53, "UDP"), (53, "TCP"))}


def _api(spec: HubNetworkSpec) -> dict[str, Any]:
    """The Kubernetes API: its ClusterIP, and the control plane's ENIs in the VPC (after DNAT)."""
    return {
        "to": [{"ipBlock": {"cidr": f"{KUBERNETES_API_CLUSTER_IP}/32"}}, {"ipBlock": {"cidr": spec.vpc_cidr}}],
        "ports": _ports((443, "TCP")),
    }


def _public(ports: list[tuple[int, str]]) -> dict[str, Any]:
    """Public addresses only: never the VPC, other private ranges or link-local (metadata)."""
    return {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_AND_LINK_LOCAL)}}],
        "ports": _ports(*ports),
    }


def _database(spec: HubNetworkSpec) -> list[dict[str, Any]]:
    """The hub's database on RDS: its port in the private subnets, for the hub pod only."""
    if not spec.database_cidrs:
        return []
    return [
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in spec.database_cidrs],
            "ports": _ports((spec.database_port, "TCP")),
        }
    ]


def _policy(spec: HubNetworkSpec, name: str, selector: dict[str, Any], ingress: list[Any], egress: list[Any]) -> Any:
    return {
        "metadata": {"name": name, "namespace": spec.namespace},
        "spec": {"podSelector": selector, "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress},
    }


def hub_network_policies(spec: HubNetworkSpec) -> list[dict[str, Any]]:
    """Every NetworkPolicy of the hub namespace."""
    deny = {
        "metadata": {"name": "default-deny", "namespace": spec.namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    if spec.lockdown:
        return [deny]
    letsencrypt = spec.https_mode == "letsencrypt"
    dask: dict[str, Any] = {}
    if spec.dask_namespace:
        from components.dask_network_policies import hub_side_rules  # it builds on this module's constants

        dask = hub_side_rules(spec.dask_namespace)
    public_proxy_ports: list[tuple[int | str, str]] = []
    if not letsencrypt:
        public_proxy_ports.append(("http", "TCP"))
    if spec.https_mode == "secret":
        public_proxy_ports.append(("https", "TCP"))
    proxy_ingress: list[Any] = [{"from": [_peer(spec, "hub")], "ports": _ports(("api", "TCP"))}]
    if public_proxy_ports:
        proxy_ingress.append({"ports": _ports(*public_proxy_ports)})  # from anywhere: the load balancer
    if letsencrypt:
        proxy_ingress.append({"from": [_peer(spec, "autohttps")], "ports": _ports(("http", "TCP"))})
    policies = [
        deny,
        _policy(
            spec,
            "proxy",
            component(spec, "proxy"),
            proxy_ingress,
            [
                {"to": [_peer(spec, "hub")], "ports": _ports((HUB_PORT, "TCP"))},
                {"to": [_peer(spec, "singleuser-server")], "ports": _ports((USER_SERVER_PORT, "TCP"))},
                _dns(),
                *([dask["proxy_egress"]] if dask else []),
            ],
        ),
        _policy(
            spec,
            "hub",
            component(spec, "hub"),
            [
                {
                    "from": [
                        _peer(spec, "proxy"),
                        _peer(spec, "singleuser-server"),
                        *([dask["hub_ingress_from"]] if dask else []),
                    ],
                    "ports": _ports(("http", "TCP")),
                }
            ],
            [
                _api(spec),
                {"to": [_peer(spec, "proxy")], "ports": _ports((PROXY_API_PORT, "TCP"))},
                {"to": [_peer(spec, "singleuser-server")], "ports": _ports((USER_SERVER_PORT, "TCP"))},
                _public([(443, "TCP")]),  # the identity provider (GitHub's OAuth and API)
                _dns(),
                *_database(spec),
            ],
        ),
    ]
    user_egress: list[Any] = [
        {"to": [_peer(spec, "hub")], "ports": _ports((HUB_PORT, "TCP"))},
        _dns(),
        _public(spec.user_egress_ports),
    ]
    if dask:
        user_egress.append(dask["user_egress"])
    if spec.pod_identity:
        user_egress.append({"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}], "ports": _ports((80, "TCP"))})
    policies.append(
        _policy(
            spec,
            "user-servers",
            component(spec, "singleuser-server"),
            [
                {
                    "from": [_peer(spec, "proxy"), _peer(spec, "hub")],
                    "ports": _ports(("notebook-port", "TCP")),
                }
            ],
            user_egress,
        )
    )
    # z2jh's user-scheduler places user pods; the chart (4.4.0) has no policy for it. It needs the
    # API and DNS, and takes no connections (its probes come from the node, which the agent always
    # admits for a selected pod).
    policies.append(_policy(spec, "user-scheduler", component(spec, "user-scheduler"), [], [_api(spec), _dns()]))
    if letsencrypt:
        policies.append(
            _policy(
                spec,
                "autohttps",
                component(spec, "autohttps"),
                [{"ports": _ports(("http", "TCP"), ("https", "TCP"))}],  # from anywhere: the load balancer
                [
                    {"to": [_peer(spec, "proxy")], "ports": _ports((PROXY_HTTP_PORT, "TCP"))},
                    _public([(443, "TCP")]),  # ACME (Let's Encrypt)
                    _api(spec),  # stores the certificate in a secret
                    _dns(),
                ],
            )
        )
    return policies
