"""checkov's Kubernetes rules over every Kubernetes object the program declares, for every stack and
for dev in each HTTPS mode and under lockdown, and over the user server pod of every profile (as the
real KubeSpawner renders it): no finding that is not an explained exception
(policies/checkov_exceptions.yaml), and no exception that is no longer needed. One checkov run
covers them all and the mutations that show it bites."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.jupyterhub_values import USER_SERVICE_ACCOUNT
from offline_plan.mock_engine import Inventory
from tests.k8s_scan import Finding, ScanException, declared_objects, load_exceptions, scan, stale, unexplained
from tests.test_jupyterhub import hub_settings
from tests.test_user_pods import profiles, spawner_config
from tests.user_pods import HubUser, spawn


def _without_namespace(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user servers' service account declared without a namespace: it lands in `default`."""
    mutated = copy.deepcopy(objects)
    (account,) = [o for o in mutated if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == USER_SERVICE_ACCOUNT]
    del account["metadata"]["namespace"]
    return mutated


def _default_account_with_token(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hub namespace's `default` service account declared with its token mounted."""
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace["metadata"]["name"]},
        "automountServiceAccountToken": True,
    }
    return [*copy.deepcopy(objects), account]


MUTATIONS = {"mutated-no-namespace": _without_namespace, "mutated-default-token": _default_account_with_token}


def user_pods(plan: Inventory) -> dict[str, list[dict[str, Any]]]:
    """Each profile's user server pod as the real KubeSpawner renders it (tests/user_pods.py), in the
    hub namespace (KubeSpawner names it when it creates the pod), next to the hub's NetworkPolicies
    (checkov's CKV2_K8S_6 connects a pod to the policies that select it)."""
    config = spawner_config(plan)
    namespace = hub_settings(plan).get("namespace", "jupyterhub")
    policies = [
        o for o in declared_objects(plan) if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == namespace
    ]
    documents = {}
    for profile in profiles(plan):
        _, pod = spawn(config, HubUser("alice", list(profile.get("groups", []))), {"profile": profile["slug"]})
        pod = {"apiVersion": "v1", "kind": "Pod", **pod}
        pod["metadata"]["namespace"] = namespace
        documents[f"user-{profile['slug']}"] = [*policies, pod]
    return documents


@pytest.fixture(scope="module")
def scanned(plans: dict[str, Inventory], variant_plans: dict[str, Inventory]) -> tuple[list[Finding], int]:
    documents = {name: declared_objects(plan) for name, plan in {**plans, **variant_plans}.items()}
    for stack, plan in plans.items():
        documents.update({f"{stack}-{name}": objects for name, objects in user_pods(plan).items()})
    for name, mutate in MUTATIONS.items():
        documents[name] = mutate(documents["dev"])
    return scan(documents)


def _of(findings: list[Finding], source: str) -> list[Finding]:
    return [f for f in findings if f.source == source]


Scanned = tuple[list[Finding], int]


def test_every_finding_is_an_explained_exception(
    scanned: Scanned, plans: dict[str, Inventory], variant_plans: dict[str, Inventory]
) -> None:
    """Every stack, and dev in each HTTPS mode and under lockdown (their policies differ)."""
    findings, passed = scanned
    assert passed > 0, "checkov checked nothing: the documents did not reach its Kubernetes runner"
    scanned_plans = {**plans, **variant_plans}
    kinds = {o["kind"] for plan in scanned_plans.values() for o in declared_objects(plan)}
    assert kinds >= {"Namespace", "ServiceAccount", "StorageClass", "NetworkPolicy"}
    stack_findings = [f for f in findings if not f.source.startswith("mutated-")]
    assert {f.source for f in stack_findings} >= {
        f"{stack}-user-{p['slug']}" for stack in plans for p in profiles(plans[stack])
    }
    exceptions = load_exceptions()
    assert [f.line() for f in unexplained(stack_findings, exceptions)] == []
    assert stale(stack_findings, exceptions) == []


def test_the_scan_bites(scanned: tuple[list[Finding], int]) -> None:
    findings, _ = scanned
    exceptions = load_exceptions()
    in_default = unexplained(_of(findings, "mutated-no-namespace"), exceptions)
    assert [(f.check_id, f.resource) for f in in_default] == [("CKV_K8S_21", "ServiceAccount.default.jupyter-user")]
    token = unexplained(_of(findings, "mutated-default-token"), exceptions)
    assert [(f.check_id, f.resource) for f in token] == [("CKV_K8S_41", "ServiceAccount.jupyterhub.default")]


def test_exceptions_explain_and_expire(scanned: tuple[list[Finding], int]) -> None:
    findings, _ = scanned
    # The mutation's own finding (the other objects' findings have their exceptions in the file).
    in_default = [f for f in _of(findings, "mutated-no-namespace") if f.resource.startswith("ServiceAccount.")]
    accepted = ScanException("CKV_K8S_21", "ServiceAccount.default.jupyter-user", "example")
    assert unexplained(in_default, [accepted]) == []
    assert stale(_of(findings, "dev"), [accepted]) == [accepted]
