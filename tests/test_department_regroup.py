"""A user who leaves a department group loses what the group gave them at their next start (hub_config/
department_group_overrides.py). JupyterHub 5.5.0 keeps a user's Spawner from one start to the next and applies
group_overrides by setting and merging only, so without the reset the group's home size and cost label stay on
the spawner until the hub restarts. Run with the real KubeSpawner 7.0.0 and JupyterHub's apply_group_overrides
on the prod release's hub configuration."""

from __future__ import annotations

import ast
from typing import Any

from components.department_values import GROUP_LABEL_PREFIX
from hub_config import source
from offline_plan.mock_engine import Inventory
from tests.test_department import FakeHub, run, spawner_config


def _size(claim: dict[str, Any]) -> str:
    return str(claim["spec"]["resources"]["requests"]["storage"])


def _group_labels(hub: FakeHub, name: str) -> set[str]:
    return {key for key in hub.pods[name]["metadata"]["labels"] if key.startswith(GROUP_LABEL_PREFIX)}


def test_leaving_a_group_takes_back_its_home_size_and_cost_label(plans: dict[str, Inventory]) -> None:
    """prod: data-science 50Gi, data-engineering 5Gi, everyone else userServers.storageCapacity (20Gi)."""
    hub = FakeHub(spawner_config(plans["prod"]))
    sizes: list[str] = []
    labels: list[set[str]] = []

    async def scenario() -> None:
        for groups in (["data-science", "data-engineering"], ["data-engineering"], []):
            hub.user("alice", groups).group_names = groups  # the hub's groups as of this login
            # The claim KubeSpawner would create now (a first start, or a home deleted since).
            sizes.append(_size(await hub.start("alice", groups)))
            labels.append(_group_labels(hub, "alice"))
            hub.stop("alice")

    run(scenario)
    assert sizes == ["50Gi", "5Gi", "20Gi"]
    assert labels == [
        {f"{GROUP_LABEL_PREFIX}data-science", f"{GROUP_LABEL_PREFIX}data-engineering"},
        {f"{GROUP_LABEL_PREFIX}data-engineering"},
        set(),
    ]


def test_the_hub_module_resets_the_labels_the_program_sets() -> None:
    (prefix,) = [
        node.value.value
        for node in ast.parse(source("department_group_overrides")).body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "GROUP_LABEL_PREFIX" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    ]
    assert prefix == GROUP_LABEL_PREFIX
