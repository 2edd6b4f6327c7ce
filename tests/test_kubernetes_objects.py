"""The Kubernetes objects the program declares itself (not through Helm) validate against the
Kubernetes OpenAPI schemas of the cluster's version (kubernetes-validate, strict: no unknown fields)."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from offline_plan.mock_engine import REDACTED, Inventory
from settings.dask import DASK_GATEWAY_CHART_VERSIONS
from tests import charts
from tests.k8s_scan import declared_objects as kubernetes_objects


def kubernetes_version(plan: Inventory) -> str:
    return plan.one("eks:index:Cluster").inputs["version"]


def _with_secret_maps(document: dict[str, Any]) -> dict[str, Any]:
    """A Secret's `data` / `stringData` as the plan records them: pulumi_kubernetes' Secret wraps each whole map in
    Output.secret, so the inventory holds the redaction mark; the SDK's type makes it a map of strings."""
    if document.get("kind") != "Secret":
        return document
    return {
        k: ({"redacted": "value"} if v == REDACTED and k in ("data", "stringData") else v) for k, v in document.items()
    }


# Custom resources the program declares, and the chart that installs their CRDs (its crds/ folder).
CRD_SOURCES = {"traefik.io": ("dask-gateway", DASK_GATEWAY_CHART_VERSIONS[-1], "crds/traefik.yaml")}


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD's structural schema with unknown fields refused (the API server would prune them silently)."""
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {k: _strict(v) for k, v in schema["properties"].items() if k != "metadata"}
        schema.setdefault("additionalProperties", False)
        schema["properties"].update({"apiVersion": {"type": "string"}, "kind": {"type": "string"}})
        schema["properties"]["metadata"] = {"type": "object"}
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = _strict(schema[key])
    return schema


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of a custom resource's version, from the CRD the installing chart ships."""
    group, version = api_version.split("/")
    chart_name, chart_version, path = CRD_SOURCES[group]
    folder = charts.chart_folder(chart_name, chart_version)
    for crd in yaml.safe_load_all((folder / path).read_text()):
        if crd and crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind:
            (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
            return _strict(served["schema"]["openAPIV3Schema"])
    raise LookupError(f"no CRD for {kind} in {group} in {chart_name} {chart_version}")


def validate(document: dict[str, Any], version: str) -> None:
    """Built-in kinds against the cluster version's schemas; custom resources against their CRD."""
    group = document["apiVersion"].split("/")[0] if "/" in document["apiVersion"] else ""
    if group in CRD_SOURCES:
        jsonschema.validate(document, crd_schema(document["apiVersion"], document["kind"]))
    else:
        kubernetes_validate.validate(_with_secret_maps(document), version, strict=True)


def test_declared_kubernetes_objects_are_valid(plan: Inventory) -> None:
    objects = kubernetes_objects(plan)
    assert {o["kind"] for o in objects} >= {"Namespace", "ServiceAccount", "StorageClass"}
    for document in objects:
        validate(document, kubernetes_version(plan))


def test_a_custom_resource_is_checked_against_its_crd(plans: dict[str, Inventory]) -> None:
    (middleware,) = [o for o in kubernetes_objects(plans["prod"]) if o["kind"] == "Middleware"]
    validate(middleware, kubernetes_version(plans["prod"]))
    misspelt = {**middleware, "spec": {"forwardAuth": {**middleware["spec"]["forwardAuth"], "adress": "x"}}}
    with pytest.raises(jsonschema.ValidationError, match="adress"):
        validate(misspelt, kubernetes_version(plans["prod"]))


def test_validation_bites(plans: dict[str, Inventory]) -> None:
    (storage_class,) = [o for o in kubernetes_objects(plans["dev"]) if o["kind"] == "StorageClass"]
    broken = {**storage_class, "reclaimPolicy": 7, "allowVolumeExpansion": "yes"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_version(plans["dev"]), strict=True)
    unknown_field = {**storage_class, "encrypted": True}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown_field, kubernetes_version(plans["dev"]), strict=True)
