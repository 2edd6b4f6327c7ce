"""A Kubernetes object the program builds as a plain manifest (a dict: tests read exactly what is sent) declared as
its own typed pulumi_kubernetes resource, so each is a row of `pulumi preview`. One table of the kinds the
program's own objects use; a manifest field becomes the resource's argument of the same name (`roleRef`:
`role_ref`)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

_RESOURCE_CLASSES: dict[str, Any] = {
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "Role": k8s.rbac.v1.Role,
    "RoleBinding": k8s.rbac.v1.RoleBinding,
    "ClusterRole": k8s.rbac.v1.ClusterRole,
    "ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
    "CronJob": k8s.batch.v1.CronJob,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
}
_ARGUMENT_NAMES = {"roleRef": "role_ref"}


def declare_manifest(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    kind = manifest["kind"]
    if kind not in _RESOURCE_CLASSES:
        raise ValueError(f"no Pulumi resource for {kind}")
    fields = {
        _ARGUMENT_NAMES.get(key, key): value
        for key, value in manifest.items()
        if key not in ("apiVersion", "kind", "metadata")
    }
    resource: pulumi.CustomResource = _RESOURCE_CLASSES[kind](name, metadata=manifest["metadata"], **fields, opts=opts)
    return resource
