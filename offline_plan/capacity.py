"""The plan's capacity table and the cost at a number of active users.

The table (per profile): servers per node from the nodes' allocatable and the profile's guarantees
(catalog/capacity.py), the most servers at the node groups' maximums per zone and in all, the GPU servers, the
first limit that binds, and the hub's limits sized from them (settings/capacity.py). The cost lines: the stack's
monthly cost at N active users (default-profile servers, spread over the zones, with the warm capacity), plus
the cost each registered user adds whether active or not (home volume and its backups).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from catalog.capacity import nodes_for
from catalog.instance_types import lookup, quantity_kib
from offline_plan.cost import GIB_KIB, CostReport, instance_hourly_usd
from settings import Settings
from settings.capacity import CapacityPlan

DAYS_PER_MONTH = 730 / 24


def render_capacity(settings: Settings) -> str:
    plan = settings.capacity_plan
    zones = len(settings.network.availability_zones)
    lines = [
        f"Capacity of '{settings.stack}' (servers at the node groups' maximums, {zones} zones; a user's home volume "
        "holds their server in its zone):",
        f"  {'profile':<14} {'pool':<5} {'per node':<24} {'per zone':>8} {'in all':>7} {'GPUs':>5}  first limit",
    ]
    for entry in plan.profiles:
        gpus = str(entry.total * entry.gpus) if entry.gpus else "-"
        lines.append(
            f"  {entry.profile:<14} {entry.pool:<5} {f'{entry.fit.servers} of {entry.fit.instance_type}':<24} "
            f"{entry.per_zone:>8} {entry.total:>7} {gpus:>5}  {plan.first_limit(entry)}"
        )
    lines += _limits(settings, plan)
    return "\n".join(lines)


def _default_cold_start(settings: Settings) -> str:
    """The default server's cold start, with its environment's recorded size where the pin has one."""
    cold_start = settings.capacity.cold_start
    default = next((p.slug for p in settings.jupyterhub.user_servers.profiles if p.default), None)
    environment = settings.environment_of(default)
    if environment is None or environment[1].compressed_size_bytes is None:
        return cold_start.explain() + " (image size: the coldStart estimate)"
    name, pin = environment
    return cold_start.for_image(pin.compressed_size_bytes).explain() + f" (image size: {name}'s pin)"


def _limits(settings: Settings, plan: CapacityPlan) -> list[str]:
    capacity = settings.capacity
    held = f"{plan.default.total} {plan.default.profile}" + (
        f" + {plan.gpu.total} {plan.gpu.profile} (GPU)" if plan.gpu else ""
    )
    auto = " (auto: what the node groups hold)" if capacity.active_server_limit == "auto" else " (set)"
    spawn_auto = " (auto: the active limit)" if capacity.concurrent_spawn_limit == "auto" else " (set)"
    warm = capacity.warm.servers_per_zone
    database = settings.hub_database
    hub_database = (
        f"  hub database: RDS for PostgreSQL {database.engine_version} {database.instance_class}, "
        + ("Multi-AZ: the hub can start in any zone" if database.multi_az else "ONE zone (hubDatabase.multiAz)")
        if database.engine == "postgres"
        else "  hub database: SQLite on a volume in one zone: if that zone fails, the hub stays down until it "
        "returns (hubDatabase.engine: postgres)"
    )
    return [
        f"  hub: activeServerLimit {plan.active_server_limit}{auto}; the node groups hold {held} = "
        f"{plan.node_group_servers} servers; a spawn beyond the limit is told the hub is full",
        f"  hub: concurrentSpawnLimit {plan.concurrent_spawn_limit}{spawn_auto} (the chart's 64 would refuse the "
        f"65th of a class logging in together); consecutiveFailureLimit {plan.consecutive_failure_limit} (above "
        "the spawns one stalled scale-up fails together)",
        f"  start timeout {plan.start_timeout_seconds} s from a cold start: {_default_cold_start(settings)} "
        "(capacity.coldStart; a profile's startTimeoutSeconds overrides it)",
        *(
            f"  start timeout of {slug}: {seconds} s (its environment pulls longer)"
            for slug, seconds in sorted(plan.profile_start_timeouts.items())
        ),
        f"  server start: the hub waits {plan.http_timeout_seconds} s for a running server to answer "
        f"(Spawner.http_timeout: capacity.coldStart.serverStartSeconds {capacity.cold_start.server_start_seconds} s "
        f"x {capacity.cold_start.safety_factor:g}; JupyterHub's 30 s would stop a slower start)",
        "  warm capacity: "
        + (
            f"{warm} {plan.default.profile} placeholder(s) per zone, {warm * len(settings.network.availability_zones)} "
            "in all (capacity.warm), "
            + (
                f"{capacity.warm.schedule.explain()}, 0 outside (capacity.warm.schedule)"
                if capacity.warm.schedule
                else "all the time"
            )
            if warm
            else "none: the first server of the day in each zone waits for a new node (capacity.warm.serversPerZone)"
        ),
        hub_database,
    ]


# ---- Cost at N active users ---------------------------------------------------------------------------------


@dataclass
class UsersCost:
    active_users: int
    user_nodes: int
    """User nodes running while they are active (with the warm capacity beside them)."""
    fits: bool
    """Whether the user node groups hold that many default-profile servers (with the warm ones) at maxSize."""
    monthly: float | None
    """The fixed cost (with the warm capacity, priced all month) + the nodes beyond the warm and minimum ones for
    cost.activeHoursPerMonth (USD)."""


@dataclass
class CapacityCost:
    instance_type: str
    servers_per_node: int
    warm_nodes: int
    warm_monthly: float | None
    """The nodes the placeholders hold, all month or in the schedule's hours (USD; they hold a node whether anyone
    comes or not)."""
    warm_hours: float
    """Hours a month the placeholders run (the month's 730, or capacity.warm.schedule's)."""
    warm_schedule: str | None
    per_registered_user: float | None
    """Home volume and its backups (a full snapshot: the upper bound), per registered user a month."""
    registered_users: int
    at: list[UsersCost]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _node_hourly(settings: Settings, prices: dict[str, Any]) -> float | None:
    """A user node's hour: the instance (on-demand: an upper bound for Spot) and its root volume."""
    group = settings.node_groups.user
    hourly = instance_hourly_usd(prices, settings.capacity_plan.default.fit.instance_type)
    gp3 = (prices["prices"].get("ebs.gp3-gb-month") or {}).get("usd")
    if hourly is None or gp3 is None:
        return None
    return hourly + gp3 * group.disk_size_gib / float(prices["hoursPerMonth"])


