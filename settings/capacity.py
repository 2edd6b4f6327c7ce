"""Capacity settings: how many servers the hub admits and starts at once, how long a server may take to start
from a cold node, and the warm capacity kept ready; and `plan_capacity`, what the node groups hold at their
maximums (catalog/capacity.py's arithmetic on the settings), which sizes the hub's limits."""

from __future__ import annotations

import json
import math
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from catalog.capacity import DaemonSetLoad, NodeFit, pool_fit
from settings.base import DATA, _field_error, _Model
from settings.hub import ResourceSettings, UserServerSettings
from settings.nodes import DAEMONSET_REQUESTS, GpuNodeGroupSettings, NodeGroupSettings, NodeGroupsSettings


def _daemonset_pods() -> dict[str, int]:
    """DaemonSet pods on each node of a pool (each counts against the kubelet's max pods)."""
    daemonsets = json.loads((DATA / "eks" / "daemonset-requests.json").read_text())["daemonsets"]
    return {pool: sum(1 for d in daemonsets if pool in d["pools"]) for pool in DAEMONSET_REQUESTS}


DAEMONSET_PODS = _daemonset_pods()


def daemonset_load(pool: str) -> DaemonSetLoad:
    requests = DAEMONSET_REQUESTS[pool]
    return DaemonSetLoad(requests["cpu"], requests["memory"], DAEMONSET_PODS[pool])


class ColdStartSettings(_Model):
    """What the first server on a new node waits for: the node, the image, the server. The defaults are stated
    assumptions, not measurements; measure yours (`kubectl get events`: TriggeredScaleUp to Started)."""

    node_boot_seconds: int = Field(180, ge=30, le=1800)
    """From the autoscaler's scale-up to a Ready node with its DaemonSets (EC2 launch, AL2023 boot, nodeadm
    join, the CNI): typically one to three minutes on EKS managed node groups."""
    image_size_gib: float = Field(3.0, gt=0, le=100)
    """Compressed size of the default profile's image (what the node downloads). An environment pin with a
    recorded size replaces this estimate."""
    pull_mib_per_second: float = Field(40.0, gt=0, le=2000)
    """Download and unpack rate of an image pull on a new node (layers are unpacked one by one, so this is
    well below the network's rate)."""
    server_start_seconds: int = Field(60, ge=5, le=1800)
    """From the container's start to the server answering the hub (Jupyter's start and extensions)."""
    safety_factor: float = Field(1.5, ge=1, le=5)
    """The start timeout is the cold start times this: a slow morning must not fail spawns."""

    def for_image(self, compressed_size_bytes: int | None) -> ColdStartSettings:
        """The same cold start for an image whose compressed size the build recorded (an environment pin)."""
        if compressed_size_bytes is None:
            return self
        return self.model_copy(update={"image_size_gib": round(compressed_size_bytes / 2**30, 2)})

    @property
    def pull_seconds(self) -> int:
        return math.ceil(self.image_size_gib * 1024 / self.pull_mib_per_second)

    @property
    def cold_start_seconds(self) -> int:
        return self.node_boot_seconds + self.pull_seconds + self.server_start_seconds

    @property
    def start_timeout_seconds(self) -> int:
        """KubeSpawner's start_timeout: the cold start with the margin, rounded up to a minute."""
        return 60 * math.ceil(self.cold_start_seconds * self.safety_factor / 60)

    @property
    def http_timeout_seconds(self) -> int:
        """Spawner.http_timeout: once KubeSpawner reports the pod running, the hub waits only this long for the
        server to answer (JupyterHub 5.5 User._wait_up), 30 s by default, and stops the server after it. The start
        timeout does not cover this part: the server's start with the margin, never below JupyterHub's 30 s."""
        return max(30, math.ceil(self.server_start_seconds * self.safety_factor))

    def explain(self) -> str:
        return (
            f"node boot {self.node_boot_seconds} s + {self.image_size_gib:g} GiB image at "
            f"{self.pull_mib_per_second:g} MiB/s {self.pull_seconds} s + server start {self.server_start_seconds} s "
            f"= {self.cold_start_seconds} s, x {self.safety_factor:g}"
        )


Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class WarmScheduleSettings(_Model):
    """Working hours: the placeholders run from startHour to endHour on these days, in this time zone, and are
    scaled to 0 outside them (a CronJob, components/warm_capacity_schedule.py), so nights and weekends cost
    nothing. Give the nodes a head start: a new node and its image take minutes (capacity.coldStart)."""

    timezone: str
    """IANA time zone of the working hours (`Europe/Paris`, `America/New_York`): daylight saving time follows
    it."""
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]), min_length=1)
    """Days with working hours."""
    start_hour: int = Field(ge=0, le=23)
    """First warm hour (local, 0-23): the placeholders are scaled up at its start."""
    end_hour: int = Field(ge=1, le=24)
    """End of the warm hours (local, 1-24, after startHour): the placeholders are scaled to 0 at it."""

    @model_validator(mode="after")
    def _check(self) -> WarmScheduleSettings:
        if self.timezone not in zoneinfo.available_timezones():
            raise _field_error("timezone", f"{self.timezone!r} is not an IANA time zone; set one such as Europe/Paris")
        if self.end_hour <= self.start_hour:
            raise _field_error(
                "endHour",
                f"is {self.end_hour}, not after startHour {self.start_hour}; set an end later the same day "
                "(working hours across midnight are not supported)",
            )
        if len(set(self.days)) != len(self.days):
            raise _field_error("days", f"lists a day twice ({', '.join(self.days)}); list each day once")
        return self

    @property
    def hours_per_week(self) -> int:
        return len(self.days) * (self.end_hour - self.start_hour)

    def hours_per_month(self, hours_in_month: float) -> float:
        """Warm hours in a month of `hours_in_month` (the price list's 730): the week's share of it."""
        return hours_in_month * self.hours_per_week / (7 * 24)

    def explain(self) -> str:
        return f"{','.join(self.days)} {self.start_hour:02d}:00-{self.end_hour:02d}:00 {self.timezone}"


