"""The GPU pool: GPU servers land there and nowhere else, nothing else lands there, the autoscaler
can plan a GPU node while the pool is at zero, and the device plugin runs on it.

Pods are the real KubeSpawner's (tests/user_pods.py); where they may land is the scheduler's node
filters (tests/scheduling.py) over the nodes each node group makes (its labels and taints) and over
the node cluster-autoscaler builds from the group's Auto Scaling group tags when it has no node
(cloudprovider/aws: node-template/label, /taint `value:Effect`, /resources)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from catalog.instance_types import lookup
from components.gpu_device_plugin import device_plugin_values
from components.node_groups import AUTOSCALER_TEMPLATE, TAINT_EFFECTS
from offline_plan.chart_values import chart_data
from offline_plan.mock_engine import Inventory, Recorded
from tests import charts
from tests.conftest import stack_config
from tests.scheduling import Node, affinity_allows, fits, taints_allow
from tests.test_user_pods import profiles, spawner_config
from tests.user_pods import HubUser, spawn

ROOT = Path(__file__).resolve().parent.parent
DEVICE_PLUGIN_DEFAULTS = chart_data("nvidia-device-plugin", "0.20.0").defaults


def node_of(group: Recorded) -> Node:
    return Node(
        labels=dict(group.inputs.get("labels") or {}),
        taints=[
            {"key": t["key"], "value": t.get("value", ""), "effect": TAINT_EFFECTS[t["effect"]]}
            for t in group.inputs.get("taints") or []
        ],
    )


def pool_of(group: Recorded) -> str:
    return group.inputs["labels"]["node-purpose"]


def template_node(plan: Inventory, group: Recorded) -> tuple[Node, dict[str, str]]:
    """The node cluster-autoscaler plans for the group at zero, from its ASG's tags."""
    asg = f"eks-{group.name}-"
    tags = {
        t.inputs["tag"]["key"]: t.inputs["tag"]["value"]
        for t in plan.of_type("aws:autoscaling/tag:Tag")
        if t.inputs["autoscalingGroupName"].startswith(asg)
    }
    labels = {k.split("/label/", 1)[1]: v for k, v in tags.items() if k.startswith(f"{AUTOSCALER_TEMPLATE}/label/")}
    taints = []
    for key, value in tags.items():
        if key.startswith(f"{AUTOSCALER_TEMPLATE}/taint/"):
            taint_value, _, effect = value.partition(":")
            taints.append({"key": key.split("/taint/", 1)[1], "value": taint_value, "effect": effect})
    resources = {k.split("/resources/", 1)[1]: v for k, v in tags.items() if "/resources/" in k}
    return Node(labels, taints), resources


def gpu_stack(plans: dict[str, Inventory]) -> Inventory:
    """The stack with a GPU pool (prod's example)."""
    (plan,) = [p for p in plans.values() if "gpu" in stack_config(p)["jhub-eks:nodeGroups"]]
    return plan


def profile_pods(plan: Inventory) -> dict[str, dict[str, Any]]:
    config = spawner_config(plan)
    return {
        p["slug"]: spawn(config, HubUser("alice", list(p.get("groups", []))), {"profile": p["slug"]})[1]["spec"]
        for p in profiles(plan)
    }


def test_gpu_groups_run_the_nvidia_ami_and_carry_the_gpu_taint(plans: dict[str, Inventory]) -> None:
    plan = gpu_stack(plans)
    gpu_groups = [g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if pool_of(g) == "gpu"]
    assert len(gpu_groups) == len(stack_config(plan)["jhub-eks:network"]["availabilityZones"])  # one per zone
    for group in gpu_groups:
        assert group.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert group.inputs["scalingConfig"]["minSize"] == 0
        node = node_of(group)
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in node.taints
        assert node.labels["nvidia.com/gpu.present"] == "true"


def test_each_profile_lands_on_its_pool_only(plan: Inventory) -> None:
    groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    for profile, spec in zip(profiles(plan), profile_pods(plan).values(), strict=True):
        pool = profile.get("nodePool", "user")
        for group in groups:
            assert fits(spec, node_of(group)) == (pool_of(group) == pool), (profile["slug"], group.name)


def test_the_autoscaler_plans_a_gpu_node_for_a_gpu_server_while_the_pool_is_at_zero(
    plans: dict[str, Inventory],
) -> None:
    plan = gpu_stack(plans)
    specs = profile_pods(plan)
    gpu_profiles = [p for p in profiles(plan) if p.get("gpus")]
    assert gpu_profiles
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        if pool_of(group) not in ("gpu", "user"):
            continue
        planned, resources = template_node(plan, group)
        assert planned.labels == node_of(group).labels
        assert sorted(planned.taints, key=str) == sorted(node_of(group).taints, key=str)
        for profile in profiles(plan):
            assert fits(specs[profile["slug"]], planned) == (profile.get("nodePool", "user") == pool_of(group))
        if pool_of(group) == "gpu":
            pool = gpu_settings(plan)
            assert int(resources["nvidia.com/gpu"]) == pool["gpus"] * pool.get("timeSlicingReplicas", 1)
            for profile in gpu_profiles:
                assert int(resources["nvidia.com/gpu"]) >= profile["gpus"]


