"""How the stack shares the hub, read back from the Helm values the plan sends (what the hub will do, not what
the settings meant): home sizes and server limits per group, culling of servers and kernels, announcements."""

from __future__ import annotations

import html
import re
from typing import Any

from components.department_values import GROUP_LIMITS_SNIPPET, SERVER_CONFIG_PATH
from components.home_usage_alarm import METRIC_NAME
from components.home_usage_alarm import NAME as HOME_USAGE_JOB
from offline_plan.access import _hub_values
from offline_plan.mock_engine import Inventory

SHUTDOWN_ARGUMENT = re.compile(r"^--ServerApp\.shutdown_no_activity_timeout=(\d+)$")


def department_lines(values: dict[str, Any]) -> list[str]:
    single = values["singleuser"]
    kubespawner = values["hub"]["config"].get("KubeSpawner") or {}
    homes = [
        f"{o['groups'][0]} {o['spawner_override']['storage_capacity']}"
        for _, o in sorted((kubespawner.get("group_overrides") or {}).items())
        if "storage_capacity" in o["spawner_override"]
    ]
    lines = [
        f"  homes: {single['storage']['capacity']} for everyone else"
        + (f"; {', '.join(homes)} (the largest of a user's groups)" if homes else "")
    ]
    limits = (values.get("custom") or {}).get("groupServerLimits") or {}
    enforced = GROUP_LIMITS_SNIPPET in (values["hub"].get("extraConfig") or {})
    if limits:
        per_group = [
            f"{group} {entry.get('servers', 'any')}"
            + (f" ({entry['gpuServers']} GPU)" if "gpuServers" in entry else "")
            for group, entry in sorted(limits.items())
        ]
        state = "refused at spawn by the hub" if enforced else "NOT ENFORCED: the hub snippet is missing"
        lines.append(f"  servers at once per group ({state}): {'; '.join(per_group)}")
    else:
        lines.append("  servers at once per group: no group limits")
    cull = values.get("cull") or {}
    culling = (
        f"  servers: idle ones stopped after {cull.get('timeout')} s (the hub's culler, every {cull.get('every')} s)"
    )
    if cull.get("maxAge"):
        culling += f"; every server after {cull['maxAge']} s"
    lines.append(culling)
    for profile in single.get("profileList") or []:
        for argument in profile["kubespawner_override"].get("args", []):
            match = SHUTDOWN_ARGUMENT.match(argument)
            if match:
                seconds, slug = match.group(1), profile["slug"]
                lines.append(f"    profile {slug}: stops itself after {seconds} s idle (no kernel, no request)")
    files = [f for f in (single.get("extraFiles") or {}).values() if f.get("mountPath") == SERVER_CONFIG_PATH]
    kernels = (files[0]["data"] if files else {}).get("MappingKernelManager") or {}
    if kernels.get("cull_idle_timeout"):
        connected = (
            "also with a browser tab connected" if kernels.get("cull_connected") else "not while a tab is connected"
        )
        lines.append(
            f"  kernels: idle ones shut down after {kernels['cull_idle_timeout']} s, {connected}, "
            f"checked every {kernels.get('cull_interval', 300)} s"
        )
    else:
        lines.append("  kernels: never culled (the image's defaults apply)")
    template_vars = values["hub"]["config"]["JupyterHub"].get("template_vars") or {}
    announcements = {
        k.removeprefix("announcement_"): v for k, v in sorted(template_vars.items()) if "announcement" in k
    }
    if announcements:
        lines.append("  announcements (escaped):")
        for page, text in announcements.items():
            lines.append(f"    {page}: {html.unescape(re.sub(r'<[^>]+>', ' ', text)).strip()}")
    else:
        lines.append("  announcements: none")
    return lines


def render_department(inventory: Inventory) -> str:
    values = _hub_values(inventory)
    if values is None:
        return f"How '{inventory.stack}' shares the hub: (the hub's values are unknown in this preview)"
    return "\n".join(
        [
            f"How '{inventory.stack}' shares the hub (read from the hub's values):",
            *department_lines(values),
            home_usage_line(inventory),
        ]
    )


def home_usage_line(inventory: Inventory) -> str:
    """The home usage alarm as declared (its threshold, and whether the job that feeds it runs)."""
    alarms = [
        a
        for a in inventory.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if METRIC_NAME in str(a.inputs.get("metricQueries"))
    ]
    if not alarms:
        return "  homes nearly full: no alarm (department.homeUsageAlarm.enabled is false)"
    fed = any(HOME_USAGE_JOB in r.name for r in inventory.of_type("kubernetes:batch/v1:CronJob"))
    return (
        f"  homes nearly full: an alarm at {alarms[0].inputs['threshold']:g}% of a home's size, to the alert topic "
        + (
            "(the home-usage job reads the kubelets every 5 min, and alarms when it stops; dashboard 'Fullest homes')"
            if fed
            else "(NO JOB FEEDS IT)"
        )
    )
