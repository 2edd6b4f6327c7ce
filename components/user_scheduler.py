"""The hub's user-scheduler (a kube-scheduler the z2jh chart runs to pack user pods) at a version the
cluster's Kubernetes supports, with the rights that version needs.

z2jh 4.4.0 ships kube-scheduler v1.30.14 with the v1.30 rules: four minors older than a 1.35 control
plane, where the skew policy allows the scheduler to be at most one minor older than the API server
and never newer. The program sets the image per cluster minor (data/eks/user-scheduler.json) and
adds, in a ClusterRole of its own bound to the chart's service account, the rules kube-scheduler
gained since v1.30 (leases and leasecandidates in 1.31, volumeattachments in 1.32, dynamic resource
allocation in 1.34): without them its informers are refused and it never syncs its cache (the
autoscaler's VolumeAttachments lesson). tests/test_user_scheduler.py checks the chart's rules plus
these cover what kube-scheduler v1.35 needs (data/kubernetes/kube-scheduler-1.35-rules.yaml, z2jh's
own fork of Kubernetes' bootstrap policy)."""

from __future__ import annotations

from typing import Any

from settings import USER_SCHEDULER_IMAGE_TAGS

# The chart's names for the user-scheduler's service account and lease (fullnameOverride "").
SERVICE_ACCOUNT = "user-scheduler"
LOCK_LEASE = "user-scheduler-lock"

ADDED_SINCE_1_30: list[dict[str, Any]] = [
    # 1.31: leader election reads leases and takes part through lease candidates.
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "resourceNames": [LOCK_LEASE],
        "verbs": ["list", "watch"],
    },
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leasecandidates"],
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    },
    # 1.32: the volume binding plugin watches attachments.
    {"apiGroups": ["storage.k8s.io"], "resources": ["volumeattachments"], "verbs": ["get", "list", "watch"]},
    # 1.34: dynamic resource allocation is on by default (its scheduler plugin informs on these).
    {
        "apiGroups": ["resource.k8s.io"],
        "resources": ["deviceclasses", "resourceslices"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["resource.k8s.io"],
        "resources": ["resourceclaims", "resourceclaims/status"],
        "verbs": ["get", "list", "patch", "update", "watch"],
    },
    {"apiGroups": [""], "resources": ["pods/finalizers"], "verbs": ["update"]},
]


def image_tag(kubernetes_version: str) -> str | None:
    return USER_SCHEDULER_IMAGE_TAGS.get(kubernetes_version)


def skew_problem(kubernetes_version: str, tag: str) -> str | None:
    """The Kubernetes skew policy for kube-scheduler: not newer than the API server, at most one minor older."""
    cluster = int(kubernetes_version.split(".")[1])
    scheduler = int(tag.lstrip("v").split(".")[1])
    if scheduler > cluster:
        return f"kube-scheduler {tag} is newer than the API server {kubernetes_version}"
    if cluster - scheduler > 1:
        return f"kube-scheduler {tag} is more than one minor older than the API server {kubernetes_version}"
    return None
