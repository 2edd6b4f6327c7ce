"""User nodes pre-pull the pinned environments: the chart's continuous puller (rendered by the real z2jh 4.4.0
templates) on CPU user nodes, the program's GPU puller (components/environment_prepuller.py) on GPU nodes; each
image only where its profiles run, each pod admitted by Pod Security restricted. Nodes are prod's node groups
as the plan declares them; where a pod may land is decided by tests/scheduling.py's scheduler filters."""

from __future__ import annotations

import json
from typing import Any

import pytest

from offline_plan.mock_engine import Inventory
from settings.environments import IMAGE_REFERENCE
from tests import charts
from tests.conftest import stack_config
from tests.pod_security import pod_restricted_violations
from tests.scheduling import Node, fits
from tests.test_gpu import node_of, pool_of

PROD = pytest.mark.parametrize("plan", ["prod"], indirect=True)


def _hub_release(plan: Inventory) -> dict[str, Any]:
    (release,) = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "jupyterhub"]
    inputs: dict[str, Any] = release.inputs
    return inputs


def _pins(plan: Inventory) -> dict[str, str]:
    """Each environment's pinned image as `<repository>@sha256:<digest>` (the tag, for readers, dropped)."""
    pins = stack_config(plan)["jhub-eks:environments"]
    found = {name: IMAGE_REFERENCE.match(pin["image"]) for name, pin in pins.items()}
    return {name: f"{match['repository']}@{match['digest']}" for name, match in found.items() if match}


def _nodes(plan: Inventory) -> dict[str, Node]:
    return {pool_of(group): node_of(group) for group in plan.of_type("aws:eks/nodeGroup:NodeGroup")}


def _images(spec: dict[str, Any]) -> set[str]:
    return {c["image"] for c in spec.get("initContainers") or []}


@PROD
def test_cpu_user_nodes_pull_the_default_environment_and_gpu_nodes_the_gpu_one(plan: Inventory) -> None:
    release = _hub_release(plan)
    objects = charts.render(
        release["chart"], release["version"], release["values"], release=release["name"], namespace=release["namespace"]
    )
    (chart_puller,) = [
        o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "continuous-image-puller"
    ]
    (gpu_puller,) = [r for r in plan.of_type("kubernetes:apps/v1:DaemonSet") if "gpu-environment-puller" in r.name]
    chart_spec = chart_puller["spec"]["template"]["spec"]
    gpu_spec = gpu_puller.inputs["spec"]["template"]["spec"]
    nodes = _nodes(plan)
    pins = _pins(plan)
    # Where each puller runs: the chart's on CPU user nodes only, the program's on GPU nodes only.
    assert (
        fits(chart_spec, nodes["user"]) and not fits(chart_spec, nodes["gpu"]) and not fits(chart_spec, nodes["core"])
    )
    assert fits(gpu_spec, nodes["gpu"]) and not fits(gpu_spec, nodes["user"])
    # What each pulls: the default environment on CPU nodes (no CUDA image there), the GPU profile's on GPU nodes.
    assert pins["datascience"] in _images(chart_spec) and pins["pytorch-gpu"] not in _images(chart_spec)
    assert _images(gpu_spec) == {pins["pytorch-gpu"]}
    assert pod_restricted_violations(chart_spec) == {}
    assert pod_restricted_violations(gpu_spec) == {}


def test_a_cpu_profiles_own_environment_is_pulled_on_cpu_nodes_by_digest() -> None:
    from components.jupyterhub_values import build_values, environment_image, redacted_secrets
    from tests.test_environment_settings import _settings

    settings = _settings("prod")
    pin = settings.environments["pytorch-gpu"]
    image = environment_image(pin.repository, pin.tag, pin.digest)
    values = build_values(
        settings.jupyterhub,
        storage_class="gp3",
        secrets=redacted_secrets(),
        certificate_arn="arn:aws:acm:eu-west-1:444455556666:certificate/11111111-2222-3333-4444-555555555555",
        prepull_images={"pytorch-gpu": image},
    )
    objects = charts.render("jupyterhub", "4.4.0", values, release="jupyterhub", namespace="jupyterhub")
    (puller,) = [o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "continuous-image-puller"]
    pulled = {c["name"]: c["image"] for c in puller["spec"]["template"]["spec"]["initContainers"]}
    assert pulled["image-pull-environment-pytorch-gpu"] == f"{pin.repository}@{pin.digest}"
    assert (
        json.dumps(values).count("pullProfileListImages") == 1 and values["prePuller"]["pullProfileListImages"] is False
    )
