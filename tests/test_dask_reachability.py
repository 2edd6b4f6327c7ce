"""Dask Gateway's paths, proven by network-config-analyzer (offline_plan/reachability.py) on the pods
of data/pods/contract.yaml with the labels and ports the chart and the controller give them, and the
NetworkPolicies the prod stack declares: user servers reach traefik only; traefik reaches the api and
the schedulers' Dask port and dashboard (behind the api's login check: tests/test_dask_gateway.py,
tests/test_dask_gateway_login.py); the api reaches the hub's API; workers reach schedulers' Dask port
and peer workers; only traefik reaches a dashboard; no Dask pod reaches a private range or the
metadata service. Each property has a mutation of the policies that breaks it."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from offline_plan.mock_engine import Inventory
from offline_plan.reachability import Connection, reachability
from tests.test_reachability import FORBIDDEN_FOR_USERS, NETWORK_POLICY, _addresses, _contains, table

DASK = "dask-gateway/"
HUB = "jupyterhub/"
DASK_PORT = "{protocols:TCP,dst_ports:8786}"


def dask_pods_reach_no_private_range_nor_metadata(conns: list[Connection]) -> list[str]:
    """The api, controller and traefik reach the Kubernetes API (its ClusterIP and the control plane's
    ENIs in the VPC, on 443); schedulers and workers nothing of the VPC, the metadata service or any
    other private range."""
    bad = []
    for c in conns:
        if not c.source.startswith(DASK) or _addresses(c.destination) is None:
            continue
        if _contains(c.destination, "169.254.169.254"):
            bad.append(c.line())
        elif "dask-scheduler" in c.source or "dask-worker" in c.source:
            if any(_contains(c.destination, a) for a in FORBIDDEN_FOR_USERS):
                bad.append(c.line())
        elif c.allowed != "{protocols:TCP,dst_ports:443}":
            bad.append(c.line())
    return bad


def user_servers_reach_only_traefik(conns: list[Connection]) -> list[str]:
    return [
        c.line()
        for c in conns
        if c.source.startswith(HUB + "user-server")
        and c.destination.startswith(DASK)
        and (c.destination, c.allowed) != (DASK + "traefik-dask-gateway", "{protocols:TCP,dst_ports:8000}")
    ]


def only_the_hub_side_enters_the_namespace(conns: list[Connection]) -> list[str]:
    """From outside the namespace, only the hub's proxy and user servers, to traefik's web port."""
    entering = {HUB + "proxy", HUB + "user-server-a", HUB + "user-server-b"}
    return [
        c.line()
        for c in conns
        if c.destination.startswith(DASK)
        and not c.source.startswith(DASK)
        and not (c.source in entering and c.destination == DASK + "traefik-dask-gateway")
    ]


def only_traefik_reaches_a_dashboard(conns: list[Connection]) -> list[str]:
    """8787 (a cluster's dashboard, no login of its own) is opened to traefik only, whose dashboard
    routes ask the api's login check first; not to user servers, workers or anyone else."""
    return [
        c.line()
        for c in conns
        if c.destination.startswith(DASK + "dask-scheduler")
        and ("8787" in c.allowed or c.allowed == "All connections")
        and c.source != DASK + "traefik-dask-gateway"
    ]


def workers_reach_schedulers_on_the_dask_port_only(conns: list[Connection]) -> list[str]:
    return [
        c.line()
        for c in conns
        if c.source.startswith(DASK + "dask-worker")
        and c.destination.startswith(DASK)
        and not (
            (c.destination.startswith(DASK + "dask-scheduler") and c.allowed == DASK_PORT)
            or c.destination.startswith(DASK + "dask-worker")
        )
    ]


def clusters_reach_nothing_of_the_hub_and_the_api_only_its_api(conns: list[Connection]) -> list[str]:
    """Schedulers and workers (users' code) reach no pod of the hub's namespace; the gateway's api
    reaches the hub's API port and nothing else there; traefik and the controller nothing there."""
    bad = []
    for c in conns:
        if not (c.source.startswith(DASK) and c.destination.startswith(HUB)):
            continue
        if (c.source, c.destination, c.allowed) != (
            DASK + "api-dask-gateway",
            HUB + "hub",
            "{protocols:TCP,dst_ports:8081}",
        ):
            bad.append(c.line())
    return bad


def gateway_works(conns: list[Connection]) -> list[str]:
    have = {(c.source, c.destination): c.allowed for c in conns}
    needed = [
        (HUB + "proxy", DASK + "traefik-dask-gateway", "8000"),
        (HUB + "user-server-a", DASK + "traefik-dask-gateway", "8000"),
        (DASK + "traefik-dask-gateway", DASK + "api-dask-gateway", "8000"),
        (DASK + "traefik-dask-gateway", DASK + "dask-scheduler-0a1b2c", "8786"),
        (DASK + "traefik-dask-gateway", DASK + "dask-scheduler-0a1b2c", "8787"),
        (DASK + "api-dask-gateway", HUB + "hub", "8081"),
        (DASK + "api-dask-gateway", DASK + "dask-scheduler-0a1b2c", "8788"),
        (DASK + "dask-scheduler-0a1b2c", DASK + "api-dask-gateway", "8000"),
        (DASK + "dask-worker-0a1b2c-x2kqp", DASK + "dask-scheduler-0a1b2c", "8786"),
        (DASK + "dask-scheduler-0a1b2c", DASK + "dask-worker-0a1b2c-x2kqp", "All"),
        (DASK + "controller-dask-gateway", "172.20.0.1", "443"),
        (DASK + "api-dask-gateway", "172.20.0.1", "443"),
        (DASK + "traefik-dask-gateway", "172.20.0.1", "443"),
    ]
    return [f"{s} -> {d}:{p}" for s, d, p in needed if p not in have.get((s, d), "")]


PROPERTIES = [
    dask_pods_reach_no_private_range_nor_metadata,
    user_servers_reach_only_traefik,
    only_the_hub_side_enters_the_namespace,
    only_traefik_reaches_a_dashboard,
    workers_reach_schedulers_on_the_dask_port_only,
    clusters_reach_nothing_of_the_hub_and_the_api_only_its_api,
]


@pytest.mark.parametrize("check", PROPERTIES, ids=lambda f: f.__name__)
def test_dask_reachability_property(plans: dict[str, Inventory], check: Any) -> None:
    assert check(table(plans["prod"])) == []


def test_the_gateways_paths_exist(plans: dict[str, Inventory]) -> None:
    assert gateway_works(table(plans["prod"])) == []


def test_the_table_has_the_dask_rows_only_where_dask_is_on(plans: dict[str, Inventory]) -> None:
    assert not [c for c in table(plans["dev"]) if DASK in c.source or DASK in c.destination]


def test_a_worker_reaches_another_clusters_scheduler_on_the_dask_port(plans: dict[str, Inventory]) -> None:
    """What NetworkPolicies cannot separate (components/dask_network_policies.py): the cluster is a label
    value known at run time and the VPC CNI agent keys rules by pod name prefix; the scheduler's TLS,
    with a certificate per cluster, refuses another cluster's worker."""
    have = {(c.source, c.destination): c.allowed for c in table(plans["prod"])}
    assert have[(DASK + "dask-worker-3d4e5f-9wz4r", DASK + "dask-scheduler-0a1b2c")] == DASK_PORT


# ---- Each property bites -----------------------------------------------------------------------------


def _mutate(plan: Inventory, name: str, change: Any, namespace: str = "dask-gateway") -> Inventory:
    resources = []
    for r in plan.resources:
        metadata = r.inputs.get("metadata", {}) if r.type == NETWORK_POLICY else {}
        if metadata.get("namespace") == namespace and metadata.get("name") == name:
            inputs = copy.deepcopy(r.inputs)
            if change(inputs) is False:
                continue
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    return dataclasses.replace(plan, resources=resources)


def test_an_open_worker_egress_exposes_metadata_and_the_vpc(plans: dict[str, Inventory]) -> None:
    def open_egress(inputs: dict[str, Any]) -> None:
        inputs["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})

    conns = reachability(_mutate(plans["prod"], "workers", open_egress))
    assert dask_pods_reach_no_private_range_nor_metadata(conns)


def test_schedulers_open_on_every_port_expose_dashboards_to_workers(plans: dict[str, Inventory]) -> None:
    """Both ends opened: the schedulers take traefik and workers on every port, and the workers'
    egress to them is every port: a worker reaches a dashboard past the login check."""

    def every_port_in(inputs: dict[str, Any]) -> None:
        del inputs["spec"]["ingress"][0]["ports"]

    def workers_every_port_out(inputs: dict[str, Any]) -> None:
        del inputs["spec"]["egress"][0]["ports"]  # workers -> schedulers

    plan = _mutate(_mutate(plans["prod"], "schedulers", every_port_in), "workers", workers_every_port_out)
    conns = reachability(plan)
    assert only_traefik_reaches_a_dashboard(conns)
    assert workers_reach_schedulers_on_the_dask_port_only(conns)


def test_traefik_open_to_every_namespace_fails_the_check(plans: dict[str, Inventory]) -> None:
    def any_pod(inputs: dict[str, Any]) -> None:
        inputs["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})

    conns = reachability(_mutate(plans["prod"], "traefik", any_pod))
    assert only_the_hub_side_enters_the_namespace(conns)


def test_user_servers_allowed_past_traefik_fail_the_check(plans: dict[str, Inventory]) -> None:
    """Both ends opened (the user servers' egress to the whole namespace, the api's ingress from them)."""
    users = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "jupyterhub"}},
        "podSelector": {"matchLabels": {"component": "singleuser-server"}},
    }

    def from_users(inputs: dict[str, Any]) -> None:
        inputs["spec"]["ingress"][0]["from"].append(users)

    def to_namespace(inputs: dict[str, Any]) -> None:
        namespace = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dask-gateway"}}}
        inputs["spec"]["egress"].append({"to": [namespace]})

    plan = _mutate(plans["prod"], "api", from_users)
    plan = _mutate(plan, "user-servers", to_namespace, namespace="jupyterhub")
    conns = reachability(plan)
    assert user_servers_reach_only_traefik(conns)
    assert only_the_hub_side_enters_the_namespace(conns)


def test_a_missing_api_policy_breaks_the_gateway(plans: dict[str, Inventory]) -> None:
    conns = reachability(_mutate(plans["prod"], "api", lambda inputs: False))
    assert gateway_works(conns)


def test_workers_let_out_to_the_hubs_namespace_fail_the_check(plans: dict[str, Inventory]) -> None:
    """Both ends opened: the workers' egress to every namespace, the hub's ingress from the Dask
    namespace on every port."""

    def anywhere(inputs: dict[str, Any]) -> None:
        inputs["spec"]["egress"].append({"to": [{"namespaceSelector": {}}]})

    def from_dask(inputs: dict[str, Any]) -> None:
        namespace = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dask-gateway"}}}
        inputs["spec"]["ingress"].append({"from": [namespace]})

    plan = _mutate(_mutate(plans["prod"], "workers", anywhere), "hub", from_dask, namespace="jupyterhub")
    assert clusters_reach_nothing_of_the_hub_and_the_api_only_its_api(reachability(plan))
