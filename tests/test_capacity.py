"""Capacity: servers per node from the allocatable of real instance types (catalog/capacity.py), what the node
groups hold at their maximums and the hub's limits sized from it (settings/capacity.py), the hub process really
reading those limits (the chart's own hub configuration run on the rendered chart), and the plan's cost at N
active users with the per-registered-user cost (offline_plan/capacity.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock

import kubespawner.spawner
import pytest
from kubespawner import KubeSpawner

from catalog.capacity import CPU, GPUS, MEMORY, PODS, DaemonSetLoad, node_fit, nodes_for
from components.jupyterhub_values import build_values, redacted_secrets
from offline_plan.capacity import capacity_cost
from offline_plan.cost import CostReport, load_prices
from offline_plan.mock_engine import Inventory, load_stack_config
from settings import Settings, SettingsError, parse_settings
from settings.capacity import DAEMONSET_PODS, daemonset_load
from tests import charts
from tests.hub_config_run import hub_config


def settings_of(stack: str, **sections: Any) -> Settings:
    """The stack's settings, with whole top-level sections (`capacity`, ...) replaced."""
    config, secret_keys = load_stack_config(stack)
    for key, value in sections.items():
        config[f"jhub-eks:{key}"] = json.dumps(value)
    return parse_settings(stack, config, frozenset(secret_keys))


# The DaemonSets on a user node (data/eks/daemonset-requests.json, pool "user"): 380m, 257Mi, and 7 pods
# (aws-node, kube-proxy, ebs-csi-node, eks-pod-identity-agent, cloudwatch-agent, fluent-bit, the image puller).
USER_DAEMONSETS = DaemonSetLoad("380m", "257Mi", 7)


def test_the_user_pool_s_daemonsets_are_the_recorded_ones() -> None:
    assert daemonset_load("user") == USER_DAEMONSETS
    assert DAEMONSET_PODS["gpu"] == 8  # no image puller; the device plugin and dcgm-exporter


# An m6i.2xlarge (8 vCPU, 32768 MiB, ENI max pods 4 x (15 - 1) + 2 = 58), by nodeadm's rules:
# CPU reserved 60 + 10 + 10 + 10 = 90m, so 7910m allocatable, 7530m beside the DaemonSets;
# memory: 32768 less 7.5 % (2458) = 30310, less kube-reserved 11 x 58 + 255 = 893 and eviction 100 = 29317 MiB,
# 29060 MiB beside the DaemonSets.
@pytest.mark.parametrize(
    ("cpu", "memory", "servers", "binding"),
    [
        (1, "4Gi", 7, f"{CPU} and {MEMORY}"),  # prod's standard profile: 7530 // 1000, 29060 // 4096
        (0.5, "3650Mi", 7, MEMORY),  # 29060 / 3650 = 7.96; without the DaemonSets' memory it would be 8
        (1.5, "1Gi", 5, CPU),  # 7530 // 1500; without the DaemonSets' CPU (7910) it would still be 5, so:
        (0.25, "1Gi", 28, MEMORY),  # 29060 // 1024 = 28; CPU alone: 7530 // 250 = 30
        ("10m", "64Mi", 51, PODS),  # 58 max pods less 7 DaemonSet pods
    ],
)
def test_servers_per_node_from_the_allocatable_of_a_real_type(
    cpu: Any, memory: str, servers: int, binding: str
) -> None:
    fit = node_fit("m6i.2xlarge", cpu, memory, USER_DAEMONSETS)
    assert (fit.servers, fit.binding) == (servers, binding)


def test_a_gpu_server_per_gpu_and_time_slicing_moves_the_limit_to_the_cpu() -> None:
    gpu_daemonsets = daemonset_load("gpu")
    # g5.xlarge: 4 vCPU, 16 GiB, one A10G. A 2-CPU, 8 GiB server with one GPU.
    whole = node_fit("g5.xlarge", 2, "8Gi", gpu_daemonsets, gpus=1, gpus_per_node=1)
    assert (whole.servers, whole.by_resource[GPUS]) == (1, 1)
    shared = node_fit("g5.xlarge", "500m", "2Gi", gpu_daemonsets, gpus=1, gpus_per_node=4)
    assert shared.by_resource[GPUS] == 4 and shared.servers == 4
    assert node_fit("g5.xlarge", "500m", "2Gi", gpu_daemonsets, gpus=1, gpus_per_node=2).binding == GPUS


def test_servers_spread_over_zones_need_a_node_in_each() -> None:
    # Homes pin users to zones: 10 users over 3 zones are 4 + 3 + 3, a node in each zone, not 2 nodes.
    assert nodes_for(10, 7, 3) == 3
    assert nodes_for(2, 7, 3) == 2
    assert nodes_for(50, 7, 3) == 9  # 17 per zone: 3 nodes each
    assert nodes_for(0, 7, 3) == 0


