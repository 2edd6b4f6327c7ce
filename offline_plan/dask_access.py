"""Who may use Dask Gateway and what a cluster may ask for, read back from the values the plan sends
(the gateway chart's options data and the hub's role), for `./plan`'s access section."""

from __future__ import annotations

from typing import Any

from offline_plan.dask_cost import cluster_options
from offline_plan.mock_engine import Inventory

CHART = "kubernetes:helm.sh/v4:Chart"
ROLE = "dask-gateway-users"


def _gib(value: float) -> str:
    return f"{value / 2**30:g}Gi"


def dask_lines(inventory: Inventory, hub_values: dict[str, Any] | None) -> list[str]:
    charts = [c for c in inventory.of_type(CHART) if c.inputs.get("chart") == "dask-gateway"]
    if not charts:
        return []
    values = charts[0].inputs.get("values")
    options = cluster_options(values) if isinstance(values, dict) else None
    if options is None or not isinstance(values, dict):
        return ["  Dask Gateway: (its values are unknown in this preview)"]
    role = ((hub_values or {}).get("hub", {}).get("loadRoles") or {}).get(ROLE) or {}
    groups = ", ".join(role.get("groups") or []) or "nobody"
    backend = values["gateway"]["backend"]
    lifetime = backend["worker"]["extraPodConfig"].get("activeDeadlineSeconds")
    pool = backend["worker"]["extraPodConfig"].get("nodeSelector", {}).get("node-purpose", "?")
    capacities = {
        str(g.inputs.get("capacityType", "ON_DEMAND"))
        for g in inventory.of_type("aws:eks/nodeGroup:NodeGroup")
        if (g.inputs.get("labels") or {}).get("node-purpose") == pool
    }
    capacity = f" ({', '.join(sorted(capacities)).replace('SPOT', 'Spot').replace('ON_DEMAND', 'on demand')})"
    lines = [
        f"  Dask Gateway ({charts[0].inputs.get('namespace')}): for groups {groups} and hub admins, with the "
        "server's token; dashboards to their owner and admins only"
    ]
    for size in options["workerSizes"]:
        who = ", ".join(size["groups"]) if size["groups"] else "every group above"
        lines.append(
            f"    worker {size['name']}: {size['cores']:g} CPU, {_gib(size['memory'])} on {pool} nodes{capacity}; "
            f"for {who}"
        )
    if options.get("environments"):
        default = options["defaultEnvironment"]
        others = [name for name in options["environments"] if name != default]
        lines.append(
            f"    environment: the server's own ({default} by default"
            + (f"; {', '.join(others)} from the profiles that run it" if others else "")
            + "), by digest; no other image"
        )
    caps = options["caps"]
    lines.append(
        f"    per cluster: at most {caps['cluster_max_workers']} workers, {caps['cluster_max_cores']:g} cores, "
        f"{_gib(caps['cluster_max_memory'])}; idle shutdown after {options['idleTimeoutMinutes']} min (at most "
        f"{options['maxIdleTimeoutMinutes']})" + (f"; ended after {lifetime / 3600:g} h" if lifetime else "")
    )
    return lines
