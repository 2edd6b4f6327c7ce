"""The plan's cost sections in every region the program carries a price snapshot for (data/prices/): a stack copied
to another region must get a plan whose estimate names what it cannot price, never a traceback. Most snapshots of
regions no public source covers list instance types with `usd: null` (sa-east-1 lists all seven that way), and
the estimate once multiplied that None by the month's hours."""

from __future__ import annotations

import json

import pytest

from offline_plan.capacity import capacity_cost, render_capacity_cost
from offline_plan.cost import PRICES, estimate, instance_hourly_usd, load_prices
from offline_plan.cost import render as render_cost
from offline_plan.mock_engine import Inventory
from policies import checklist
from tests.test_capacity import settings_of

SNAPSHOTS = sorted(path.stem for path in PRICES.glob("*.json"))


def unpriced_instance_types(region: str) -> set[str]:
    snapshot = json.loads((PRICES / f"{region}.json").read_text())
    return {name for name, entry in snapshot["instances"].items() if entry.get("usd") is None}


def test_some_snapshot_has_an_instance_type_without_a_price() -> None:
    """What the next test guards against exists in the data (or it would guard nothing)."""
    assert unpriced_instance_types("sa-east-1") >= {"m6i.2xlarge", "t3.large", "g5.xlarge"}


@pytest.mark.parametrize("region", SNAPSHOTS)
def test_the_cost_sections_run_and_name_what_the_region_cannot_price(plans: dict[str, Inventory], region: str) -> None:
    plan = plans["prod"]
    prices = load_prices(region)
    report = estimate(plan, prices, checklist.support_phase, 160)
    assert render_cost(report)
    settings = settings_of("prod")
    assert render_capacity_cost(settings, capacity_cost(settings, report, prices), report)
    node_types = {group.inputs["instanceTypes"][0] for group in plan.of_type("aws:eks/nodeGroup:NodeGroup")}
    for instance_type in node_types & unpriced_instance_types(region):
        assert instance_hourly_usd(prices, instance_type) is None
        assert any(instance_type in item for item in report.unpriced()), (instance_type, report.unpriced())