class WarmCapacitySettings(_Model):
    """User placeholders (z2jh scheduling.userPlaceholder): pause pods of the default profile's size at the
    lowest priority, which hold room on user nodes and are evicted the moment a real server needs the room,
    so the first users of the day start on a node that is already up. They cost what the nodes they hold
    cost."""

    servers_per_zone: int = Field(0, ge=0, le=200)
    """Default-profile servers kept ready in each zone (homes are pinned to a zone: warm room in another zone
    does not help a user). 0: none, every morning starts cold."""
    schedule: WarmScheduleSettings | None = None
    """Working hours of the warm capacity; unset: the placeholders run all the time (and cost all month)."""

    @model_validator(mode="after")
    def _check(self) -> WarmCapacitySettings:
        if self.schedule is not None and not self.servers_per_zone:
            raise _field_error("schedule", "is set but serversPerZone is 0; set serversPerZone, or remove schedule")
        return self


class CapacitySettings(_Model):
    active_server_limit: int | Literal["auto"] = "auto"
    """Most servers running or starting at once (hub.activeServerLimit); a user beyond it is told the hub is
    full instead of waiting for a server that cannot be placed. `auto`: what the node groups hold at their
    maximums (default-profile servers on the user pool, plus the GPU pool's servers)."""
    concurrent_spawn_limit: int | Literal["auto"] = "auto"
    """Most servers starting at once (hub.concurrentSpawnLimit; the chart's default 64 answers a class that
    logs in together with HTTP 429). `auto`: the active server limit, so only capacity refuses a spawn."""
    cold_start: ColdStartSettings = ColdStartSettings()
    """The start timeout follows from a cold start."""
    warm: WarmCapacitySettings = WarmCapacitySettings()
    """Warm capacity."""
    cost_at_active_users: list[int] = Field(default_factory=lambda: [10, 50, 100], min_length=1, max_length=6)
    """The plan's cost table prices the stack at these numbers of active users (default-profile servers)."""
    registered_users: int = Field(100, ge=0)
    """Users with a home volume (each pays for its volume and backups, active or not): the cost table's
    per-registered-user line."""

    @model_validator(mode="after")
    def _check(self) -> CapacitySettings:
        for key in ("active_server_limit", "concurrent_spawn_limit"):
            value = getattr(self, key)
            if value != "auto" and value < 1:
                camel = "activeServerLimit" if key == "active_server_limit" else "concurrentSpawnLimit"
                raise _field_error(camel, f"is {value}; set 1 or more, or `auto`")
        return self


def default_resources(user_servers: UserServerSettings) -> ResourceSettings:
    """The default profile's guarantees and limits (the one server size when there are no profiles)."""
    default = next((p for p in user_servers.profiles if p.default), None)
    return (default.resources if default else None) or user_servers.resources


# ---- What the node groups hold ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileCapacity:
    """One profile's servers at the node groups' maximums, if every server were of this profile."""

    profile: str
    pool: str
    fit: NodeFit
    nodes_per_zone: int
    """The pool's maxSize (one group per zone)."""
    zones: int
    gpus: int

    @property
    def per_zone(self) -> int:
        return self.fit.servers * self.nodes_per_zone

    @property
    def total(self) -> int:
        return self.per_zone * self.zones


