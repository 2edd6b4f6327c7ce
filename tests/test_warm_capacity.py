"""Warm capacity (components/warm_capacity.py): each zone's placeholders are the chart's own placeholder pod (read
from the rendered chart) with a required zone, they pass Pod Security restricted, they land on that zone's user
nodes only (the nodes the groups make, and the node cluster-autoscaler plans for a group at zero), and the plan
prices the nodes they hold."""

from __future__ import annotations

import copy
from typing import Any

from components.warm_capacity import PLACEHOLDER_IMAGE, ZONE_LABEL
from offline_plan.cost import estimate, load_prices
from offline_plan.mock_engine import Inventory, Recorded
from policies.checklist import support_phase
from tests.conftest import stack_config
from tests.pod_security import pod_restricted_violations
from tests.scheduling import Node, fits
from tests.test_chart_render import hub_release, render
from tests.test_gpu import node_of, template_node

STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"


def warm_stack(plans: dict[str, Inventory]) -> Inventory:
    """The stack with warm capacity (prod's example)."""
    (plan,) = [p for p in plans.values() if "warm" in stack_config(p).get("jhub-eks:capacity", {})]
    return plan


def placeholders(plan: Inventory) -> list[Recorded]:
    return [r for r in plan.of_type(STATEFUL_SET) if r.name.startswith(f"jhub-{plan.stack}-placeholder-")]


def chart_placeholder(plan: Inventory) -> dict[str, Any]:
    (found,) = [
        o
        for o in render(hub_release(plan))
        if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "user-placeholder"
    ]
    return found


def test_one_statefulset_per_zone_of_the_default_profile_s_size(plans: dict[str, Inventory]) -> None:
    plan = warm_stack(plans)
    zones = stack_config(plan)["jhub-eks:network"]["availabilityZones"]
    warm = stack_config(plan)["jhub-eks:capacity"]["warm"]["serversPerZone"]
    found = placeholders(plan)
    assert sorted(r.inputs["metadata"]["name"] for r in found) == sorted(f"user-placeholder-{z}" for z in zones)
    for resource in found:
        spec = resource.inputs["spec"]
        # On a schedule the replicas are the scaler job's (tests/test_warm_schedule.py), not Pulumi's.
        assert spec.get("replicas", warm) == warm
        (container,) = spec["template"]["spec"]["containers"]
        # prod's default profile `standard` takes userServers.resources: 1 CPU, 4Gi.
        assert container["resources"]["requests"] == {"cpu": "1000m", "memory": "4Gi"}
    # The chart's own placeholders stay at 0: the per-zone ones replace them.
    assert chart_placeholder(plan)["spec"]["replicas"] == 0


def test_each_zone_s_placeholder_is_the_chart_s_placeholder_pod_with_a_zone(plans: dict[str, Inventory]) -> None:
    plan = warm_stack(plans)
    chart_pod = chart_placeholder(plan)["spec"]["template"]
    for resource in placeholders(plan):
        template = copy.deepcopy(resource.inputs["spec"]["template"])
        pod = template["spec"]
        # The chart's labels (NetworkPolicies and data/pods/contract.yaml select on them), and one of the zone.
        assert chart_pod["metadata"]["labels"].items() <= template["metadata"]["labels"].items()
        for key in ("priorityClassName", "schedulerName", "tolerations", "terminationGracePeriodSeconds"):
            assert pod[key] == chart_pod["spec"][key], key
        # The chart's security context, tightened only (a read-only root filesystem).
        chart_context = chart_pod["spec"]["containers"][0]["securityContext"]
        assert pod["containers"][0]["securityContext"] == {**chart_context, "readOnlyRootFilesystem": True}
        chart_image = chart_pod["spec"]["containers"][0]["image"]
        assert (
            PLACEHOLDER_IMAGE.startswith(f"{chart_image}@sha256:") and len(PLACEHOLDER_IMAGE.split("@sha256:")[1]) == 64
        )
        # The chart's node affinity terms, each with the zone added.
        (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        zone = [e for e in term["matchExpressions"] if e["key"] == ZONE_LABEL]
        assert len(zone) == 1 and zone[0]["operator"] == "In" and len(zone[0]["values"]) == 1
        term["matchExpressions"].remove(zone[0])
        chart_required = chart_pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert [term] == chart_required["nodeSelectorTerms"]


def test_placeholder_pods_pass_pod_security_restricted(plans: dict[str, Inventory]) -> None:
    for resource in placeholders(warm_stack(plans)):
        assert pod_restricted_violations(resource.inputs["spec"]["template"]["spec"]) == {}


def test_the_restricted_check_bites_on_a_placeholder(plans: dict[str, Inventory]) -> None:
    spec = copy.deepcopy(placeholders(warm_stack(plans))[0].inputs["spec"]["template"]["spec"])
    del spec["containers"][0]["securityContext"]["runAsNonRoot"]
    spec["containers"][0]["securityContext"]["runAsUser"] = 0
    assert pod_restricted_violations(spec)


def _zone_of_group(plan: Inventory, group: Recorded) -> str:
    subnets = {s.outputs.get("id") or s.id: s.inputs["availabilityZone"] for s in plan.of_type("aws:ec2/subnet:Subnet")}
    (zone,) = {subnets[subnet] for subnet in group.inputs["subnetIds"]}
    return zone


def test_each_zone_s_placeholders_land_on_that_zone_s_user_nodes_only(plans: dict[str, Inventory]) -> None:
    plan = warm_stack(plans)
    groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    for resource in placeholders(plan):
        pod = resource.inputs["spec"]["template"]["spec"]
        zone = resource.inputs["metadata"]["name"].removeprefix("user-placeholder-")
        for group in groups:
            # The node EC2 starts (the group's labels and taints) and the one cluster-autoscaler plans for the
            # group at zero (from the ASG's tags), each in the group's zone (both get the zone label).
            planned, _ = template_node(plan, group)
            group_zone = _zone_of_group(plan, group)
            for node in (node_of(group), planned):
                zoned = Node({**node.labels, ZONE_LABEL: group_zone}, node.taints)
                expected = group.inputs["labels"]["node-purpose"] == "user" and group_zone == zone
                assert fits(pod, zoned) == expected, (resource.name, group.name, node)


def test_the_plan_prices_the_nodes_the_placeholders_hold(plans: dict[str, Inventory]) -> None:
    plan = warm_stack(plans)
    prices = load_prices("eu-west-1")
    report = estimate(plan, prices, support_phase, 160)
    warm = [line for line in report.lines if line.item.startswith("warm capacity")]
    zones = stack_config(plan)["jhub-eks:network"]["availabilityZones"]
    assert sorted(line.detail for line in warm) == sorted(zones)
    user = next(g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if g.inputs["labels"]["node-purpose"] == "user")
    instance = prices["instances"][user.inputs["instanceTypes"][0]]["usd"]
    schedule = stack_config(plan)["jhub-eks:capacity"]["warm"].get("schedule")
    hours = 730.0
    if schedule:
        hours *= len(schedule["days"]) * (schedule["endHour"] - schedule["startHour"]) / (7 * 24)
    for line in warm:
        # One placeholder per zone holds one node there all month, or in the working hours (and its root volume).
        assert line.monthly_min is not None and instance * hours <= line.monthly_min < instance * hours * 1.2


def test_a_stack_without_warm_capacity_has_no_placeholders(plans: dict[str, Inventory]) -> None:
    assert placeholders(plans["dev"]) == []