def gpu_settings(plan: Inventory) -> dict[str, Any]:
    """nodeGroups.gpu, with the physical GPU count of its instance type (catalog/instance_types.py)."""
    gpu = stack_config(plan)["jhub-eks:nodeGroups"]["gpu"]
    physical = lookup(gpu["instanceTypes"][0])
    assert physical is not None
    return {**gpu, "gpus": physical.gpus}


def test_without_its_toleration_a_gpu_profile_would_never_start(plans: dict[str, Inventory]) -> None:
    plan = gpu_stack(plans)
    gpu_slug = next(p["slug"] for p in profiles(plan) if p.get("gpus"))
    spec = copy.deepcopy(profile_pods(plan)[gpu_slug])
    spec["tolerations"] = [t for t in spec["tolerations"] if t["key"] != "nvidia.com/gpu"]
    group = next(g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if pool_of(g) == "gpu")
    assert affinity_allows(spec, node_of(group)) and not taints_allow(spec, node_of(group))


# ---- The device plugin ---------------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [1, 4])
def test_device_plugin_values_are_the_charts_and_it_runs_on_every_gpu_node(
    plans: dict[str, Inventory], replicas: int
) -> None:
    values = device_plugin_values(replicas)
    # Its keys against the chart's defaults (it ships no schema): tests/test_chart_values.py.
    spec = {**values, "affinity": values.get("affinity", DEVICE_PLUGIN_DEFAULTS["affinity"])}
    plan = gpu_stack(plans)
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert fits(spec, node_of(group)) == (pool_of(group) == "gpu"), group.name
    context = values["securityContext"]
    assert "SYS_ADMIN" in context["capabilities"]["add"] and not context.get("privileged")
    # User servers drop every capability: devices must reach them through CDI, not the envvar.
    assert values["deviceListStrategy"] == "cdi-cri"
    if replicas > 1:
        config = yaml.safe_load(values["config"]["map"][values["config"]["default"]])
        sharing = config["sharing"]["timeSlicing"]
        assert sharing["resources"] == [{"name": "nvidia.com/gpu", "replicas": replicas}]
        assert sharing["failRequestsGreaterThanOne"] is True and sharing["renameByDefault"] is False
    else:
        assert "config" not in values


def test_device_plugin_needs_the_gpu_present_label(plans: dict[str, Inventory]) -> None:
    """Without it the chart's default affinity matches no EKS 1.33 node (nodeadm adds it from 1.35)."""
    plan = gpu_stack(plans)
    group = next(g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if pool_of(g) == "gpu")
    node = node_of(group)
    unlabelled = Node({k: v for k, v in node.labels.items() if k != "nvidia.com/gpu.present"}, node.taints)
    spec = {**device_plugin_values(1), "affinity": DEVICE_PLUGIN_DEFAULTS["affinity"]}
    assert fits(spec, node) and not fits(spec, unlabelled)


def test_the_release_is_the_pinned_chart(plans: dict[str, Inventory]) -> None:
    plan = gpu_stack(plans)
    (release,) = [
        r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == "nvidia-device-plugin"
    ]
    assert release.inputs["chart"] == "nvidia-device-plugin" and release.inputs["version"] == "0.20.0"
    assert release.inputs["repositoryOpts"]["repo"] == "https://nvidia.github.io/k8s-device-plugin"
    assert release.inputs["namespace"] == "kube-system"


# ---- The device plugin as the chart renders it ---------------------------------------------------

DRIVER_ROOT = yaml.safe_load((ROOT / "data/charts/nvidia-device-plugin-0.20.0/driver-root.yaml").read_text())


def device_plugin_release(plan: Inventory) -> Recorded:
    releases = plan.of_type("kubernetes:helm.sh/v3:Release")
    (release,) = [r for r in releases if r.inputs["chart"] == "nvidia-device-plugin"]
    return release


