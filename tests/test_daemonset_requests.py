"""The DaemonSet requests carried in data/eks/daemonset-requests.json, which a profile's guarantee must
leave room for on its pool's nodes: each pool's total is the sum of what the scheduler counts for the
DaemonSets on that pool, each placement follows from the DaemonSet's tolerations and affinity on the nodes
the program declares, what the program itself sets (device plugin, image puller) is what the data says,
every DaemonSet of what the program installs is listed, and every figure names its source."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.node_groups import TAINT_EFFECTS
from offline_plan.chart_values import chart_data, coalesce
from offline_plan.mock_engine import ROOT, Inventory
from tests.scheduling import Node, fits

DATA = json.loads((ROOT / "data" / "eks" / "daemonset-requests.json").read_text())
DAEMONSETS: dict[str, dict[str, Any]] = {entry["name"]: entry for entry in DATA["daemonsets"]}
CHARTS = ROOT / "data" / "charts"
HUB_DEFAULTS = chart_data("jupyterhub", "4.4.0").defaults
DEVICE_PLUGIN_DEFAULTS = chart_data("nvidia-device-plugin", "0.20.0").defaults
RELEASE = "kubernetes:helm.sh/v3:Release"
# The architecture of each AMI type the program uses; the kubelet labels the node with it.
AMI_ARCHITECTURES = {"AL2023_x86_64_STANDARD": "amd64", "AL2023_x86_64_NVIDIA": "amd64"}


def millicores(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return round(float(quantity) * 1000)


def mebibytes(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024}
    if quantity[-2:] not in units:
        raise ValueError(f"memory {quantity!r}: write it in Mi or Gi")
    return int(quantity[:-2]) * units[quantity[-2:]]


PARSERS = {"cpu": millicores, "memory": mebibytes}


def pod_request(entry: dict[str, Any], resource: str) -> int | None:
    """What the scheduler counts for the pod: per container its request, or its limit where it has no
    request (Kubernetes defaults a missing request to the limit), summed over the containers (init
    containers are not listed). None when a container's figures are not known."""
    total = 0
    for container in entry["containers"]:
        if container["requests"] is None:
            return None
        quantity = container["requests"].get(resource) or container["limits"].get(resource)
        total += PARSERS[resource](quantity) if quantity else 0
    return total


def declared_nodes(plan: Inventory, pool: str) -> list[Node]:
    """A node of the pool for each of its instance types, as the kubelet labels it: the node group's
    labels and taints plus the well-known labels the DaemonSets' affinities read."""
    nodes = []
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        if group.inputs["labels"]["node-purpose"] != pool:
            continue
        taints = [
            {"key": t["key"], "value": t.get("value", ""), "effect": TAINT_EFFECTS[t["effect"]]}
            for t in group.inputs.get("taints") or []
        ]
        for instance_type in group.inputs["instanceTypes"]:
            labels = {
                **group.inputs["labels"],
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": AMI_ARCHITECTURES[group.inputs["amiType"]],
                "node.kubernetes.io/instance-type": instance_type,
            }
            nodes.append(Node(labels, taints))
    return nodes


def gpu_stack(plans: dict[str, Inventory]) -> Inventory:
    (plan,) = [p for p in plans.values() if declared_nodes(p, "gpu")]
    return plan


