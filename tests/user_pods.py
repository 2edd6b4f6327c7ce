"""User server pods as the hub would create them: the real KubeSpawner 7.0.0 (the z2jh 4.4.0 hub
image's), configured from a stack's Helm values the way the chart's hub configuration does it, with
the program's `hub.extraConfig` snippets executed on top, then asked for a user's profile list and
pod manifest (`load_user_options`, then `get_pod_manifest`, as `KubeSpawner._start` does).

The chart's mapping of `singleuser.*` and `scheduling.*` to KubeSpawner (files/hub/
jupyterhub_config.py at 4.4.0, L120-362) is modelled here for the keys the program sets or relies
on, each with its line; `hub.config` sections are applied after it and the snippets last (L500-542).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import kubespawner.spawner
from jupyterhub.objects import Hub
from kubernetes_asyncio.client import ApiClient
from kubespawner import KubeSpawner
from traitlets.config import Config

from components.jupyterhub import RELEASE_NAME

CHART = "jupyterhub"


def chart_spawner_config(values: dict[str, Any], namespace: str, chart_version: str) -> Config:
    single = values["singleuser"]
    scheduling = values["scheduling"]
    c = Config()
    ks = c.KubeSpawner
    ks.common_labels = {  # L120-134
        "app.kubernetes.io/name": CHART,
        "app": CHART,
        "app.kubernetes.io/instance": RELEASE_NAME,
        "release": RELEASE_NAME,
        "helm.sh/chart": f"{CHART}-{chart_version}",
        "chart": f"{CHART}-{chart_version}",
        "app.kubernetes.io/managed-by": "kubespawner",
    }
    ks.namespace = namespace  # L136 ($POD_NAMESPACE)
    ks.pod_name_template = single["podNameTemplate"]  # L146
    ks.start_timeout = single.get("startTimeout", 300)  # L147
    ks.extra_labels = {"hub.jupyter.org/network-access-hub": "true"}  # L151, chart default extraLabels
    ks.uid = single["uid"]  # L154
    ks.fs_gid = single["fsGid"]  # L155
    ks.service_account = single["serviceAccountName"]  # L156
    ks.node_selector = dict(single.get("nodeSelector") or {})  # L159
    ks.mem_guarantee = single["memory"]["guarantee"]  # L169-172
    ks.mem_limit = single["memory"]["limit"]
    ks.cpu_guarantee = single["cpu"]["guarantee"]
    ks.cpu_limit = single["cpu"]["limit"]
    ks.environment = dict(single.get("extraEnv") or {})  # L175
    ks.profile_list = copy.deepcopy(single.get("profileList") or [])  # L176
    ks.image = f"{single['image']['name']}:{single['image']['tag']}"  # L183-189
    ks.allow_privilege_escalation = single["allowPrivilegeEscalation"]  # L196-198
    if scheduling["userScheduler"]["enabled"]:  # L215-216
        ks.scheduler_name = "user-scheduler"
    if scheduling["podPriority"]["enabled"]:  # L217-218
        ks.priority_class_name = f"{RELEASE_NAME}-default-priority"
    assert scheduling["userPods"]["nodeAffinity"]["matchNodePurpose"] == "require"  # L221-246
    ks.node_affinity_required = [
        {"matchExpressions": [{"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["user"]}]}
    ]
    ks.tolerations = [*scheduling["userPods"]["tolerations"], *(single.get("extraTolerations") or [])]  # L249-253
    storage = single["storage"]  # L255-362
    assert storage["type"] == "dynamic"
    ks.storage_extra_labels = dict(storage.get("extraLabels") or {})  # L157
    if storage["dynamic"].get("pvcNameTemplate"):  # L261-263; unset: KubeSpawner's claim-{user_server}
        ks.pvc_name_template = storage["dynamic"]["pvcNameTemplate"]
    ks.storage_pvc_ensure = True
    ks.storage_class = storage["dynamic"]["storageClass"]
    ks.storage_capacity = storage["capacity"]
    home = "volume-{user_server}"  # chart default volumeNameTemplate
    volumes = {home: {"name": home, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}}
    mounts = {home: {"mountPath": "/home/jovyan", "name": home}}
    files = single.get("extraFiles") or {}
    if files:
        volumes["files"] = {
            "name": "files",
            "secret": {"secretName": "singleuser", "items": [{"key": k, "path": k} for k in files]},
        }
        for index, (key, details) in enumerate(files.items()):
            mounts[f"{index}-files"] = {"mountPath": details["mountPath"], "subPath": key, "name": "files"}
    volumes.update(storage.get("extraVolumes") or {})
    mounts.update(storage.get("extraVolumeMounts") or {})
    ks.volumes = volumes
    ks.volume_mounts = mounts
    c.Spawner.cmd = ["jupyterhub-singleuser"]  # L443-446, chart default
    for section, entries in values["hub"]["config"].items():  # L500-526
        c[section].update(copy.deepcopy(entries))
    with chart_z2jh(values):
        for _, snippet in sorted((values["hub"].get("extraConfig") or {}).items()):  # L540-542
            exec(snippet, {"c": c})
    return c


@contextlib.contextmanager
def chart_z2jh(values: dict[str, Any]) -> Iterator[None]:
    """The chart's `z2jh` module (files/hub/z2jh.py), which snippets import: `get_config("a.b")` walks the
    release's values (mounted in the hub as values.yaml) and returns `default` where a level is missing."""

    def get_config(key: str, default: Any = None) -> Any:
        value: Any = values
        for level in key.split("."):
            if not isinstance(value, dict) or level not in value:
                return default
            value = value[level]
        return copy.deepcopy(value)

    module = types.ModuleType("z2jh")
    module.get_config = get_config  # type: ignore[attr-defined]
    with mock.patch.dict(sys.modules, {"z2jh": module}):
        yield


