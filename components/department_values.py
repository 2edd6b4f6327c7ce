"""The department's settings as Helm values of the hub: home size and server limits per group, culling of
servers and kernels, announcements. Pure functions over plain data, applied by build_values before the
values overrides."""

from __future__ import annotations

import html
import re
from typing import Any

import hub_config
from settings.department import AnnouncementSettings, DepartmentSettings, gibibytes

GROUP_LIMITS_SNIPPET = "30-group-server-limits"
GROUP_OVERRIDES_SNIPPET = "25-department-group-overrides"
# jupyter-server reads one jupyter_server_config.json per directory of its config path (a `.d` directory is
# read for extension switches only: jupyter_server/config_manager.py). /usr/local/etc/jupyter comes before
# /etc/jupyter, where the docker-stacks images keep their own config, so what the stack sets here wins over
# an image's defaults there. build_values' secure-XSRF entry is this file too: the kernel culling joins it.
SERVER_CONFIG_FILE = "jupyter-server-config"
SERVER_CONFIG_PATH = "/usr/local/etc/jupyter/jupyter_server_config.json"


# A label per department group on its members' pods: EKS split cost allocation data imports pod labels as cost
# allocation tags, so the cost export can sum a group's cost (bootstrap/cost_export.py). Label keys take a
# DNS-subdomain prefix and a name of at most 63 of [-_.A-Za-z0-9], starting and ending alphanumeric.
GROUP_LABEL_PREFIX = "group.jhub-eks/"
GROUP_LABEL_VALUE = "member"


def group_label(group: str) -> str:
    name = re.sub(r"[^-_.A-Za-z0-9]", "-", group)[:63].strip("-_.")
    return f"{GROUP_LABEL_PREFIX}{name}"


def group_overrides(department: DepartmentSettings) -> dict[str, Any]:
    """JupyterHub 5.5's `Spawner.group_overrides`: applied at every spawn, in the order of the keys, to members
    of the listed groups, before KubeSpawner creates the home claim at `storage_capacity` and the pod. Home keys
    sort by size, so the largest home of a user's groups is applied last and wins; `extra_labels` merge (a dict
    trait is updated, not replaced), so a member of two groups carries both labels."""
    homes = {
        f"home-{gibibytes(g.home_size):05d}gi-{g.group}": {
            "groups": [g.group],
            "spawner_override": {"storage_capacity": g.home_size},
        }
        for g in department.groups
        if g.home_size
    }
    labels = {
        f"label-{g.group}": {
            "groups": [g.group],
            "spawner_override": {"extra_labels": {group_label(g.group): GROUP_LABEL_VALUE}},
        }
        for g in department.groups
    }
    return {**homes, **labels}


def group_server_limits(department: DepartmentSettings) -> dict[str, dict[str, int]]:
    """`custom.groupServerLimits`, which hub_config/group_server_limits.py reads with z2jh.get_config."""
    limits: dict[str, dict[str, int]] = {}
    for g in department.groups:
        entry = {
            key: value
            for key, value in (("servers", g.max_servers), ("gpuServers", g.max_gpu_servers))
            if value is not None
        }
        if entry:
            limits[g.group] = entry
    return limits


def announcement_html(announcement: AnnouncementSettings) -> str:
    """The markup of one announcement. JupyterHub's page.html renders `announcement` with `| safe`, so the text
    and link are escaped here: a setting is shown, never interpreted."""
    text = html.escape(announcement.text)
    if announcement.link:
        link = html.escape(announcement.link, quote=True)
        text += f' <a href="{link}" rel="noopener noreferrer">{link}</a>'
    return text


def announcement_template_vars(department: DepartmentSettings) -> dict[str, str]:
    """`JupyterHub.template_vars`: `announcement_<page>` for each page an announcement names (login.html,
    home.html and spawn.html set `announcement` from them), one paragraph per announcement."""
    pages: dict[str, list[str]] = {}
    for announcement in department.announcements:
        for page in announcement.pages:
            pages.setdefault(page, []).append(announcement_html(announcement))
    return {f"announcement_{page}": "<br>".join(items) for page, items in sorted(pages.items())}


def kernel_culling_config(department: DepartmentSettings) -> dict[str, Any]:
    kernels = department.kernels
    if not kernels.idle_timeout_seconds:
        return {}
    return {
        "MappingKernelManager": {
            "cull_idle_timeout": kernels.idle_timeout_seconds,
            "cull_connected": kernels.cull_connected,
            "cull_interval": kernels.interval_seconds,
        }
    }


def shutdown_argument(seconds: int) -> str:
    """jupyter-server's own idle stop (ServerApp.shutdown_no_activity_timeout): with no kernel and no request
    for this long, the server exits and the hub sees it stopped."""
    return f"--ServerApp.shutdown_no_activity_timeout={seconds}"


def with_department(values: dict[str, Any], department: DepartmentSettings) -> dict[str, Any]:
    """The release's values with the department's settings applied: the dicts on the way to what changes are
    copied, the leaves shared (some are Pulumi outputs, which cannot be deep-copied)."""
    values = {
        **values,
        "hub": dict(values["hub"]),
        "singleuser": dict(values["singleuser"]),
        "cull": dict(values["cull"]),
    }
    hub = values["hub"]
    hub["config"] = {**hub["config"], "JupyterHub": dict(hub["config"]["JupyterHub"])}
    hub["extraConfig"] = dict(hub["extraConfig"])
    single = values["singleuser"]
    overrides = group_overrides(department)
    if overrides:
        hub["config"]["KubeSpawner"] = {**hub["config"].get("KubeSpawner", {}), "group_overrides": overrides}
        # What a group gave a user is taken back when they leave it (a spawner outlives its server).
        hub["extraConfig"][GROUP_OVERRIDES_SNIPPET] = hub_config.source("department_group_overrides")
    limits = group_server_limits(department)
    if limits:
        values["custom"] = {**values.get("custom", {}), "groupServerLimits": limits}
        hub["extraConfig"][GROUP_LIMITS_SNIPPET] = hub_config.source("group_server_limits")
    template_vars = announcement_template_vars(department)
    if template_vars:
        jupyterhub = hub["config"]["JupyterHub"]
        jupyterhub["template_vars"] = {**jupyterhub.get("template_vars", {}), **template_vars}
    if department.culling.max_age_seconds:
        values["cull"]["maxAge"] = department.culling.max_age_seconds
    profiles = []
    for profile in single.get("profileList") or []:
        seconds = department.culling.profile_idle_timeout_seconds.get(profile["slug"])
        if seconds:
            override = profile["kubespawner_override"]
            override = {**override, "args": [*override.get("args", []), shutdown_argument(seconds)]}
            profile = {**profile, "kubespawner_override": override}
        profiles.append(profile)
    if profiles:
        single["profileList"] = profiles
    server_config = kernel_culling_config(department)
    if server_config:
        # One file per path: two extraFiles at one mountPath would make two mounts there, which the API refuses.
        files = single["extraFiles"] = dict(single.get("extraFiles") or {})
        same_path = [key for key, entry in files.items() if entry.get("mountPath") == SERVER_CONFIG_PATH]
        key = same_path[0] if same_path else SERVER_CONFIG_FILE
        entry = files.get(key) or {"mountPath": SERVER_CONFIG_PATH, "data": {}}
        files[key] = {**entry, "data": {**entry["data"], **server_config}}
    return values
