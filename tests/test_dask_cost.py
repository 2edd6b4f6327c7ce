"""What the plan says Dask Gateway costs (offline_plan/dask_cost.py): a worker-hour per size the stack
offers, priced on the workers' own Spot pool (at its on-demand price: an upper bound), and the idle
gateway's month on the core nodes; and the README's example quotes the prod price it shows."""

from __future__ import annotations

import re

import pytest

from catalog.instance_types import allocatable, quantity
from offline_plan import cost
from offline_plan.mock_engine import Inventory
from policies import checklist
from tests.conftest import ROOT, region_of, stack_config

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def dask_unit_prices(plan: Inventory) -> dict[str, cost.UnitPrice]:
    prices = cost.load_prices(region_of(plan))
    report = cost.estimate(plan, prices, checklist.support_phase, 160)
    return {u.item: u for u in report.unit_prices if u.component == "DaskGateway" or "Dask" in u.item}


def pool_type(plan: Inventory, purpose: str) -> str:
    groups = [g for g in plan.of_type(NODE_GROUP) if g.inputs["labels"]["node-purpose"] == purpose]
    return str(groups[0].inputs["instanceTypes"][0])


def test_each_offered_worker_size_has_a_worker_hour_on_the_spot_pool(plans: dict[str, Inventory]) -> None:
    """Mutation: pricing workers on the core pool (m6i.large in prod, where a large worker does not
    even fit) gives other numbers and names another instance type."""
    plan = plans["prod"]
    sizes = stack_config(plan)["jhub-eks:daskGateway"]["workerSizes"]
    units = dask_unit_prices(plan)
    worker_type = pool_type(plan, "dask-worker")
    node_hour = cost.load_prices(region_of(plan))["instances"][worker_type]["usd"]
    millicores, memory_mib = allocatable(worker_type)
    for size in sizes:
        (unit,) = [u for item, u in units.items() if item.startswith(f"Dask worker {size['name']}:")]
        assert unit.per == "worker-hour" and worker_type in unit.item and "Spot" in unit.item
        share = max(size["cores"] * 1000 / millicores, float(quantity(size["memory"])) / (memory_mib * 2**20))
        assert unit.usd == pytest.approx(node_hour * share, abs=1e-4)
        assert 0 < unit.usd <= node_hour


def test_the_idle_gateway_is_priced_per_month_on_the_core_pool(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    (idle,) = [u for item, u in dask_unit_prices(plan).items() if item.startswith("idle Dask Gateway")]
    core_type = pool_type(plan, "core")
    core_month = (
        cost.load_prices(region_of(plan))["instances"][core_type]["usd"]
        * cost.load_prices(region_of(plan))["hoursPerMonth"]
    )
    assert idle.per == "month" and core_type in idle.item
    assert idle.usd is not None and 0 < idle.usd < core_month


def test_stacks_without_dask_price_none_of_it(plans: dict[str, Inventory]) -> None:
    assert dask_unit_prices(plans["dev"]) == {}


def test_the_readmes_example_quotes_the_prod_price(plans: dict[str, Inventory]) -> None:
    readme = (ROOT / "README.md").read_text()
    quoted = re.search(r"at most ([0-9.]+) USD a worker-hour", readme)
    idle_quoted = re.search(r"idle gateway \(prod: about ([0-9]+) USD a month\)", readme)
    assert quoted and idle_quoted, "README's Dask example lost its prices"
    units = dask_unit_prices(plans["prod"])
    (small,) = [u for item, u in units.items() if item.startswith("Dask worker small:")]
    (idle,) = [u for item, u in units.items() if item.startswith("idle Dask Gateway")]
    assert small.usd is not None and idle.usd is not None
    assert float(quoted.group(1)) == pytest.approx(small.usd, abs=0.005)
    assert float(idle_quoted.group(1)) == pytest.approx(idle.usd, abs=1)
