"""The PR comment with the cost change per stack (offline_plan/cost_diff.py), from two real plans' estimates."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from offline_plan import cost
from offline_plan.cost_diff import MARKER, comment, main
from offline_plan.mock_engine import Inventory
from policies import checklist
from tests.conftest import region_of


def estimate(plan: Inventory) -> dict[str, Any]:
    return cost.estimate(plan, cost.load_prices(region_of(plan)), checklist.support_phase, 160).to_json()


def test_a_bigger_node_group_shows_as_a_cost_increase(plans: dict[str, Inventory]) -> None:
    base = estimate(plans["dev"])
    head = copy.deepcopy(base)
    for line in head["lines"]:
        if line["component"] == "NodeGroups" and "core node groups, t3" in line["item"]:
            line["monthly_min"] *= 2  # one more core node in each zone
    head["totalMin"] = sum(line["monthly_min"] or 0 for line in head["lines"])
    text = comment("dev", base, head)
    assert text.startswith(MARKER.format(stack="dev"))
    assert "| NodeGroups (min nodes) |" in text and "+66.58" in text
    assert "No change" not in text


def test_no_change_says_so_and_a_new_profile_is_listed(plans: dict[str, Inventory]) -> None:
    base = estimate(plans["dev"])
    assert "No change to the fixed monthly cost." in comment("dev", base, base)
    head = copy.deepcopy(base)
    head["users"].append({**head["users"][0], "profile": "huge", "per_month_active": 99.0})
    assert "`huge` | new | 99.00" in comment("dev", base, head)


def test_a_base_branch_without_an_estimate(plans: dict[str, Inventory], tmp_path: Path, capsys: Any) -> None:
    head = tmp_path / "cost-dev.json"
    head.write_text(json.dumps(estimate(plans["dev"])))
    assert main(["dev", str(tmp_path / "missing.json"), str(head)]) == 0
    assert "The base branch has no cost estimate" in capsys.readouterr().out
