"""The cost estimate (offline_plan/cost.py): nothing the program declares is silently free, the fixed cost
follows the stack's settings (counted here from the settings, not from the estimator's own reading
of the plan), and one more active user costs the share of a node their profile reserves."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog import instance_types
from offline_plan import cost
from offline_plan.mock_engine import Inventory, Recorded
from policies import checklist
from settings import NetworkSettings
from tests.conftest import ROOT

PRICES = cost.load_prices("eu-west-1")
HOURS = PRICES["hoursPerMonth"]


def price(key: str) -> float:
    return float(PRICES["prices"][key]["usd"])


def config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


def report(plan: Inventory, active_hours: int = 160) -> cost.CostReport:
    return cost.estimate(plan, PRICES, checklist.support_phase, active_hours)


# ---- Nothing new is silently free ----------------------------------------------------------------


def test_every_declared_type_is_priced_or_known_to_be_free(
    plans: dict[str, Inventory], variant_plans: dict[str, Inventory]
) -> None:
    for name, plan in {**plans, **variant_plans}.items():
        assert cost.unclassified(plan) == [], name


def test_a_new_billable_type_fails_the_check(plans: dict[str, Inventory]) -> None:
    plan = plans["dev"]
    database = Recorded(type="aws:rds/instance:Instance", name="db", urn="urn:db", parent="", custom=True, inputs={})
    mutated = Inventory(plan.stack, [*plan.resources, database], plan.outputs, plan.secret_outputs)
    assert cost.unclassified(mutated) == ["aws:rds/instance:Instance"]


def test_every_instance_type_a_stack_runs_has_a_price_and_a_size(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
            for instance_type in group.inputs["instanceTypes"]:
                instance = PRICES["instances"].get(instance_type)
                assert instance and instance["usd"] > 0 and instance["vcpu"] and instance["memoryMib"], instance_type


def test_the_snapshot_says_where_each_price_comes_from() -> None:
    assert date.fromisoformat(PRICES["snapshot"])
    for key, entry in {**PRICES["prices"], **PRICES["instances"]}.items():
        assert entry["source"] and entry["serviceCode"] and isinstance(entry["verified"], bool), key
        # A price the refresh tool cannot look up again is not a snapshot price.
        assert entry["filters"] or entry["usd"] is None or key.startswith(("kms.", "budgets.")), key
        assert entry["usd"] is not None or not entry["verified"], f"{key}: no price yet marked verified"


# ---- The fixed cost follows the settings ---------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_network_cost_is_nat_gateways_their_addresses_and_endpoints_per_zone(
    plans: dict[str, Inventory], stack: str
) -> None:
    network = config(stack)["jhub-eks:network"]
    zones = len(network["availabilityZones"])
    nats = zones if network["natGateways"] == "perAz" else 1
    # The stack's list, or the settings' default one.
    default = NetworkSettings.model_fields["interface_endpoints"].get_default(call_default_factory=True)
    endpoints = len(network.get("interfaceEndpoints", default))
    expected = HOURS * (
        nats * (price("vpc.nat-gateway-hour") + price("vpc.public-ipv4-hour"))
        + endpoints * zones * price("vpc.interface-endpoint-hour")
    )
    assert report(plans[stack]).by_component()["Network"] == pytest.approx(expected)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_node_cost_at_minimum_and_desired_sizes(plans: dict[str, Inventory], stack: str) -> None:
    groups = config(stack)["jhub-eks:nodeGroups"]
    for which, size in (("min", "minSize"), ("desired", "desiredSize")):
        expected = sum(
            group[size] * (PRICES["instances"][group["instanceTypes"][0]]["usd"] * HOURS)
            + group[size] * group["diskSizeGib"] * price("ebs.gp3-gb-month")
            for group in groups.values()
            if isinstance(group, dict) and "instanceTypes" in group
        )
        assert report(plans[stack]).by_component(which)["NodeGroups"] == pytest.approx(expected), which


def test_the_control_plane_costs_more_in_extended_support(
    plans: dict[str, Inventory], monkeypatch: pytest.MonkeyPatch
) -> None:
    standard = report(plans["dev"]).by_component()["Cluster"]
    assert standard == pytest.approx(price("eks.cluster-hour") * HOURS)
    monkeypatch.setattr(checklist, "today", lambda: date(2027, 4, 1))  # 1.35 left standard support 2027-03-27
    extended = report(plans["dev"]).by_component()["Cluster"]
    assert extended == pytest.approx((price("eks.cluster-hour") + price("eks.extended-support-hour")) * HOURS)


def test_the_hub_load_balancer_and_its_addresses(plans: dict[str, Inventory]) -> None:
    for stack, plan in plans.items():
        zones = len(config(stack)["jhub-eks:network"]["availabilityZones"])
        items = {line.item: line.monthly_min for line in report(plan).lines if line.component == "JupyterHub"}
        assert items["hub load balancer (NLB)"] == pytest.approx(price("elb.network-lb-hour") * HOURS)
        assert items[f"hub load balancer public IPv4 x {zones}"] == pytest.approx(
            price("vpc.public-ipv4-hour") * HOURS * zones
        )


# ---- One more active user ------------------------------------------------------------------------


def test_each_profile_costs_its_share_of_a_node(plans: dict[str, Inventory]) -> None:
    users = {u.profile: u for u in report(plans["prod"], active_hours=100).users}
    standard, large, gpu = users["standard"], users["large"], users["gpu"]
    assert 0 < standard.share < large.share < 1
    assert gpu.share == 1.0 and gpu.instance_type == "g5.xlarge"  # one GPU of a one-GPU node
    assert gpu.per_month_active == pytest.approx(PRICES["instances"]["g5.xlarge"]["usd"] * 100)
    capacity_gib = 20  # prod's userServers.storageCapacity
    assert standard.storage_per_month == pytest.approx(
        capacity_gib * (price("ebs.gp3-gb-month") + price("ebs.snapshot-gb-month"))
    )


def test_a_memory_bound_profile_is_priced_by_memory(plans: dict[str, Inventory]) -> None:
    (user,) = [u for u in report(plans["dev"]).users if u.profile == "large"]
    millicores, memory_mib = instance_types.allocatable("t3.xlarge")  # tests/test_instance_types.py
    # large: 1 CPU, 2G guaranteed on a t3.xlarge: the CPU share (1/3.92) is larger than the memory share.
    assert user.share == pytest.approx(max(1000 / millicores, 2 * 1024 / memory_mib))


# ---- What the plan prints and writes -------------------------------------------------------------


def test_the_plan_prints_the_cost_and_writes_it(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = subprocess.run(
        [sys.executable, "-m", "offline_plan.plan", "prod", "--out", str(out), "--no-reachability"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Monthly cost of 'prod'" in result.stdout
    assert "TOTAL fixed per month" in result.stdout
    assert "one more active user" in result.stdout and "gpu" in result.stdout
    written = json.loads((tmp_path / "cost-prod.json").read_text())
    assert written["totalMin"] > 0 and written["totalDesired"] >= written["totalMin"]
    assert {u["profile"] for u in written["users"]} == {"standard", "large", "curator", "gpu"}


# ---- The refresh tool (maintenance/prices.py), against GetProducts' response shape ----------------------


def _product(sku: str, *tiers: tuple[str, str]) -> str:
    """One GetProducts PriceList item (a JSON string), as the Price List Query API returns it."""
    dimensions = {
        f"{sku}.JRTCKXETXF.{i}": {"beginRange": begin, "endRange": "Inf", "unit": "Hrs", "pricePerUnit": {"USD": usd}}
        for i, (begin, usd) in enumerate(tiers)
    }
    return json.dumps(
        {
            "product": {"sku": sku, "attributes": {"regionCode": "eu-west-1"}},
            "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"priceDimensions": dimensions}}},
        }
    )


class _Pricing:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def get_products(self, ServiceCode: str, Filters: list[dict[str, str]], **_: Any) -> dict[str, Any]:  # noqa: N803
        self.calls.append({"service": ServiceCode, **{f["Field"]: f["Value"] for f in Filters}})
        usagetype = next((f["Value"] for f in Filters if f["Field"] in ("usagetype", "instanceType")), "")
        return {"PriceList": self.answers.get(usagetype, [])}


def test_refresh_reads_the_first_tier_and_marks_the_entry_verified() -> None:
    from maintenance import prices

    snapshot = {
        "region": "eu-west-1",
        "snapshot": "2026-01-01",
        "prices": {
            "vpc.interface-endpoint-gb": {
                "usd": None,
                "verified": False,
                "serviceCode": "AmazonVPC",
                "filters": {"usagetype": "EU-VpcEndpoint-Bytes"},
                "source": "",
            },
            "kms.key-month": {"usd": 1.0, "verified": True, "serviceCode": "awskms", "filters": {}, "source": "x"},
        },
        "instances": {},
    }
    client = _Pricing({"EU-VpcEndpoint-Bytes": [_product("ABC", ("1048576", "0.006"), ("0", "0.01"))]})
    refreshed = prices.refresh(snapshot, client, date(2027, 1, 5))
    entry = refreshed["prices"]["vpc.interface-endpoint-gb"]
    assert (entry["usd"], entry["verified"], refreshed["snapshot"]) == (0.01, True, "2027-01-05")
    assert client.calls == [{"service": "AmazonVPC", "usagetype": "EU-VpcEndpoint-Bytes", "regionCode": "eu-west-1"}]
    # Two products for one entry: its filters are not exact, and nothing is guessed.
    client = _Pricing({"EU-VpcEndpoint-Bytes": [_product("A", ("0", "0.01")), _product("B", ("0", "0.02"))]})
    with pytest.raises(prices.PriceLookupError, match="2 products"):
        prices.refresh(snapshot, client, date(2027, 1, 5))
    assert prices.endpoint_region("eu-west-1") == "eu-central-1"
