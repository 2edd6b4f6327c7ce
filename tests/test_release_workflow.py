"""Deploy time and data safety: what must not wait for the EKS control plane, the longest chain the
plan shows, and what `pulumi destroy` removes or keeps per stack."""

from __future__ import annotations

from typing import Any

import pytest

from offline_plan.deploy_graph import DEFAULT_MINUTES, ESTIMATED_MINUTES, DeployGraph, render_longest_chain
from offline_plan.mock_engine import Inventory

# Must be created in parallel with the ~10 minute control plane, not after it.
INDEPENDENT_OF_CLUSTER = [
    ("aws:s3/bucket:Bucket", ""),
    ("aws:ecr/repository:Repository", ""),
    ("aws:cloudtrail/trail:Trail", ""),
    ("aws:sns/topic:Topic", ""),
    ("aws:kms/key:Key", ""),
    ("aws:acm/certificate:Certificate", ""),
    ("aws:iam/role:Role", "user-servers"),
]


def cluster_urn(plan: Inventory) -> str:
    return plan.one("eks:index:Cluster").urn


@pytest.mark.parametrize(("type_", "name_part"), INDEPENDENT_OF_CLUSTER)
def test_slow_independent_resources_do_not_wait_for_the_cluster(plan: Inventory, type_: str, name_part: str) -> None:
    graph = DeployGraph(plan)
    resources = [r for r in plan.of_type(type_) if name_part in r.name]
    assert resources or (plan.stack == "dev" and type_ == "aws:acm/certificate:Certificate"), type_
    for resource in resources:
        assert cluster_urn(plan) not in graph.waits_for(resource.urn), f"{resource.name} waits for the cluster"


def test_the_dependency_check_bites(plan: Inventory) -> None:
    graph = DeployGraph(plan)
    # Things that must wait do: node groups, the release, the add-ons.
    for type_ in ("aws:eks/nodeGroup:NodeGroup", "kubernetes:helm.sh/v3:Release", "aws:eks/addon:Addon"):
        for resource in plan.of_type(type_):
            assert cluster_urn(plan) in graph.waits_for(resource.urn), resource.name


def test_nodes_wait_for_nat_routes_and_endpoints(plan: Inventory) -> None:
    graph = DeployGraph(plan)
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        waits = graph.waits_for(group.urn)
        assert {r.urn for r in plan.of_type("aws:ec2/natGateway:NatGateway")} <= waits
        assert {
            r.urn for r in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs["vpcEndpointType"] == "Interface"
        } <= waits


def test_plan_shows_the_longest_chain_through_the_control_plane(plan: Inventory) -> None:
    text = render_longest_chain(plan)
    assert "(Cluster)" in text and "(NodeGroup)" in text
    minutes, chain = DeployGraph(plan).longest_chain()
    # Through the hub's release; what waits for it (the warm capacity's placeholders) may follow it.
    release = next(r.urn for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "jupyterhub")
    assert minutes >= 20 and release in chain
    types = {r.urn: r.type for r in plan.resources}
    assert all(
        ESTIMATED_MINUTES.get(types[u], DEFAULT_MINUTES) <= DEFAULT_MINUTES for u in chain[chain.index(release) + 1 :]
    )


# ---- Teardown ------------------------------------------------------------------------------------


def teardown(plan: Inventory) -> dict[str, Any]:
    """What `pulumi destroy` does to each data-holding resource of a stack."""
    user_bucket = plan.one("aws:s3/bucket:Bucket", "user-data")
    repository = plan.one("aws:ecr/repository:Repository")
    storage_class = plan.one("kubernetes:storage.k8s.io/v1:StorageClass")
    return {
        "bucket": "kept"
        if user_bucket.retain_on_delete
        else ("emptied" if user_bucket.inputs["forceDestroy"] else "blocked"),
        "repository": "kept"
        if repository.retain_on_delete
        else ("deleted" if repository.inputs["forceDelete"] else "blocked"),
        "volumes": "kept" if storage_class.inputs["reclaimPolicy"] == "Retain" else "deleted",
        "keys": "kept"
        if all(k.retain_on_delete for k in plan.of_type("aws:kms/key:Key"))
        else "scheduled for deletion",
    }


def test_dev_destroy_leaves_nothing_billable(plans: dict[str, Inventory]) -> None:
    assert teardown(plans["dev"]) == {
        "bucket": "emptied",
        "repository": "deleted",
        "volumes": "deleted",
        "keys": "scheduled for deletion",
    }
    assert plans["dev"].one("eks:index:Cluster").inputs.get("deletionProtection") in (None, False)


def test_prod_destroy_keeps_user_data(plans: dict[str, Inventory]) -> None:
    assert teardown(plans["prod"]) == {"bucket": "kept", "repository": "kept", "volumes": "kept", "keys": "kept"}
    assert plans["prod"].one("eks:index:Cluster").inputs["deletionProtection"] is True
