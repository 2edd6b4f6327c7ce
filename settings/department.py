"""How a department shares the hub: home size and server limits per group, culling of idle servers
and kernels, and the announcements on the hub's pages (`jhub-eks:department`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from settings.base import PROJECT, _field_error, _Model
from settings.hub import JupyterHubSettings
from settings.login import GROUP_NAME

# A volume size as the EBS CSI driver and KubeSpawner's storage_capacity take it.
VolumeSize = Annotated[str, Field(pattern=r"^[1-9]\d{0,4}Gi$")]


def gibibytes(size: str) -> int:
    """`50Gi` -> 50 (home sizes are whole GiB: EBS volumes are)."""
    return int(size.removesuffix("Gi"))


class GroupQuotaSettings(_Model):
    """What one hub group's members get. A user in several groups gets the largest home of their
    groups, and their server counts against the limits of each of them."""

    group: str = Field(pattern=GROUP_NAME)
    """The hub group (the identity provider's group, or GitHub `org:team-slug`)."""
    home_size: VolumeSize | None = None
    """Home volume size of the group's members (e.g. 50Gi); unset: userServers.storageCapacity. A new
    home is created at this size; raising it grows existing homes with docs/storage.md's command
    (volumes cannot shrink)."""
    max_servers: int | None = Field(None, ge=0, le=10000)
    """The most servers the group's members may run at once (any profile); unset: no group limit. The hub
    refuses the next start and names the servers running."""
    max_gpu_servers: int | None = Field(None, ge=0, le=1000)
    """The most GPU-profile servers the group's members may run at once; unset: no group limit."""


class ServerCullingSettings(_Model):
    max_age_seconds: int | None = Field(None, ge=3600, le=30 * 24 * 3600)
    """Servers are stopped after this many seconds whatever their activity (the chart's culler
    `cull.maxAge`); unset: only idle servers are stopped (userServers.idleTimeoutSeconds)."""
    profile_idle_timeout_seconds: dict[str, Annotated[int, Field(ge=300, le=7 * 24 * 3600)]] = Field(
        default_factory=dict
    )
    """Per profile slug, a shorter idle time for its servers (e.g. `{gpu: 900}`): the server stops itself
    after this many seconds with no kernel and no request (jupyter_server's
    `ServerApp.shutdown_no_activity_timeout`, passed as an argument by the profile). Must be below
    userServers.idleTimeoutSeconds, which the hub's culler applies to every server."""


class KernelCullingSettings(_Model):
    idle_timeout_seconds: int = Field(3600, ge=0, le=7 * 24 * 3600)
    """Kernels idle this long are shut down inside the user server (jupyter_server's
    `MappingKernelManager.cull_idle_timeout`); 0 turns kernel culling off."""
    cull_connected: bool = True
    """Also cull idle kernels a browser tab is still connected to (`cull_connected`): a tab left open
    over the weekend would keep the kernel, its memory and a GPU otherwise."""
    interval_seconds: int = Field(300, ge=60, le=3600)
    """How often the server looks for idle kernels (`cull_interval`)."""


Page = Literal["login", "home", "spawn"]
PAGES: tuple[Page, ...] = ("login", "home", "spawn")


class AnnouncementSettings(_Model):
    text: str = Field(min_length=1, max_length=500)
    """Plain text (shown escaped: markup is displayed, never run)."""
    link: str | None = Field(None, max_length=500, pattern=r"^https://[^\s\"'<>]+$")
    """An https:// link shown after the text."""
    pages: list[Page] = Field(default_factory=lambda: list(PAGES))
    """The hub pages it is shown on."""


class HomeUsageAlarmSettings(_Model):
    enabled: bool = True
    """Alarm the stack's alert topic when a running server's home passes `percent` (components/home_usage_alarm.py:
    a CronJob reads the kubelets' volume statistics every 5 minutes; docs/storage.md)."""
    percent: int = Field(90, ge=50, le=99)
    """How full a home may get, in percent of its size, before the alarm fires (50-99); the dashboard lists the
    fullest homes."""


# EKS split cost allocation data imports at most 50 labels of a pod as cost allocation tags, the first 50 in
# alphabetical order ("Using Kubernetes labels for cost allocation in EKS", AWS Data Exports guide). A user
# server carries KubeSpawner's and the chart's labels besides one label per department group of its user, and
# hub.jupyter.org/username sorts after the group labels: past 50, the user's cost loses its name first.
SPLIT_COST_LABEL_LIMIT = 50
USER_POD_LABELS_BESIDES_GROUPS = 12
"""Counted on the real KubeSpawner 7.0.0 pod of every profile (tests/test_department_labels.py)."""
MAX_DEPARTMENT_GROUPS = SPLIT_COST_LABEL_LIMIT - USER_POD_LABELS_BESIDES_GROUPS


class DepartmentSettings(_Model):
    groups: list[GroupQuotaSettings] = Field(default_factory=list)
    """Home size and server limits per hub group; users in none of them get userServers.storageCapacity and
    no group limit."""
    culling: ServerCullingSettings = ServerCullingSettings()
    """Stopping servers: a maximum age, and shorter idle times per profile."""
    kernels: KernelCullingSettings = KernelCullingSettings()
    """Culling idle kernels inside each user server."""
    announcements: list[AnnouncementSettings] = Field(default_factory=list, max_length=10)
    """Messages on the hub's login, home and spawn pages (a maintenance window, a new profile)."""
    home_usage_alarm: HomeUsageAlarmSettings = HomeUsageAlarmSettings()
    """An alarm when a home is nearly full."""

    @model_validator(mode="after")
    def _check(self) -> DepartmentSettings:
        names = [g.group for g in self.groups]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise _field_error("groups", f"{repeated} listed more than once; give each group one entry")
        if len(self.groups) > MAX_DEPARTMENT_GROUPS:
            raise _field_error(
                "groups",
                f"{len(self.groups)} groups: a member of all of them would run a server with "
                f"{USER_POD_LABELS_BESIDES_GROUPS + len(self.groups)} labels, and EKS split cost allocation data "
                f"imports only the first {SPLIT_COST_LABEL_LIMIT} in alphabetical order (their username label among "
                f"the last); list at most {MAX_DEPARTMENT_GROUPS} groups",
            )
        for index, group in enumerate(self.groups):
            servers, gpus = group.max_servers, group.max_gpu_servers
            if servers is not None and gpus is not None and gpus > servers:
                raise _field_error(
                    f"groups[{index}].maxGpuServers",
                    f"{gpus} GPU servers exceed the group's maxServers {servers} (a GPU server is a server); "
                    f"lower maxGpuServers to {servers} or raise maxServers",
                )
        return self

    def home_size(self, groups: set[str], default: str) -> str:
        """The home size of a user in `groups`: the largest of their groups' sizes, else `default`."""
        sizes = [g.home_size for g in self.groups if g.group in groups and g.home_size]
        return max(sizes, key=gibibytes) if sizes else default


def department_problems(department: DepartmentSettings, hub: JupyterHubSettings) -> list[str]:
    """The checks that need the hub's settings: profiles named by the culling exist and idle out before the
    hub's culler would stop them anyway; GPU limits name groups that have a GPU profile to start."""
    problems = []
    key = f"{PROJECT}:department"
    slugs = {p.slug: p for p in hub.user_servers.profiles}
    for slug, seconds in department.culling.profile_idle_timeout_seconds.items():
        if slug not in slugs:
            problems.append(
                f"{key}.culling.profileIdleTimeoutSeconds: no profile {slug!r} in jupyterhub.userServers.profiles "
                f"({', '.join(sorted(slugs)) or 'none'}); name one of them"
            )
        elif seconds >= hub.user_servers.idle_timeout_seconds:
            problems.append(
                f"{key}.culling.profileIdleTimeoutSeconds.{slug}: {seconds} s is not shorter than "
                f"jupyterhub.userServers.idleTimeoutSeconds ({hub.user_servers.idle_timeout_seconds} s), after which "
                "the hub's culler stops every idle server; lower it or remove it"
            )
    gpu_profiles = [p for p in hub.user_servers.profiles if p.gpus]
    for index, group in enumerate(department.groups):
        if group.max_gpu_servers and not any(not p.groups or group.group in p.groups for p in gpu_profiles):
            problems.append(
                f"{key}.groups[{index}].maxGpuServers: no GPU profile is open to group {group.group!r}, so the "
                "limit never applies; add the group to a GPU profile's groups or remove maxGpuServers"
            )
        if hub.auth == "github" and (group.group != group.group.lower() or group.group.count(":") != 1):
            # The hub's groups are the user's teams as `org:team-slug`, lower-cased (hub_config/github_teams.py).
            problems.append(
                f"{key}.groups[{index}].group: {group.group!r} is not a hub group; with GitHub login the hub's "
                "groups are teams, written `org:team-slug` in lower case"
            )
    return problems