def capacity_cost(settings: Settings, report: CostReport, prices: dict[str, Any]) -> CapacityCost:
    plan = settings.capacity_plan
    zones = len(settings.network.availability_zones)
    per_node = plan.default.fit.servers
    warm = settings.capacity.warm.servers_per_zone
    warm_nodes = zones * math.ceil(warm / per_node) if warm else 0
    hourly = _node_hourly(settings, prices)
    hours = float(prices["hoursPerMonth"])
    schedule = settings.capacity.warm.schedule
    warm_hours = schedule.hours_per_month(hours) if schedule else hours
    warm_monthly = None if hourly is None else warm_nodes * hourly * warm_hours
    user_min = settings.node_groups.user.min_size  # already in the fixed cost
    at = []
    for users in settings.capacity.cost_at_active_users:
        # With placeholders, each zone's nodes hold its users and its warm room.
        needed = nodes_for(users + warm * zones, per_node, zones) if warm else nodes_for(users, per_node, zones)
        active_nodes = max(needed - warm_nodes, 0)
        monthly = None
        if hourly is not None:
            extra = max(active_nodes - max(user_min - warm_nodes, 0), 0)
            monthly = report.total("min") + extra * hourly * report.active_hours_per_month
        fits = needed <= settings.node_groups.user.max_size * zones
        at.append(UsersCost(users, needed, fits, monthly))
    storage_gib = quantity_kib(settings.jupyterhub.user_servers.storage_capacity) / GIB_KIB
    gp3 = (prices["prices"].get("ebs.gp3-gb-month") or {}).get("usd")
    snapshot = (prices["prices"].get("ebs.snapshot-gb-month") or {}).get("usd")
    per_user = None if gp3 is None or snapshot is None else storage_gib * (gp3 + snapshot)
    return CapacityCost(
        plan.default.fit.instance_type,
        per_node,
        warm_nodes,
        warm_monthly,
        warm_hours,
        schedule.explain() if schedule else None,
        per_user,
        settings.capacity.registered_users,
        at,
    )


def _usd(amount: float | None) -> str:
    return "no price" if amount is None else f"{amount:,.2f}"


def render_capacity_cost(settings: Settings, cost: CapacityCost, report: CostReport) -> str:
    spot = " (Spot: on-demand price, an upper bound)" if settings.node_groups.user.capacity_type == "SPOT" else ""
    instance = lookup(cost.instance_type)
    size = f" ({instance.vcpu} vCPU)" if instance else ""
    lines = [
        f"Monthly cost at N active users (USD; default-profile servers, {cost.servers_per_node} per "
        f"{cost.instance_type}{size}{spot}, spread over the zones, each active {report.active_hours_per_month} h "
        "(cost.activeHoursPerMonth)):",
        f"  warm capacity: {cost.warm_nodes} node(s) held by placeholders "
        + (
            f"in working hours only, {cost.warm_hours:.0f} h a month ({cost.warm_schedule}, capacity.warm.schedule): "
            if cost.warm_schedule
            else "all month: "
        )
        + f"{_usd(cost.warm_monthly)} (in the fixed cost)",
    ]
    for row in cost.at:
        if not row.fits:
            lines.append(
                f"  {row.active_users:>5} active users: MORE than the user node groups hold at maxSize "
                f"({row.user_nodes} nodes needed; see the capacity table)"
            )
            continue
        lines.append(
            f"  {row.active_users:>5} active users: {row.user_nodes:>3} user node(s) -> {_usd(row.monthly)} a month "
            "(fixed cost at the minimum sizes, warm capacity included, + the other nodes' active hours)"
        )
    registered = (
        "no price"
        if cost.per_registered_user is None
        else f"{cost.per_registered_user:,.2f} each, {cost.per_registered_user * cost.registered_users:,.2f} for "
        f"{cost.registered_users} (capacity.registeredUsers)"
    )
    lines.append(
        f"  + per registered user, active or not: home volume "
        f"{settings.jupyterhub.user_servers.storage_capacity} and its backups: {registered}"
    )
    return "\n".join(lines)