def test_prod_holds_420_standard_servers_and_the_hub_admits_that_many_plus_the_gpu_servers() -> None:
    plan = settings_of("prod").capacity_plan
    by_profile = {entry.profile: entry for entry in plan.profiles}
    assert (by_profile["standard"].per_zone, by_profile["standard"].total) == (140, 420)  # 7 x 20 per zone x 3
    assert by_profile["large"].total == 60  # 4 CPU, 16 GiB: one per m6i.2xlarge
    assert (by_profile["gpu"].total, by_profile["gpu"].total * by_profile["gpu"].gpus) == (6, 6)
    assert plan.active_server_limit == 426 == plan.node_group_servers
    assert plan.concurrent_spawn_limit == 426
    assert plan.consecutive_failure_limit > plan.concurrent_spawn_limit
    assert "nodeGroups.user.maxSize 20 per zone" in plan.first_limit(by_profile["standard"])


def test_a_set_active_server_limit_binds_first_and_one_beyond_the_nodes_is_refused() -> None:
    plan = settings_of("prod", capacity={"activeServerLimit": 300}).capacity_plan
    standard = next(p for p in plan.profiles if p.profile == "standard")
    assert plan.first_limit(standard).startswith("capacity.activeServerLimit 300")
    assert plan.concurrent_spawn_limit == 300
    with pytest.raises(SettingsError, match=r"capacity.activeServerLimit: 427 is more servers .* \(426\)"):
        settings_of("prod", capacity={"activeServerLimit": 427})
    with pytest.raises(SettingsError, match=r"capacity.warm.serversPerZone: 141 .* \(140\)"):
        settings_of("prod", capacity={"warm": {"serversPerZone": 141}})


def test_the_start_timeout_covers_a_cold_start() -> None:
    cold = settings_of("prod", capacity={"coldStart": {"imageSizeGib": 6, "pullMibPerSecond": 32}}).capacity
    # 180 s boot + 6 GiB / 32 MiB/s = 192 s + 60 s start = 432 s, x 1.5 = 648 -> 660 s.
    assert cold.cold_start.cold_start_seconds == 432
    assert cold.cold_start.start_timeout_seconds == 660


def _hub_values(settings: Settings) -> dict[str, Any]:
    """The hub release's values as the program builds them, with the plan's limits."""
    return build_values(
        settings.jupyterhub,
        storage_class="gp3",
        secrets=redacted_secrets(),
        certificate_arn="arn:aws:acm:eu-west-1:111122223333:certificate/test",
        capacity=settings.capacity_plan,
    )


def _hub_process_config(settings: Settings) -> Any:
    return hub_config(
        charts.render(
            "jupyterhub",
            settings.jupyterhub.chart_version,
            _hub_values(settings),
            release="jupyterhub",
            namespace="jupyterhub",
        )
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_hub_process_reads_the_limits_and_the_start_timeout(stack: str) -> None:
    settings = settings_of(stack)
    plan = settings.capacity_plan
    c = _hub_process_config(settings)
    # The chart's defaults are 64, None (no limit), 5 and 300 s: each is replaced by the plan's figure.
    assert c.JupyterHub.active_server_limit == plan.active_server_limit
    assert c.JupyterHub.concurrent_spawn_limit == plan.concurrent_spawn_limit
    assert c.Spawner.consecutive_failure_limit == plan.consecutive_failure_limit
    assert c.KubeSpawner.start_timeout == plan.start_timeout_seconds > settings.capacity.cold_start.cold_start_seconds


def _start_timeout_after_choosing(singleuser: dict[str, Any], slug: str) -> int:
    async def choose() -> int:
        spawner = KubeSpawner(
            _mock=True, profile_list=singleuser["profileList"], start_timeout=singleuser["startTimeout"]
        )
        spawner.user_options = {"profile": slug}
        await spawner.load_user_options()
        return int(spawner.start_timeout)

    with mock.patch.object(kubespawner.spawner, "load_config", lambda **kwargs: None):
        return asyncio.run(choose())


def _prod_with_gpu_start_timeout(seconds: int | None) -> Settings:
    """Prod's settings with the GPU profile's startTimeoutSeconds set to `seconds` (None: removed)."""
    config, secret_keys = load_stack_config("prod")
    hub = json.loads(config["jhub-eks:jupyterhub"])
    for profile in hub["userServers"]["profiles"]:
        if profile.get("nodePool") == "gpu":
            profile.pop("startTimeoutSeconds", None)
            if seconds is not None:
                profile["startTimeoutSeconds"] = seconds
    config["jhub-eks:jupyterhub"] = json.dumps(hub)
    return parse_settings("prod", config, frozenset(secret_keys))


def _start_timeouts(settings: Settings) -> dict[str, int]:
    """Each profile's start timeout as the real KubeSpawner has it once a user chose the profile."""
    # The chart hands singleuser.profileList to KubeSpawner.profile_list (jupyterhub_config.py L176).
    single = _hub_values(settings)["singleuser"]
    return {p["slug"]: _start_timeout_after_choosing(single, p["slug"]) for p in single["profileList"]}


def test_a_profile_whose_pinned_environment_pulls_longer_gets_its_own_start_timeout() -> None:
    settings = _prod_with_gpu_start_timeout(None)
    gpu = next(p for p in settings.jupyterhub.user_servers.profiles if p.node_pool == "gpu")
    _, pin = settings.environment_of(gpu.slug) or ("", None)
    assert pin is not None and pin.compressed_size_bytes, "prod's GPU environment records its size"
    # 180 s boot + 4.94 GiB at 40 MiB/s (127 s) + 60 s start = 367 s, x 1.5 = 551 -> 600 s; the default's 480 s.
    default = settings.capacity_plan.start_timeout_seconds
    assert (settings.capacity.cold_start.for_image(pin.compressed_size_bytes).start_timeout_seconds, default) == (
        600,
        480,
    )
    assert _start_timeouts(settings) == {
        p.slug: 600 if p is gpu else default for p in settings.jupyterhub.user_servers.profiles
    }
    # The stack's own startTimeoutSeconds (prod sets 1200 for the GPU profile) wins over the computed one.
    explicit = _prod_with_gpu_start_timeout(1200)
    assert gpu.slug not in explicit.capacity_plan.profile_start_timeouts
    assert _start_timeouts(explicit)[gpu.slug] == 1200


def test_the_program_gives_the_release_the_plan_s_limits(plan: Inventory) -> None:
    (release,) = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "jupyterhub"]
    values = release.inputs["values"]
    limits = settings_of(plan.stack).capacity_plan
    assert values["hub"]["activeServerLimit"] == limits.active_server_limit
    assert values["singleuser"]["startTimeout"] == limits.start_timeout_seconds


