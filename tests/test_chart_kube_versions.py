"""Every pinned chart supports the stack's Kubernetes version (its Chart.yaml kubeVersion, which Helm
enforces at install), so an upgrade of the cluster cannot leave a chart behind unnoticed."""

from __future__ import annotations

import json
import re

from offline_plan.mock_engine import Inventory
from tests.conftest import ROOT

CONSTRAINTS = json.loads((ROOT / "data" / "charts" / "kube-versions.json").read_text())["charts"]


def satisfies(version: str, constraint: str) -> bool:
    """Helm's `>=X.Y.Z-0` lower bounds (the only form these charts use); a `-0` pre-release suffix lets
    EKS's `v1.35.2-eks-...` server versions match."""
    match = re.fullmatch(r"\s*>=\s*(\d+)\.(\d+)\.(\d+)(-0)?\s*", constraint)
    assert match, f"constraint form not handled: {constraint!r}"
    major, minor = (int(n) for n in version.split("."))
    return (major, minor, 0) >= tuple(int(n) for n in match.groups()[:3])


def test_every_pinned_chart_supports_the_cluster_version(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        version = plan.one("aws:eks/cluster:Cluster").inputs["version"]
        releases = {r.inputs["chart"]: r.inputs["version"] for r in plan.of_type("kubernetes:helm.sh/v3:Release")}
        for chart, chart_version in releases.items():
            if chart == "cluster-autoscaler":
                continue  # no kubeVersion; its minor rule is the settings' (autoscaler chart of the cluster's minor)
            constraint = CONSTRAINTS.get(f"{chart} {chart_version}")
            assert constraint, f"{chart} {chart_version}: add its kubeVersion to data/charts/kube-versions.json"
            assert satisfies(version, constraint["kubeVersion"]), (chart, chart_version, version)


def test_the_check_refuses_a_version_below_the_constraint() -> None:
    assert satisfies("1.35", ">=1.28.0-0") and not satisfies("1.27", ">=1.28.0-0")
    assert satisfies("1.10", ">= 1.10.0-0")