def rendered_device_plugin(release: Recorded, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The chart's objects for the release, with its values (or `values` in their place)."""
    return charts.render_install(release.inputs, values)


def plugin_setting(container: dict[str, Any], setting: dict[str, Any]) -> str:
    """The value the plugin binary runs with: a command-line flag, else the first of its environment
    variables set, else its default (urfave/cli)."""
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    for index, word in enumerate(words):
        name, _, value = word.partition("=")
        if name in setting["flags"]:
            return value or words[index + 1]
    env = {e["name"]: e for e in container.get("env") or []}
    for name in setting["env"]:
        if name in env:
            assert "value" in env[name], f"{name} is not a literal value: {env[name]}"
            return str(env[name]["value"])
    return str(setting["default"])


def daemon_set(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == name]
    return found


def driver_root_problems(pod: dict[str, Any]) -> list[str]:
    """Why the plugin in this pod could not build its CDI spec from the AMI's driver, if it could not."""
    (plugin,) = [c for c in charts.containers(pod) if c.get("command") == ["nvidia-device-plugin"]]
    in_container = plugin_setting(plugin, DRIVER_ROOT["containerDriverRoot"])
    on_host = plugin_setting(plugin, DRIVER_ROOT["hostDriverRoot"])
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mounted = [
        volumes[m["name"]].get("hostPath", {}).get("path")
        for m in plugin.get("volumeMounts") or []
        if m["mountPath"].rstrip("/") == in_container.rstrip("/")
    ]
    problems = []
    if mounted != [DRIVER_ROOT["amiDriverRoot"]]:
        problems.append(
            f"the plugin reads the driver at {in_container} in its container, where the host's "
            f"{DRIVER_ROOT['amiDriverRoot']} is not mounted (mounted there: {mounted}): it finds no libcuda.so, "
            "exits with 'unable to create cdi spec file' and advertises no nvidia.com/gpu"
        )
    if on_host != DRIVER_ROOT["amiDriverRoot"]:
        problems.append(f"the CDI spec would point containers at the driver under {on_host}, not the AMI's")
    return problems


def test_the_rendered_device_plugin_mounts_the_amis_driver_where_it_builds_its_cdi_spec(
    plans: dict[str, Inventory],
) -> None:
    release = device_plugin_release(gpu_stack(plans))
    for values in (None, device_plugin_values(1), device_plugin_values(4)):  # the release's, both shapes
        pod = daemon_set(rendered_device_plugin(release, values), "nvidia-device-plugin")["spec"]["template"]["spec"]
        assert driver_root_problems(pod) == []
        (plugin,) = [c for c in pod["containers"] if c["name"] == "nvidia-device-plugin-ctr"]
        assert plugin_setting(plugin, {"flags": [], "env": ["DEVICE_LIST_STRATEGY"], "default": "envvar"}) == "cdi-cri"


def test_without_the_driver_root_the_plugin_could_not_build_its_cdi_spec(plans: dict[str, Inventory]) -> None:
    release = device_plugin_release(gpu_stack(plans))
    values = {k: v for k, v in release.inputs["values"].items() if k != "nvidiaDriverRoot"}
    pod = daemon_set(rendered_device_plugin(release, values), "nvidia-device-plugin")["spec"]["template"]["spec"]
    (problem,) = driver_root_problems(pod)
    assert "reads the driver at /driver-root" in problem and "mounted there: []" in problem


def test_the_charts_daemon_sets_run_the_plugin_on_gpu_nodes_only(plans: dict[str, Inventory]) -> None:
    """The device plugin on every GPU node and nowhere else; the chart's other DaemonSet (the MPS control
    daemon, privileged, host PID) on no node of ours: it waits for nvidia.com/mps.capable, which only GPU
    feature discovery sets, and that stays off (as does node feature discovery)."""
    plan = gpu_stack(plans)
    objects = rendered_device_plugin(device_plugin_release(plan))
    daemon_sets = {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] == "DaemonSet"}
    assert set(daemon_sets) == {"nvidia-device-plugin", "nvidia-device-plugin-mps-control-daemon"}
    groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    for group in groups:
        node = node_of(group)
        assert "nvidia.com/mps.capable" not in node.labels
        assert fits(daemon_sets["nvidia-device-plugin"], node) == (pool_of(group) == "gpu"), group.name
        assert not fits(daemon_sets["nvidia-device-plugin-mps-control-daemon"], node), group.name
        planned, _ = template_node(plan, group)  # and the node the autoscaler plans while the pool is at zero
        assert fits(daemon_sets["nvidia-device-plugin"], planned) == (pool_of(group) == "gpu"), group.name


def test_the_rendered_device_plugin_objects_are_valid_kubernetes(plans: dict[str, Inventory]) -> None:
    plan = gpu_stack(plans)
    version = plan.one("eks:index:Cluster").inputs["version"]
    for values in (None, device_plugin_values(4)):
        objects = rendered_device_plugin(device_plugin_release(plan), values)
        assert {o["kind"] for o in objects} >= {"DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
        for document in objects:
            kubernetes_validate.validate(document, version, strict=True)
