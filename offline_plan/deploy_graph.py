"""The deploy-time dependency graph of a plan: what waits for what, and the longest chain.

Edges come from the recorded registrations: a resource waits for its explicit and property
dependencies; waiting for a component means waiting for everything inside it; and a resource is
counted as waiting for whatever its parent components wait for (so the tests hold the program to
the stricter reading of "directly or through a parent").
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from offline_plan.mock_engine import Inventory

# Rough creation times in minutes of the slow resource types (AWS documentation and experience);
# everything else counts 0.1. Only used to rank chains for a reviewer, never to assert timings.
ESTIMATED_MINUTES = {
    "eks:index:Cluster": 10.0,
    "aws:eks/cluster:Cluster": 10.0,
    "aws:eks/nodeGroup:NodeGroup": 4.0,
    "aws:eks/addon:Addon": 1.5,
    "aws:ec2/natGateway:NatGateway": 2.0,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 2.0,
    "aws:acm/certificateValidation:CertificateValidation": 3.0,
    "kubernetes:helm.sh/v3:Release": 4.0,
    "aws:cloudtrail/trail:Trail": 0.5,
    "aws:guardduty/detector:Detector": 0.5,
}
DEFAULT_MINUTES = 0.1


class DeployGraph:
    def __init__(self, inventory: Inventory) -> None:
        self.by_urn = {r.urn: r for r in inventory.resources}
        self.children: dict[str, list[str]] = defaultdict(list)
        for resource in inventory.resources:
            if resource.parent:
                self.children[resource.parent].append(resource.urn)

    def descendants(self, urn: str) -> set[str]:
        found: set[str] = set()
        stack = [urn]
        while stack:
            for child in self.children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def direct_waits(self, urn: str) -> set[str]:
        """What `urn` waits for, itself or through its parents, components expanded to their contents."""
        waits: set[str] = set()
        current = self.by_urn.get(urn)
        while current is not None:
            for dependency in current.dependencies:
                waits.add(dependency)
                waits |= self.descendants(dependency)
            current = self.by_urn.get(current.parent)
        return waits

    def waits_for(self, urn: str) -> set[str]:
        """Everything `urn` waits for, transitively."""

        @cache
        def closure(node: str) -> frozenset[str]:
            result: set[str] = set()
            for dependency in self.direct_waits(node):
                result.add(dependency)
                result |= closure(dependency)
            return frozenset(result)

        return set(closure(urn))

    def is_unit(self, urn: str) -> bool:
        resource = self.by_urn.get(urn)
        return resource is not None and (resource.custom or not self.children.get(urn)) and resource.parent != ""

    def longest_chain(self) -> tuple[float, list[str]]:
        """The chain of resources with the largest estimated creation time."""
        # Custom resources, and remote components (pulumi_eks.Cluster) whose insides are not recorded.
        custom = [u for u, r in self.by_urn.items() if self.is_unit(u)]

        @cache
        def best(node: str) -> tuple[float, tuple[str, ...]]:
            own = ESTIMATED_MINUTES.get(self.by_urn[node].type, DEFAULT_MINUTES)
            options = [best(d) for d in self.direct_waits(node) if self.is_unit(d)]
            minutes, chain = max(options, default=(0.0, ()))
            return minutes + own, (*chain, node)

        minutes, chain = max((best(u) for u in custom), default=(0.0, ()))
        return minutes, list(chain)


def render_longest_chain(inventory: Inventory) -> str:
    graph = DeployGraph(inventory)
    minutes, chain = graph.longest_chain()
    names = [f"{graph.by_urn[u].name} ({graph.by_urn[u].type.split(':')[-1]})" for u in chain]
    return f"Longest dependency chain (~{minutes:.0f} min estimated, {len(chain)} resources):\n  " + "\n  -> ".join(
        names
    )
