"""Warm capacity on a schedule: a CronJob that scales the zones' placeholder StatefulSets to their size in working
hours and to 0 outside them (components/warm_capacity_scaler.py, shipped in a ConfigMap).

Why this shape:
- No new image: the job runs the chart's hub image (the same name and tag the chart runs the hub with), which has
  Python 3.12 and tzdata; the script needs nothing else.
- The least RBAC: a Role in the hub namespace that may only `patch` the `statefulsets/scale` subresource of the
  zones' placeholder StatefulSets (resourceNames), bound to the job's own ServiceAccount. It can change replicas
  and nothing else (not the pod template, so not what runs).
- The CronJob runs every hour at minute 0 in the schedule's time zone (`timeZone`, GA in Kubernetes 1.27), and
  each run sets what the hour calls for, so a missed run, a failed one or a `pulumi up` at night is put right
  within the hour. The StatefulSets leave `replicas` out of what Pulumi applies (server-side apply), so the
  program never fights the job over the field.
- A restricted pod (Pod Security restricted: non-root, no privilege escalation, no capabilities, seccomp,
  read-only root filesystem) on a core node, and a NetworkPolicy that lets it reach the Kubernetes API and
  nothing else (the namespace denies by default, components/hub_network_policies.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components import warm_capacity_scaler
from components.network_policies import KUBERNETES_API_CLUSTER_IP

NAME = "warm-capacity-scaler"
SCRIPT = Path(warm_capacity_scaler.__file__).name
CONFIG = "config.json"
MOUNT = "/etc/warm-capacity-scaler"
# Every hour at minute 0, local time: runs at the start and the end of the working hours, and in between puts
# right whatever changed the replicas.
CRON_SCHEDULE = "0 * * * *"
CORE_NODE_LABEL = ("hub.jupyter.org/node-purpose", "core")
# nobody: the script needs no home and no files of its own (the hub image's user, jovyan, owns /srv/jupyterhub).
SCALER_UID = 65534
POD_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": NAME}


@dataclass(frozen=True)
class ScheduleSpec:
    namespace: str
    statefulsets: list[str]
    replicas: int
    """Each StatefulSet's replicas in working hours."""
    timezone: str
    days: list[str]
    start_hour: int
    end_hour: int
    image: str
    """The chart's hub image (hub.image: name and tag)."""
    vpc_cidr: str
    """Where the control plane's ENIs are (the API server after the ClusterIP's DNAT)."""
    lockdown: bool = False
    """incident.lockdown: the namespace's default deny stands alone, so the job cannot reach the API either."""


def scaler_config(spec: ScheduleSpec) -> dict[str, Any]:
    """What the script reads (components/warm_capacity_scaler.py)."""
    return {
        "namespace": spec.namespace,
        "statefulSets": list(spec.statefulsets),
        "replicas": spec.replicas,
        "schedule": {
            "timezone": spec.timezone,
            "days": list(spec.days),
            "startHour": spec.start_hour,
            "endHour": spec.end_hour,
        },
    }


def _metadata(spec: ScheduleSpec) -> dict[str, Any]:
    return {"name": NAME, "namespace": spec.namespace, "labels": dict(POD_LABELS)}


def schedule_objects(spec: ScheduleSpec) -> list[dict[str, Any]]:
    """The ServiceAccount, Role, RoleBinding, ConfigMap, CronJob and NetworkPolicy of the schedule."""
    service_account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(spec)}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(spec),
        "rules": [
            {
                "apiGroups": ["apps"],
                "resources": ["statefulsets/scale"],
                "resourceNames": list(spec.statefulsets),
                "verbs": ["patch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(spec),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": spec.namespace}],
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(spec),
        "data": {
            SCRIPT: Path(warm_capacity_scaler.__file__).read_text(),
            CONFIG: json.dumps(scaler_config(spec), indent=1, sort_keys=True),
        },
    }
    container = {
        "name": "scaler",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", f"{MOUNT}/{SCRIPT}", f"{MOUNT}/{CONFIG}"],
        "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": SCALER_UID,
            "runAsGroup": SCALER_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "scaler", "mountPath": MOUNT, "readOnly": True}],
    }
    pod = {
        "serviceAccountName": NAME,
        # The script authenticates with the token (it is the job's whole purpose).
        "automountServiceAccountToken": True,
        "restartPolicy": "Never",
        "nodeSelector": dict([CORE_NODE_LABEL]),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": SCALER_UID,
            "runAsGroup": SCALER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "scaler", "configMap": {"name": NAME}}],
    }
    cron_job = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _metadata(spec),
        "spec": {
            "schedule": CRON_SCHEDULE,
            "timeZone": spec.timezone,
            "concurrencyPolicy": "Forbid",
            # A run the controller could not start at the hour still starts within the half hour.
            "startingDeadlineSeconds": 1800,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": dict(POD_LABELS)},
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 300,
                    "template": {"metadata": {"labels": dict(POD_LABELS)}, "spec": pod},
                },
            },
        },
    }
    network_policy: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(spec),
        "spec": {
            "podSelector": {"matchLabels": dict(POD_LABELS)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            # The Kubernetes API only: its ClusterIP, and the control plane's ENIs in the VPC (after DNAT), as the
            # hub's own policy (components/hub_network_policies.py). No DNS: the script uses the Service's address.
            "egress": [
                {
                    "to": [
                        {"ipBlock": {"cidr": f"{KUBERNETES_API_CLUSTER_IP}/32"}},
                        {"ipBlock": {"cidr": spec.vpc_cidr}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            ],
        },
    }
    objects: list[dict[str, Any]] = [service_account, role, binding, config_map, cron_job]
    return objects if spec.lockdown else [*objects, network_policy]
