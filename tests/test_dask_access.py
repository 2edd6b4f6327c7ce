"""`./plan`'s access section shows Dask Gateway as the values the plan sends make it: who may use it,
each worker size for whom and on which pool, the per-cluster caps and timeouts."""

from __future__ import annotations

from offline_plan.access import render_access
from offline_plan.dask_access import dask_lines
from offline_plan.mock_engine import Inventory
from tests.conftest import stack_config
from tests.test_chart_render import hub_release


def test_the_plan_shows_who_may_use_dask_and_each_size_per_group(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    dask = stack_config(plan)["jhub-eks:daskGateway"]
    text = render_access(plan)
    assert f"for groups {', '.join(dask['groups'])} and hub admins" in text
    for size in dask["workerSizes"]:
        who = ", ".join(size["groups"]) if size.get("groups") else "every group above"
        line = (
            f"    worker {size['name']}: {size['cores']} CPU, {size['memory']} on dask-worker nodes (Spot); for {who}"
        )
        assert line in text.splitlines(), line
    assert f"idle shutdown after {dask['idleTimeoutMinutes']} min (at most {dask['maxIdleTimeoutMinutes']})" in text
    assert f"ended after {dask['maxLifetimeHours']} h" in text


def test_the_lines_are_read_from_the_values_not_the_settings(plans: dict[str, Inventory]) -> None:
    """Mutation: the hub's role granted to another group shows that group."""
    plan = plans["prod"]
    values = hub_release(plan)["values"]
    role = values["hub"]["loadRoles"]["dask-gateway-users"]
    changed = {**values, "hub": {**values["hub"], "loadRoles": {"dask-gateway-users": {**role, "groups": ["x"]}}}}
    assert "for groups x and hub admins" in dask_lines(plan, changed)[0]


def test_stacks_without_dask_show_none(plans: dict[str, Inventory]) -> None:
    assert "Dask" not in render_access(plans["dev"])
