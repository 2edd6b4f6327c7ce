"""checkov's Kubernetes rules over every Kubernetes object the program declares, for every stack and
for dev in each HTTPS mode and under lockdown: no finding that is not an explained exception
(policies/checkov_exceptions.yaml), and no exception that is no longer needed. One checkov run
covers them all and the mutations that show it bites."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tools.harness import Inventory
from tools.k8s_scan import Finding, ScanException, declared_objects, load_exceptions, scan, stale, unexplained


def _without_namespace(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user servers' service account declared without a namespace: it lands in `default`."""
    mutated = copy.deepcopy(objects)
    (account,) = [o for o in mutated if o["kind"] == "ServiceAccount"]
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


@pytest.fixture(scope="module")
def scanned(plans: dict[str, Inventory], variant_plans: dict[str, Inventory]) -> tuple[list[Finding], int]:
    documents = {name: declared_objects(plan) for name, plan in {**plans, **variant_plans}.items()}
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
    stack_findings = [f for f in findings if f.source in scanned_plans]
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
    in_default = _of(findings, "mutated-no-namespace")
    accepted = ScanException("CKV_K8S_21", "ServiceAccount.default.jupyter-user", "example")
    assert unexplained(in_default, [accepted]) == []
    assert stale(_of(findings, "dev"), [accepted]) == [accepted]
