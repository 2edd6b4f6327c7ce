"""What the hub's NetworkPolicies allow, computed by np-guard's network-config-analyzer over the
declared policies and the pods of the label contract (offline_plan/reachability.py), for every stack and
with the incident lockdown on. Each property is a function returning its violations, so that the
mutation tests below can show it fails on a broken policy set."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from offline_plan.mock_engine import Inventory
from offline_plan.reachability import NETWORK_POLICY, Connection, reachability
from tests.conftest import HTTPS_MODES, ROOT

HUB_NS = "jupyterhub/"
# Addresses a user server must never reach: instance metadata, the VPC (nodes, endpoints, the API's
# ENIs), the API's ClusterIP, other private ranges.
FORBIDDEN_FOR_USERS = ("169.254.169.254", "10.40.1.1", "172.20.0.1", "172.16.0.1", "192.168.1.1", "10.0.0.1")


def _addresses(endpoint: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address] | None:
    """The address range an nca endpoint names (`a-b` or `a`), or None for a pod."""
    if "/" in endpoint:
        return None
    first, _, last = endpoint.partition("-")
    try:
        return ipaddress.IPv4Address(first), ipaddress.IPv4Address(last or first)
    except ValueError:
        return None


def _contains(endpoint: str, address: str) -> bool:
    bounds = _addresses(endpoint)
    return bool(bounds) and bounds[0] <= ipaddress.IPv4Address(address) <= bounds[1]  # type: ignore[index]


def metadata_and_private_ranges_unreachable(conns: list[Connection]) -> list[str]:
    bad = []
    for c in conns:
        if c.source.startswith(HUB_NS + "user-server") and any(
            _contains(c.destination, a) for a in FORBIDDEN_FOR_USERS
        ):
            bad.append(c.line())
        if c.source.startswith(HUB_NS) and _contains(c.destination, "169.254.169.254"):
            bad.append(c.line())
    return bad


def users_isolated_from_each_other(conns: list[Connection]) -> list[str]:
    return [
        c.line()
        for c in conns
        if c.source.startswith(HUB_NS + "user-server") and c.destination.startswith(HUB_NS + "user-server")
    ]


def users_reach_only_hub_port_and_dns_inside(conns: list[Connection]) -> list[str]:
    allowed = {
        f"{HUB_NS}hub": "{protocols:TCP,dst_ports:8081}",
        "kube-system/coredns": "{protocols:TCP, UDP,dst_ports:53}",
        # With Dask Gateway: its traefik's web port (tests/test_dask_reachability.py).
        "dask-gateway/traefik-dask-gateway": "{protocols:TCP,dst_ports:8000}",
    }
    return [
        c.line()
        for c in conns
        if c.source.startswith(HUB_NS + "user-server")
        and _addresses(c.destination) is None
        and allowed.get(c.destination) != c.allowed
    ]


def only_the_proxy_takes_outside_traffic(conns: list[Connection]) -> list[str]:
    entry = {f"{HUB_NS}proxy", f"{HUB_NS}autohttps"}
    return [
        c.line()
        for c in conns
        if _addresses(c.source) is not None and c.destination.startswith(HUB_NS) and c.destination not in entry
    ]


def hub_works(conns: list[Connection]) -> list[str]:
    """Logins, spawns and the proxy's routes: the paths that must exist, with their ports."""
    have = {(c.source, c.destination): c.allowed for c in conns}
    needed = [
        ("proxy", "hub", "8081"),
        ("proxy", "user-server-a", "8888"),
        ("hub", "user-server-a", "8888"),
        ("hub", "proxy", "8001"),
        ("user-server-a", "hub", "8081"),
    ]
    missing = [f"{s} -> {d}:{p}" for s, d, p in needed if p not in have.get((HUB_NS + s, HUB_NS + d), "")]
    for source in ("hub", "proxy", "user-server-a", "user-scheduler"):
        if "53" not in have.get((HUB_NS + source, "kube-system/coredns"), ""):
            missing.append(f"{source} -> DNS")
    if "443" not in have.get((HUB_NS + "user-scheduler", "172.20.0.1"), ""):
        missing.append("user-scheduler -> Kubernetes API")
    if "443" not in have.get((HUB_NS + "hub", "172.20.0.1"), ""):
        missing.append("hub -> Kubernetes API")
    return missing


PROPERTIES = [
    metadata_and_private_ranges_unreachable,
    users_isolated_from_each_other,
    users_reach_only_hub_port_and_dns_inside,
    only_the_proxy_takes_outside_traffic,
]


