"""What Dask Gateway costs, for the plan's "billed by use" list: each worker size's hour (its share
of a node of the Spot pool, at the on-demand price: an upper bound) and the idle gateway (its three
pods hold the LimitRange's default requests on the on-demand core nodes, which it shares: the share
of a core node-hour they reserve)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from catalog.instance_types import allocatable, lookup, quantity
from offline_plan.mock_engine import Recorded

GATEWAY_PODS = 3  # api, controller, traefik


def _node_hour(ctx: Any, purpose: str) -> tuple[str, float, float, float] | None:
    """(instance type, on-demand USD per hour, allocatable cores, allocatable bytes) of the pool's first type."""
    from offline_plan.cost import instance_hourly_usd  # cost.py imports this module

    groups = [
        g for g in ctx.inventory.of_type("aws:eks/nodeGroup:NodeGroup") if g.inputs["labels"]["node-purpose"] == purpose
    ]
    if not groups:
        return None
    instance_type = groups[0].inputs["instanceTypes"][0]
    hourly = instance_hourly_usd(ctx.prices, instance_type)
    if hourly is None or lookup(instance_type) is None:
        return None
    millicores, memory_mib = allocatable(instance_type)
    return instance_type, hourly, millicores / 1000, memory_mib * 1024 * 1024


def dask_gateway_costs(ctx: Any, resource: Recorded) -> Iterator[Any]:
    from offline_plan.cost import UnitPrice

    values = resource.inputs.get("values")
    if resource.inputs.get("chart") != "dask-gateway" or not isinstance(values, dict):
        return
    component = ctx.component(resource)
    options = cluster_options(values)
    worker = _node_hour(ctx, "dask-worker")
    if worker is not None and options is not None:
        instance_type, usd, cores, memory = worker
        for size in options["workerSizes"]:
            share = max(size["cores"] / cores, size["memory"] / memory)
            item = f"Dask worker {size['name']}: {share:.0%} of a Spot {instance_type}"
            yield UnitPrice(component, item, round(usd * share, 4), "worker-hour", True)
    core = _node_hour(ctx, "core")
    if core is not None:
        instance_type, usd, cores, memory = core
        share = GATEWAY_PODS * max(0.1 / cores, float(quantity("256Mi")) / memory)
        item = f"idle Dask Gateway: {share:.0%} of an on-demand {instance_type}"
        yield UnitPrice(component, item, round(usd * share * ctx.hours, 2), "month", True)


def cluster_options(values: dict[str, Any]) -> dict[str, Any] | None:
    """The cluster options the program gave the gateway (its `10-options-data` extraConfig entry)."""
    import json

    entry = values.get("gateway", {}).get("extraConfig", {}).get("10-options-data", "")
    if not entry.startswith("DASK_GATEWAY_OPTIONS = json.loads("):
        return None
    data: dict[str, Any] = json.loads(json.loads(entry.removeprefix("DASK_GATEWAY_OPTIONS = json.loads(")[:-1]))
    return data