@dataclass(frozen=True)
class CapacityPlan:
    profiles: list[ProfileCapacity]
    default: ProfileCapacity
    """The default profile (or the one server size) on the user pool."""
    gpu: ProfileCapacity | None
    """The GPU profile that holds the most servers on the GPU pool."""
    active_server_limit: int
    concurrent_spawn_limit: int
    consecutive_failure_limit: int
    start_timeout_seconds: int
    """The default profile's (KubeSpawner's start_timeout for every server)."""
    http_timeout_seconds: int
    """How long the hub waits for a started server to answer (Spawner.http_timeout), from coldStart."""
    profile_start_timeouts: dict[str, int]
    """Profiles whose pinned environment is larger than the default's: their own cold start's timeout."""

    @property
    def node_group_servers(self) -> int:
        """What the node groups hold at their maximums: default-profile servers plus GPU servers."""
        return self.default.total + (self.gpu.total if self.gpu else 0)

    def first_limit(self, entry: ProfileCapacity) -> str:
        """What stops this profile's servers first, as a sentence."""
        pool_key = f"nodeGroups.{entry.pool}.maxSize {entry.nodes_per_zone} per zone"
        node = f"per node: {entry.fit.binding}"
        if self.active_server_limit < entry.total:
            return f"capacity.activeServerLimit {self.active_server_limit} (before {pool_key}); {node}"
        return f"{pool_key}; {node}"


def _pool(node_groups: NodeGroupsSettings, name: str) -> NodeGroupSettings | GpuNodeGroupSettings | None:
    return node_groups.gpu if name == "gpu" else node_groups.user


def plan_capacity(
    node_groups: NodeGroupsSettings,
    user_servers: UserServerSettings,
    zones: int,
    capacity: CapacitySettings,
    image_sizes: Mapping[str, int | None] | None = None,
) -> CapacityPlan:
    """Servers per node and at the maximums, per profile, and the hub's limits sized from them. Assumes valid
    settings (types in the catalog, profiles that fit). `image_sizes`: each profile's (or "default"'s, with no
    profiles) pinned environment's compressed size, which replaces coldStart.imageSizeGib for it."""
    entries = [
        (p.slug, p.node_pool, p.resources or user_servers.resources, p.gpus, p.default) for p in user_servers.profiles
    ] or [("default", "user", user_servers.resources, 0, True)]
    profiles = []
    for slug, pool_name, resources, gpus, _default in entries:
        pool = _pool(node_groups, pool_name)
        if pool is None:
            continue
        profiles.append(_profile_capacity(slug, pool_name, pool, resources, gpus, zones))
    default_slug = next(slug for slug, *_, default in entries if default)
    sizes = image_sizes or {}
    start_timeout = capacity.cold_start.for_image(sizes.get(default_slug)).start_timeout_seconds
    set_explicitly = {p.slug for p in user_servers.profiles if p.start_timeout_seconds}
    profile_start_timeouts = {
        slug: timeout
        for slug, *_ in entries
        if slug not in set_explicitly
        and (timeout := capacity.cold_start.for_image(sizes.get(slug)).start_timeout_seconds) > start_timeout
    }
    default = next(p for p in profiles if p.profile == default_slug)
    gpu = max((p for p in profiles if p.pool == "gpu"), key=lambda p: p.total, default=None)
    held = default.total + (gpu.total if gpu else 0)
    active = held if capacity.active_server_limit == "auto" else capacity.active_server_limit
    concurrent = active if capacity.concurrent_spawn_limit == "auto" else capacity.concurrent_spawn_limit
    return CapacityPlan(
        profiles=profiles,
        default=default,
        gpu=gpu,
        active_server_limit=active,
        concurrent_spawn_limit=concurrent,
        # JupyterHub exits after this many failed spawns in a row (Spawner.consecutive_failure_limit, the chart's
        # 5). Every spawn pending on a scale-up that stalls (a quota, an EC2 shortage) fails together, and a
        # restart helps none of them; only a longer streak says the hub itself is broken.
        consecutive_failure_limit=concurrent + 5,
        start_timeout_seconds=start_timeout,
        http_timeout_seconds=capacity.cold_start.http_timeout_seconds,
        profile_start_timeouts=profile_start_timeouts,
    )


def _profile_capacity(
    slug: str,
    pool_name: str,
    pool: NodeGroupSettings,
    resources: ResourceSettings,
    gpus: int,
    zones: int,
) -> ProfileCapacity:
    gpus_per_node = pool.advertised_gpus_per_node if isinstance(pool, GpuNodeGroupSettings) else 0
    fit = pool_fit(
        pool.instance_types,
        resources.cpu_guarantee,
        resources.memory_guarantee,
        daemonset_load(pool_name),
        gpus,
        gpus_per_node,
    )
    return ProfileCapacity(slug, pool_name, fit, pool.max_size, zones, gpus)