def release_values(plan: Inventory, chart: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The values Helm renders with: the release's values coalesced over the chart's defaults."""
    (release,) = [r for r in plan.of_type(RELEASE) if r.inputs["chart"] == chart]
    return coalesce(release.inputs["values"], defaults)


def split_resources(resources: dict[str, Any]) -> dict[str, Any]:
    return {"requests": resources.get("requests", {}), "limits": resources.get("limits", {})}


# ---- The figures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DAEMONSETS))
def test_each_daemonset_figure_is_what_the_scheduler_counts_for_its_containers(name: str) -> None:
    entry = DAEMONSETS[name]
    for resource in ("cpu", "memory"):
        counted = pod_request(entry, resource)
        unit = "m" if resource == "cpu" else "Mi"
        assert entry[resource] == (None if counted is None else f"{counted}{unit}"), resource


@pytest.mark.parametrize("pool", ["user", "gpu"])
def test_pool_total_is_the_sum_of_its_daemonsets_and_names_the_unknown_ones(pool: str) -> None:
    on_pool = [entry for entry in DAEMONSETS.values() if pool in entry["pools"]]
    cpu = sum(millicores(e["cpu"]) for e in on_pool if e["cpu"] is not None)
    memory = sum(mebibytes(e["memory"]) for e in on_pool if e["memory"] is not None)
    unknown = [e["name"] for e in on_pool if e["cpu"] is None or e["memory"] is None]
    assert DATA["pools"][pool] == {"cpu": f"{cpu}m", "memory": f"{memory}Mi", "unknown": unknown}


@pytest.mark.parametrize("name", sorted(DAEMONSETS))
def test_every_daemonset_names_its_source_and_when_it_was_read_at_each_version(name: str) -> None:
    """`source` is the reading at the first version; every other version has its own reading."""
    entry = DAEMONSETS[name]
    first, *others = entry["installedBy"]["versions"]
    readings = {first: entry, **entry.get("sameFiguresAt", {})}
    assert list(readings) == [first, *others], "one reading per version in installedBy.versions, in that order"
    for version, reading in readings.items():
        source = reading["source"]
        assert re.search(r"@\S+|https://\S+", source), f"{version}: name the repository and version, or the URL"
        assert re.search(r"read \d{4}-\d{2}-\d{2}", source), f"{version}: say when it was read"
        assert reading.get("note"), f"{version}: say how the figures were found the same"


# ---- Where each DaemonSet runs -------------------------------------------------------------------


def test_placement_follows_tolerations_and_affinity_on_the_declared_nodes(plans: dict[str, Inventory]) -> None:
    plan = gpu_stack(plans)
    for pool in ("user", "gpu"):
        nodes = declared_nodes(plan, pool)
        assert nodes, pool
        for name, entry in DAEMONSETS.items():
            if entry["scheduling"] is None:
                # No manifest to read: counted on every pool rather than left out of one.
                assert pool in entry["pools"], name
                continue
            for node in nodes:
                assert fits(entry["scheduling"], node) == (pool in entry["pools"]), (name, pool, node.labels)


def test_the_charts_the_program_configures_are_recorded_as_it_configures_them(plans: dict[str, Inventory]) -> None:
    plan = gpu_stack(plans)
    hub = release_values(plan, "jupyterhub", HUB_DEFAULTS)
    puller = DAEMONSETS["continuous-image-puller"]
    assert hub["prePuller"]["continuous"]["enabled"] and not hub["prePuller"]["hook"]["enabled"]
    # _helpers-daemonset.tpl: the pause container takes prePuller.resources; tolerations are these three lists.
    (pause,) = puller["containers"]
    assert {k: pause[k] for k in ("requests", "limits")} == split_resources(hub["prePuller"]["resources"])
    assert puller["scheduling"]["tolerations"] == (
        hub["scheduling"]["userPods"]["tolerations"]
        + hub["singleuser"]["extraTolerations"]
        + hub["prePuller"]["extraTolerations"]
    )
    assert puller["scheduling"]["nodeSelector"] == hub["singleuser"]["nodeSelector"]
    assert hub["scheduling"]["userPods"]["nodeAffinity"]["matchNodePurpose"] == "require"

    plugin = release_values(plan, "nvidia-device-plugin", DEVICE_PLUGIN_DEFAULTS)
    recorded = DAEMONSETS["nvidia-device-plugin"]
    assert recorded["scheduling"] == {k: plugin[k] for k in ("nodeSelector", "affinity", "tolerations")}
    # The template writes .Values.resources on the plugin container and none on the config sidecar.
    plugin_container = next(c for c in recorded["containers"] if c["name"] == "nvidia-device-plugin-ctr")
    assert {k: plugin_container[k] for k in ("requests", "limits")} == split_resources(plugin["resources"])


def test_every_add_on_and_chart_the_program_installs_is_accounted_for(plans: dict[str, Inventory]) -> None:
    """A new add-on or chart, or a new version of one in any stack (prod pins its add-on versions, dev takes
    EKS's defaults), needs its DaemonSets read again."""
    # Each DaemonSet of an add-on or chart is read on its own (the CloudWatch add-on has three).
    recorded: dict[tuple[str, str], dict[str, list[str]]] = {}
    for entry in DAEMONSETS.values():
        for kind in ("addon", "chart"):
            if kind in entry["installedBy"]:
                by = recorded.setdefault((kind, entry["installedBy"][kind]), {})
                by[entry["name"]] = entry["installedBy"]["versions"]
    for stack, plan in plans.items():
        installed: dict[tuple[str, str], str] = {
            ("addon", r.inputs["addonName"]): r.inputs["addonVersion"] for r in plan.of_type("aws:eks/addon:Addon")
        }
        installed |= {("chart", r.inputs["chart"]): r.inputs["version"] for r in plan.of_type(RELEASE)}
        (cluster,) = plan.of_type("eks:index:Cluster")
        installed[("addon", "kube-proxy")] = cluster.inputs["kubeProxyAddonOptions"]["version"]
        for (kind, name), version in installed.items():
            if name in DATA["withoutDaemonSets"]:
                continue
            daemonsets = recorded.get((kind, name), {})
            unread = [ds for ds, versions in daemonsets.items() if version not in versions]
            assert daemonsets and not unread, (
                f"{stack}: {kind} {name} {version}: read its DaemonSets' requests at that version {unread or ''}"
            )
