"""Server profiles and the pods they make, with the real KubeSpawner 7.0.0 (tests/user_pods.py):
per group, the profiles offered and a refused forbidden one; the pod of each profile (resources,
pool, GPUs, /dev/shm, Pod Security "restricted", no API token)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from traitlets.config import Config

from catalog.instance_types import quantity
from components.jupyterhub_values import GPU_RESOURCE, GPU_TAINT, NODE_POOL_LABEL
from offline_plan.mock_engine import Inventory
from tests.pod_security import restricted_violations
from tests.test_jupyterhub import hub_settings, hub_values
from tests.user_pods import HubUser, ProfileRefusedError, chart_spawner_config, spawn


def spawner_config(plan: Inventory, values: dict[str, Any] | None = None) -> Config:
    settings = hub_settings(plan)
    return chart_spawner_config(
        values or hub_values(plan), settings.get("namespace", "jupyterhub"), settings.get("chartVersion", "4.4.0")
    )


def profiles(plan: Inventory) -> list[dict[str, Any]]:
    return hub_settings(plan).get("userServers", {}).get("profiles", [])


def test_every_stack_offers_profiles_some_for_groups_only(plan: Inventory) -> None:
    assert len(profiles(plan)) >= 2 and any(p.get("groups") for p in profiles(plan))


def test_each_group_sees_its_profiles_and_cannot_start_the_others(plan: Inventory) -> None:
    config = spawner_config(plan)
    everyone = [p["slug"] for p in profiles(plan) if not p.get("groups")]
    offered, _ = spawn(config, HubUser("nobody-special", ["unrelated"]))
    assert offered == everyone
    for profile in profiles(plan):
        for group in profile.get("groups", []):
            member = HubUser("member", [group])
            offered, _ = spawn(config, member, {"profile": profile["slug"]})
            assert profile["slug"] in offered
        if profile.get("groups"):
            # A forged form post or REST call naming the profile is refused at start.
            with pytest.raises(ProfileRefusedError, match=f"No such profile: {profile['slug']}"):
                spawn(config, HubUser("outsider", ["unrelated"]), {"profile": profile["slug"]})


def test_without_the_hub_snippet_a_forbidden_profile_would_start(plans: dict[str, Inventory]) -> None:
    """The refusal above is the snippet's (hub_config/profiles_by_group.py), not a mock's."""
    plan = plans["prod"]
    values = copy.deepcopy(hub_values(plan))
    del values["hub"]["extraConfig"]["20-profiles-by-group"]
    restricted = next(p for p in profiles(plan) if p.get("groups"))
    offered, _ = spawn(spawner_config(plan, values), HubUser("outsider", []), {"profile": restricted["slug"]})
    assert restricted["slug"] in offered


def _bytes(memory: str) -> int:
    """A setting's Kubernetes quantity (2Gi, 512Mi) in bytes: what the pod must request."""
    return int(quantity(memory))


def test_each_profiles_pod(plan: Inventory) -> None:
    settings = hub_settings(plan)
    user_servers = settings["userServers"]
    for profile in profiles(plan):
        member = HubUser("alice", list(profile.get("groups", [])))
        _, pod = spawn(spawner_config(plan), member, {"profile": profile["slug"]})
        spec = pod["spec"]
        (container,) = spec["containers"]
        resources = profile.get("resources") or user_servers["resources"]
        assert container["resources"]["limits"]["cpu"] == float(resources["cpuLimit"])
        assert container["resources"]["requests"]["cpu"] == float(resources["cpuGuarantee"])
        assert container["resources"]["limits"]["memory"] == _bytes(resources["memoryLimit"])
        assert container["resources"]["requests"]["memory"] == _bytes(resources["memoryGuarantee"])
        # Only on its pool: the node-purpose label, and the GPU taint tolerated by GPU profiles only.
        assert spec["nodeSelector"][NODE_POOL_LABEL] == profile.get("nodePool", "user")
        tolerated = {t["key"] for t in spec["tolerations"]}
        assert "hub.jupyter.org/dedicated" in tolerated
        assert (GPU_TAINT["key"] in tolerated) == bool(profile.get("gpus"))
        gpus = container["resources"]["limits"].get(GPU_RESOURCE)
        assert gpus == (str(profile["gpus"]) if profile.get("gpus") else None)
        # A memory-backed /dev/shm of the configured size.
        (shm,) = [v for v in spec["volumes"] if v.get("emptyDir", {}).get("medium") == "Memory"]
        assert shm["emptyDir"]["sizeLimit"] == user_servers.get("shmSize", "1Gi")
        assert {"name": shm["name"], "mountPath": "/dev/shm"} in container["volumeMounts"]
        # Pod Security "restricted", no Kubernetes API token, the user-servers identity.
        assert restricted_violations(spec["securityContext"], container["securityContext"]) == []
        assert spec["automountServiceAccountToken"] is False
        # Permissions follow the profile: curator profiles run as the curators' identity.
        identity = "jupyter-curator" if profile.get("sharedDataWriter") else "jupyter-user"
        assert spec["serviceAccountName"] == identity


def test_no_profile_chosen_starts_the_default(plan: Inventory) -> None:
    (default,) = [p for p in profiles(plan) if p.get("default")]
    _, pod = spawn(spawner_config(plan), HubUser("alice", []))
    resources = default.get("resources") or hub_settings(plan)["userServers"]["resources"]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] == float(resources["cpuLimit"])