# ---- Cost at N active users --------------------------------------------------------------------------------


def _report(stack: str, fixed: float, active_hours: int = 160) -> CostReport:
    from offline_plan.cost import Line

    report = CostReport(stack, "eu-west-1", "snapshot", 730, active_hours)
    report.lines.append(Line("x", "fixed", fixed, fixed))
    return report


def test_cost_at_n_users_adds_the_nodes_they_need_and_registered_users_pay_their_homes() -> None:
    settings = settings_of("prod", capacity={"costAtActiveUsers": [10, 50], "registeredUsers": 400})
    prices = load_prices("eu-west-1")
    cost = capacity_cost(settings, _report("prod", 1000.0), prices)
    node_hour = prices["instances"]["m6i.2xlarge"]["usd"] + prices["prices"]["ebs.gp3-gb-month"]["usd"] * 100 / 730
    ten, fifty = cost.at
    assert (ten.user_nodes, fifty.user_nodes) == (3, 9)
    assert ten.monthly == pytest.approx(1000.0 + 3 * node_hour * 160)
    assert fifty.monthly == pytest.approx(1000.0 + 9 * node_hour * 160)
    # The home volume (20Gi) and its backups are per registered user, not in the active rows.
    per_gib = prices["prices"]["ebs.gp3-gb-month"]["usd"] + prices["prices"]["ebs.snapshot-gb-month"]["usd"]
    assert cost.per_registered_user == pytest.approx(20 * per_gib)
    assert ten.fits and fifty.fits
    beyond = capacity_cost(settings_of("prod", capacity={"costAtActiveUsers": [421]}), _report("prod", 1000.0), prices)
    assert not beyond.at[0].fits  # 420 standard servers at maxSize
    fewer = capacity_cost(settings_of("prod", capacity={"costAtActiveUsers": [10]}), _report("prod", 1000.0), prices)
    assert fewer.at[0].monthly == ten.monthly


def test_warm_capacity_costs_its_nodes_all_month_and_active_users_come_on_top() -> None:
    settings = settings_of("prod", capacity={"warm": {"serversPerZone": 5}, "costAtActiveUsers": [10]})
    prices = load_prices("eu-west-1")
    cost = capacity_cost(settings, _report("prod", 1000.0), prices)
    node_hour = prices["instances"]["m6i.2xlarge"]["usd"] + prices["prices"]["ebs.gp3-gb-month"]["usd"] * 100 / 730
    assert cost.warm_nodes == 3  # 5 per zone, one node in each of 3 zones
    assert cost.warm_monthly == pytest.approx(3 * node_hour * 730)
    # A real server evicts a placeholder, which the autoscaler places again: 10 users + 5 warm per zone are
    # 4 + 5 = 9 per zone, two nodes each, so three nodes more than the warm ones while users are active.
    (ten,) = cost.at
    assert ten.user_nodes == 6
    assert ten.monthly == pytest.approx(1000.0 + 3 * node_hour * 160)  # the fixed cost holds the warm nodes
