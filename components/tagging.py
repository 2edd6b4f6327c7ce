"""Cost allocation tags on every AWS resource the program declares: project, stack, environment and
the component that declared it, so Cost Explorer and the stack's budget can split the bill.

A stack transformation (SDK-side, so it also runs under the offline plan's mocks) adds them to every
resource whose type takes tags; a tag a component sets itself under one of these keys is
overwritten, so the split cannot be spoofed by a typo. What AWS creates *later* on the program's
behalf — node instances and their volumes and interfaces (launch template tag specifications), user
volumes (the storage class), the hub's load balancer (the Service annotation), recovery points —
gets the same tags through `component_tags`, which those components call themselves. Children of
pulumi-eks's Cluster are created in its own provider process, out of reach of a Python
transformation (only the newer engine-side transforms reach them, and the offline mocks do not run
those): its `tags` argument gets them here instead, which pulumi-eks puts on the EKS cluster, its
security groups, roles and add-ons (its OIDC provider and access entries stay untagged; they cost
nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from policies.checklist import VERSION_SOURCE_TAG

OWN_TYPE_PREFIX = "jhub:"
COST_TAG_KEYS = ("project", "stack", "environment", "component")
# Multi-language components whose `tags` argument the component applies to its own AWS resources.
TAGS_PASSED_ON = frozenset({"eks:index:Cluster"})


def base_tags(project: str, stack: str, environment: str) -> dict[str, str]:
    return {"project": project, "stack": stack, "environment": environment}


def component_name(resource_type: str) -> str:
    """`jhub:aws:NodeGroups` → `NodeGroups` (the tag value a reviewer finds in Cost Explorer)."""
    return resource_type.rsplit(":", 1)[-1]


def component_tags(tags: Mapping[str, str] | None, component_type: str) -> dict[str, str]:
    """The cost tags for what AWS creates on a component's behalf (instances, volumes, load balancers)."""
    return {**(tags or {}), "component": component_name(component_type)}


def version_source_tag(source: str | None) -> dict[str, str]:
    """The tag recording where an add-on's version or a node group's AMI release came from: the stack file,
    or a lookup at this run (preflight.Facts.version_sources). The policy pack reads it (a stack policy
    sees the version, not where it came from)."""
    return {VERSION_SOURCE_TAG: source} if source else {}


def takes_tags(resource_type: str, props: Mapping[str, Any]) -> bool:
    """pulumi-aws resources that support tags carry both `tags` and the computed `tags_all`."""
    if resource_type in TAGS_PASSED_ON:
        return True
    return resource_type.startswith("aws:") and "tags" in props and "tags_all" in props


class CostTagger:
    """The stack transformation; remembers each resource's component so children inherit it."""

    def __init__(self, base: Mapping[str, str]) -> None:
        self.base = dict(base)
        self._component_of: dict[pulumi.Resource, str] = {}  # resources hash by identity

    def __call__(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        parent = args.opts.parent if args.opts is not None else None
        if args.type_.startswith(OWN_TYPE_PREFIX):
            component = component_name(args.type_)
        else:
            component = self._component_of.get(parent, "") if parent is not None else ""
        self._component_of[args.resource] = component
        if not component or not takes_tags(args.type_, args.props):
            return None
        own = args.props.get("tags") or {}
        merged = {**self.base, "component": component}
        tags = (
            {**own, **merged}
            if isinstance(own, Mapping)
            else pulumi.Output.from_input(own).apply(lambda t: {**(t or {}), **merged})
        )
        return pulumi.ResourceTransformationResult(props={**args.props, "tags": tags}, opts=args.opts)


def tag_every_resource(base: Mapping[str, str]) -> CostTagger:
    """Register the transformation for every resource declared after this call."""
    tagger = CostTagger(base)
    pulumi.runtime.register_stack_transformation(tagger)
    return tagger
