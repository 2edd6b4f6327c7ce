"""The Kubernetes scheduler's node filters that decide where a pod may land (NodeAffinity with
nodeSelector, TaintToleration), as the kube-scheduler documents them:
https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/ and
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/ — enough for the label,
taint and toleration shapes the program and the charts use (In/NotIn/Exists/DoesNotExist; Equal/Exists)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Node:
    labels: dict[str, str]
    taints: list[dict[str, str]]
    """{key, value, effect} with Kubernetes effect names (NoSchedule, ...)."""


def _expression_holds(expression: dict[str, Any], labels: dict[str, str]) -> bool:
    key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError(f"operator {operator} not modelled")


def affinity_allows(spec: dict[str, Any], node: Node) -> bool:
    """nodeSelector (all pairs) and requiredDuringScheduling node affinity (any term, all expressions)."""
    if any(node.labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(
        all(_expression_holds(e, node.labels) for e in term.get("matchExpressions") or []) for term in terms
    )


def _tolerates(toleration: dict[str, Any], taint: dict[str, str]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if not toleration.get("key"):
        return toleration.get("operator") == "Exists"  # tolerates every taint
    if toleration["key"] != taint["key"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value", "") == taint.get("value", "")


def taints_allow(spec: dict[str, Any], node: Node) -> bool:
    """Every NoSchedule/NoExecute taint of the node is tolerated (PreferNoSchedule only scores)."""
    tolerations = spec.get("tolerations") or []
    return all(
        any(_tolerates(t, taint) for t in tolerations)
        for taint in node.taints
        if taint["effect"] in ("NoSchedule", "NoExecute")
    )


def fits(spec: dict[str, Any], node: Node) -> bool:
    return affinity_allows(spec, node) and taints_allow(spec, node)