@dataclass
class Group:
    name: str


@dataclass
class HubUser:
    """What KubeSpawner reads of JupyterHub's User (name, id, url, groups as ORM groups)."""

    name: str
    group_names: list[str] = field(default_factory=list)
    id: int = 1

    @property
    def groups(self) -> list[Group]:
        return [Group(g) for g in self.group_names]

    @property
    def url(self) -> str:
        return f"/user/{self.name}/"

    @property
    def escaped_name(self) -> str:
        return self.name


class ProfileRefusedError(Exception):
    """KubeSpawner refused the requested profile (it raises ValueError from load_user_options)."""


async def _spawn(config: Config, user: HubUser, options: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    client_id = f"jupyterhub-user-{user.name}"
    spawner = KubeSpawner(config=config, user=user, hub=Hub(), _mock=True, api_token="token", oauth_client_id=client_id)
    offered = spawner.profile_list(spawner) if callable(spawner.profile_list) else spawner.profile_list
    spawner.user_options = options
    try:
        await spawner.load_user_options()
    except ValueError as error:
        raise ProfileRefusedError(str(error)) from error
    pod = await spawner.get_pod_manifest()
    async with ApiClient() as api:
        return [p["slug"] for p in offered], api.sanitize_for_serialization(pod)


async def _claim(config: Config, user: HubUser) -> dict[str, Any]:
    spawner = KubeSpawner(config=config, user=user, hub=Hub(), _mock=True, api_token="token")
    async with ApiClient() as api:
        return api.sanitize_for_serialization(spawner.get_pvc_manifest())


def claim(config: Config, user: HubUser) -> dict[str, Any]:
    """The user's home PersistentVolumeClaim as KubeSpawner creates it (`storage_pvc_ensure`: its
    `_start` creates `get_pvc_manifest()` before the pod)."""
    with mock.patch.object(kubespawner.spawner, "load_config", lambda **kwargs: None):
        return asyncio.run(_claim(config, user))


def spawn(config: Config, user: HubUser, options: dict[str, Any] | None = None) -> tuple[list[str], dict[str, Any]]:
    """(slugs offered to the user, the pod manifest), or ProfileRefusedError. No cluster: KubeSpawner's
    kubeconfig loading is skipped (it talks to the API only when it starts the pod)."""
    with mock.patch.object(kubespawner.spawner, "load_config", lambda **kwargs: None):
        return asyncio.run(_spawn(config, user, options or {}))