@cache
def _table(stack_json: str) -> list[Connection]:
    return reachability(Inventory.from_json(json.loads(stack_json)))


def table(plan: Inventory) -> list[Connection]:
    return _table(json.dumps(plan.to_json(), sort_keys=True))


@pytest.mark.parametrize("check", PROPERTIES, ids=lambda f: f.__name__)
def test_reachability_property(plan: Inventory, check: Any) -> None:
    assert check(table(plan)) == []


def test_logins_spawns_and_routes_still_work(plan: Inventory) -> None:
    assert hub_works(table(plan)) == []


def test_the_table_is_printed_and_written_by_the_plan(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "offline_plan.plan", "prod", "--out", str(tmp_path / "plan.json")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "Reachability for 'prod' (network-config-analyzer" in result.stdout
    written = (tmp_path / "reachability-prod.txt").read_text()
    assert "jupyterhub/user-server-a => jupyterhub/hub : {protocols:TCP,dst_ports:8081}" in written


def test_lockdown_cuts_every_path_of_the_hub(variant_plans: dict[str, Inventory]) -> None:
    conns = table(variant_plans["lockdown"])
    assert [c.line() for c in conns if HUB_NS in c.source or HUB_NS in c.destination] == []
    for check in PROPERTIES:
        assert check(conns) == []


# ---- Each property bites: a broken policy set fails it ---------------------------------------------


def _mutate(plan: Inventory, name: str, change: Any) -> Inventory:
    resources = []
    for r in plan.resources:
        if r.type == NETWORK_POLICY and r.inputs["metadata"]["name"] == name:
            inputs = copy.deepcopy(r.inputs)
            if change(inputs) is False:
                continue  # removed
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    return dataclasses.replace(plan, resources=resources)


def test_an_open_egress_rule_exposes_metadata_and_the_vpc(plans: dict[str, Inventory]) -> None:
    def open_egress(inputs: dict[str, Any]) -> None:
        inputs["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})

    conns = reachability(_mutate(plans["dev"], "user-servers", open_egress))
    assert metadata_and_private_ranges_unreachable(conns)


def test_without_the_default_deny_unselected_pods_are_open(plans: dict[str, Inventory]) -> None:
    conns = reachability(_mutate(plans["dev"], "default-deny", lambda inputs: False))
    assert only_the_proxy_takes_outside_traffic(conns)  # user-placeholder, image-puller


def test_a_widened_selector_lets_users_reach_each_other(plans: dict[str, Inventory]) -> None:
    def widen(inputs: dict[str, Any]) -> None:
        # "every pod of the chart" instead of the proxy and the hub, in both directions
        chart = {"podSelector": {"matchLabels": {"app": "jupyterhub"}}}
        inputs["spec"]["ingress"][0]["from"] = [chart]
        inputs["spec"]["egress"].append({"to": [chart], "ports": [{"protocol": "TCP", "port": 8888}]})

    conns = reachability(_mutate(plans["dev"], "user-servers", widen))
    assert users_isolated_from_each_other(conns)


def test_a_missing_hub_policy_breaks_logins(plans: dict[str, Inventory]) -> None:
    conns = reachability(_mutate(plans["dev"], "hub", lambda inputs: False))
    assert hub_works(conns)


# ---- Each HTTPS mode (the stacks use `acm`) ---------------------------------------------------------

# What the outside reaches in each mode: the proxy's own port(s), or autohttps in front of it.
ENTRY = {
    "letsencrypt": {f"{HUB_NS}autohttps": "{protocols:TCP,dst_ports:8080,8443}"},
    "secret": {f"{HUB_NS}proxy": "{protocols:TCP,dst_ports:8000,8443}"},
    "none": {f"{HUB_NS}proxy": "{protocols:TCP,dst_ports:8000}"},
}


@pytest.mark.parametrize("mode", sorted(HTTPS_MODES))
def test_reachability_in_each_https_mode(variant_plans: dict[str, Inventory], mode: str) -> None:
    conns = table(variant_plans[f"https-{mode}"])
    for check in PROPERTIES:
        assert check(conns) == [], check.__name__
    outside = {c.destination: c.allowed for c in conns if _addresses(c.source) and c.destination.startswith(HUB_NS)}
    assert outside == ENTRY[mode]
    if mode == "letsencrypt":
        have = {(c.source, c.destination): c.allowed for c in conns}
        assert "8000" in have[(f"{HUB_NS}autohttps", f"{HUB_NS}proxy")]
        assert "443" in have[(f"{HUB_NS}autohttps", "172.20.0.1")]  # stores the certificate
    else:
        assert hub_works(conns) == []
