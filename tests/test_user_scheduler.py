"""The hub's user-scheduler runs a kube-scheduler the cluster's Kubernetes supports (the skew policy),
with every right that kube-scheduler version needs: the chart's own rules plus the program's
ClusterRole cover the rules of kube-scheduler v1.35 (z2jh's fork of Kubernetes' bootstrap policy)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import user_scheduler
from offline_plan.chart_values import chart_data
from offline_plan.mock_engine import Inventory
from policies.checklist import KUBERNETES_VERSIONS, support_phase
from tests.test_jupyterhub import hub_values

DATA = Path(__file__).resolve().parent.parent / "data"
CHART_RULES = yaml.safe_load((DATA / "charts" / "jupyterhub-4.4.0" / "user-scheduler-rules.yaml").read_text())
NEEDED_1_35 = yaml.safe_load((DATA / "kubernetes" / "kube-scheduler-1.35-rules.yaml").read_text())
CHART_DEFAULT_TAG = chart_data("jupyterhub", "4.4.0").defaults["scheduling"]["userScheduler"]["image"]["tag"]


def grants(rules: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {
        (group, resource, verb, name)
        for rule in rules
        for group in rule.get("apiGroups") or [""]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in rule.get("resourceNames") or ["*"]
    }


def missing(have: list[dict[str, Any]], need: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Requests `need` grants that `have` does not (a rule without resourceNames grants every name)."""
    granted = grants(have)
    return sorted(g for g in grants(need) if g not in granted and (*g[:3], "*") not in granted)


def declared_rules(plan: Inventory) -> list[dict[str, Any]]:
    role = plan.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "user-scheduler")
    return list(role.inputs["rules"])


def test_the_chart_alone_lacks_what_kube_scheduler_1_35_needs() -> None:
    """Why the program adds a ClusterRole: without it the 1.35 scheduler's informers are refused."""
    assert ("storage.k8s.io", "volumeattachments", "list", "*") in missing(CHART_RULES, NEEDED_1_35)
    assert ("resource.k8s.io", "resourceslices", "watch", "*") in missing(CHART_RULES, NEEDED_1_35)


def test_chart_rules_and_ours_cover_kube_scheduler_1_35(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        assert missing(CHART_RULES + declared_rules(plan), NEEDED_1_35) == [], plan.stack


def test_dropping_a_rule_is_caught(plans: dict[str, Inventory]) -> None:
    rules = copy.deepcopy(declared_rules(plans["dev"]))
    dropped = next(r for r in rules if "resourceslices" in r["resources"])
    rules.remove(dropped)
    assert missing(CHART_RULES + rules, NEEDED_1_35) == sorted(grants([dropped]))


def test_the_role_is_bound_to_the_chart_s_service_account(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        binding = plan.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "user-scheduler")
        role = plan.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "user-scheduler")
        assert binding.inputs["roleRef"]["name"] == role.inputs["metadata"]["name"]
        namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace").inputs["metadata"]["name"]
        # The chart names it user-scheduler (fullnameOverride "": no release prefix; _helpers-names.tpl).
        assert binding.inputs["subjects"] == [
            {"kind": "ServiceAccount", "name": "user-scheduler", "namespace": namespace}
        ]
        assert "fullnameOverride" not in hub_values(plan)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_scheduler_is_within_the_skew_policy(plans: dict[str, Inventory], stack: str) -> None:
    plan = plans[stack]
    version = plan.one("aws:eks/cluster:Cluster").inputs["version"]
    tag = hub_values(plan)["scheduling"]["userScheduler"]["image"]["tag"]
    assert user_scheduler.skew_problem(version, tag) is None
    # The chart's own default is what the check is for: four minors behind 1.35.
    assert user_scheduler.skew_problem(version, CHART_DEFAULT_TAG)


def test_every_version_in_standard_support_has_a_scheduler() -> None:
    """An upgrade one minor at a time never meets a version without a user-scheduler image."""
    for version in KUBERNETES_VERSIONS["versions"]:
        if support_phase(version) == "standard":
            tag = user_scheduler.image_tag(version)
            assert tag and user_scheduler.skew_problem(version, tag) is None, version
    assert user_scheduler.skew_problem("1.35", "v1.36.0") and user_scheduler.skew_problem("1.35", "v1.33.9")
