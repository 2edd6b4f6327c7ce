"""The Kubernetes objects the program declares itself (not through Helm) validate against the
Kubernetes OpenAPI schemas of the cluster's version (kubernetes-validate, strict: no unknown fields)."""

from __future__ import annotations

import kubernetes_validate
import pytest

from offline_plan.mock_engine import REDACTED, Inventory
from tests.k8s_scan import declared_objects as kubernetes_objects


def kubernetes_version(plan: Inventory) -> str:
    return plan.one("eks:index:Cluster").inputs["version"]


def test_declared_kubernetes_objects_are_valid(plan: Inventory) -> None:
    objects = kubernetes_objects(plan)
    assert {o["kind"] for o in objects} >= {"Namespace", "ServiceAccount", "StorageClass"}
    for document in objects:
        if document.get("apiVersion") == "traefik.io/v1alpha1":
            continue  # a CRD of the dask-gateway chart: tests/test_dask_gateway.py validates it against the chart's
        if document.get("kind") == "Secret" and document.get("stringData") == REDACTED:
            # The plan redacts a secret input whole (the Dask Gateway's token Secret): its shape stands in.
            document = {**document, "stringData": {"redacted": ""}}
        kubernetes_validate.validate(document, kubernetes_version(plan), strict=True)


def test_validation_bites(plans: dict[str, Inventory]) -> None:
    (storage_class,) = [o for o in kubernetes_objects(plans["dev"]) if o["kind"] == "StorageClass"]
    broken = {**storage_class, "reclaimPolicy": 7, "allowVolumeExpansion": "yes"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_version(plans["dev"]), strict=True)
    unknown_field = {**storage_class, "encrypted": True}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown_field, kubernetes_version(plans["dev"]), strict=True)
