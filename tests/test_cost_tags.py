"""Cost allocation tags: every AWS resource the program declares, and everything AWS creates on its
behalf (node instances and volumes, user volumes, the hub's load balancer, recovery points), carries
project, stack, environment and the component that declared it, so Cost Explorer and the stack's
budget can split the bill.

Which types take tags is read from the pulumi-aws SDK itself (the resource class's constructor), not
from the transformation under test: a type the transformation skipped but that takes tags fails."""

from __future__ import annotations

import importlib
import inspect
import warnings
from functools import cache
from typing import Any

import pulumi
import pytest

from components import tagging
from components.jupyterhub_values import LOAD_BALANCER_TAGS_ANNOTATION, load_balancer_tags_annotation
from offline_plan.mock_engine import Inventory
from tests.test_jupyterhub import hub_values


@cache
def sdk_takes_tags(resource_type: str) -> bool:
    """Whether the pulumi-aws class of `aws:<module>/<name>:<Class>` has a `tags` argument."""
    _, module, class_name = resource_type.split(":")
    package = module.split("/")[0]
    with warnings.catch_warnings():  # importing a module announces its deprecated classes
        warnings.simplefilter("ignore", DeprecationWarning)
        cls = getattr(importlib.import_module(f"pulumi_aws.{package}"), class_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def expected_tags(plan: Inventory, component: str) -> dict[str, str]:
    environment = "prod" if plan.stack == "prod" else "dev"
    # The stack tag is the stack's resource prefix: unique in an account other projects share.
    return {"project": "jhub-eks", "stack": f"jhub-{plan.stack}", "environment": environment, "component": component}


def missing_cost_tags(plan: Inventory) -> list[str]:
    """Every AWS resource whose type takes tags, without the four cost tags of its component."""
    problems = []
    for resource in plan.resources:
        if not resource.type.startswith("aws:") and resource.type not in tagging.TAGS_PASSED_ON:
            continue
        if resource.type.startswith("aws:") and not sdk_takes_tags(resource.type):
            continue
        component = plan.component_of(resource)
        if not component:
            problems.append(f"{resource.type} {resource.name}: declared outside any component")
            continue
        tags = resource.inputs.get("tags") or {}
        wrong = {k: tags.get(k) for k, v in expected_tags(plan, component).items() if tags.get(k) != v}
        if wrong:
            problems.append(f"{resource.type} {resource.name} ({component}): {wrong}")
    return problems


def test_every_taggable_aws_resource_carries_the_cost_tags_of_its_component(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        assert missing_cost_tags(plan) == [], plan.stack
        # The check is not vacuous: most of the stack is taggable, and each component is named.
        tagged = [r for r in plan.resources if r.type.startswith("aws:") and sdk_takes_tags(r.type)]
        assert len(tagged) > 50
        components = {plan.component_of(r) for r in tagged}
        assert {"Network", "Cluster", "NodeGroups", "Encryption", "JupyterHub", "Backups"} <= components


def test_the_check_catches_a_resource_without_them(plans: dict[str, Inventory]) -> None:
    plan = plans["dev"]
    vpc = plan.one("aws:ec2/vpc:Vpc")
    original = vpc.inputs["tags"]
    try:
        vpc.inputs["tags"] = {k: v for k, v in original.items() if k != "component"}
        assert any("aws:ec2/vpc:Vpc" in p for p in missing_cost_tags(plan))
        vpc.inputs["tags"] = {**original, "component": "Cluster"}  # another component's
        assert any("aws:ec2/vpc:Vpc" in p for p in missing_cost_tags(plan))
    finally:
        vpc.inputs["tags"] = original


def test_the_sdk_reading_tells_taggable_from_untaggable_types() -> None:
    assert sdk_takes_tags("aws:ec2/vpc:Vpc")
    assert sdk_takes_tags("aws:cloudwatch/logGroup:LogGroup")
    assert not sdk_takes_tags("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert not sdk_takes_tags("aws:autoscaling/tag:Tag")


def test_pulumi_eks_passes_the_tags_to_the_cluster_it_creates(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        # The synthesized aws:eks/cluster child, tagged as pulumi-eks tags it (tags + clusterTags).
        cluster = plan.one("aws:eks/cluster:Cluster")
        assert expected_tags(plan, "Cluster").items() <= cluster.inputs["tags"].items()


# ---- What AWS creates later on the program's behalf --------------------------------------------


def test_node_instances_and_their_volumes_are_tagged_through_the_launch_templates(
    plans: dict[str, Inventory],
) -> None:
    for plan in plans.values():
        templates = plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
        assert templates
        for template in templates:
            specs = {s["resourceType"]: s["tags"] for s in template.inputs["tagSpecifications"]}
            assert set(specs) == {"instance", "volume"}
            for tags in specs.values():
                assert expected_tags(plan, "NodeGroups").items() <= tags.items(), template.name


def annotation_tags(annotation: str) -> dict[str, str]:
    """cloud-provider-aws's getKeyValuePropertiesFromAnnotation: "k1=v1,k2=v2" (aws_loadbalancer.go)."""
    tags = {}
    for item in annotation.strip().split(","):
        parts = item.strip().split("=")
        if len(parts) >= 2 and parts[0]:
            tags[parts[0]] = parts[1]
        elif len(parts) == 1 and parts[0]:
            tags[parts[0]] = ""
    return tags


def test_the_hub_load_balancer_is_created_with_the_tags(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        annotations = hub_values(plan)["proxy"]["service"]["annotations"]
        assert annotation_tags(annotations[LOAD_BALANCER_TAGS_ANNOTATION]) == expected_tags(plan, "JupyterHub")


def test_a_tag_the_annotation_cannot_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot carry"):
        load_balancer_tags_annotation({"team": "a,b"})


def storage_class_tags(plan: Inventory) -> dict[str, str]:
    parameters = plan.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs["parameters"]
    # EBS CSI driver: tagSpecification_<n> = "key=value" (docs/tagging.md), split at the first '='.
    return dict(v.split("=", 1) for k, v in parameters.items() if k.startswith("tagSpecification_"))


def test_every_user_volume_is_created_with_the_tags(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        assert expected_tags(plan, "ClusterAddons").items() <= storage_class_tags(plan).items()


def test_recovery_points_carry_the_tags(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        rule = plan.one("aws:backup/plan:Plan").inputs["rules"][0]
        assert expected_tags(plan, "Backups").items() <= rule["recoveryPointTags"].items()


# ---- The transformation itself -------------------------------------------------------------------


class _Args:
    def __init__(self, type_: str, props: dict[str, Any], parent: Any = None) -> None:
        self.type_ = type_
        self.props = props
        self.opts = pulumi.ResourceOptions(parent=parent)
        self.resource = object()


def test_the_transformation_overrides_a_component_s_own_value_for_the_cost_keys() -> None:
    tagger = tagging.CostTagger({"project": "p", "stack": "s", "environment": "e"})
    component = _Args("jhub:aws:Network", {})
    tagger(component)  # type: ignore[arg-type]
    child = _Args("aws:ec2/vpc:Vpc", {"tags": {"Name": "x", "stack": "other"}, "tags_all": None})
    child.opts = pulumi.ResourceOptions(parent=component.resource)  # type: ignore[arg-type]
    result = tagger(child)  # type: ignore[arg-type]
    assert result is not None
    assert result.props["tags"] == {
        "Name": "x",
        "project": "p",
        "stack": "s",
        "environment": "e",
        "component": "Network",
    }
    # A resource type without tags is left alone.
    attachment = _Args("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r"})
    attachment.opts = pulumi.ResourceOptions(parent=component.resource)  # type: ignore[arg-type]
    assert tagger(attachment) is None  # type: ignore[arg-type]
