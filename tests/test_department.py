"""Home size and server limits per group, with the real JupyterHub 5.5.0 and KubeSpawner 7.0.0 classes configured
from each stack's values (tests/user_pods.py): a start runs JupyterHub's steps in User.spawn's order (group
overrides, user options, the pre-spawn hook, all on a spawner already pending), then KubeSpawner's
(load_user_options, the home claim, the pod). A member of each group gets their home size and is refused past
their group's limits; a non-member gets the defaults."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import kubespawner.spawner
import pytest
import yaml
from jupyterhub.objects import Hub
from kubernetes_asyncio.client import ApiClient
from kubespawner import KubeSpawner
from traitlets.config import Config

from components.department_values import GROUP_LABEL_PREFIX, GROUP_LIMITS_SNIPPET, SERVER_CONFIG_PATH, group_label
from offline_plan.mock_engine import STACKS, Inventory
from tests.test_jupyterhub import hub_settings, hub_values
from tests.user_pods import HubUser, chart_spawner_config, spawn


def department(plan: Inventory) -> dict[str, Any]:
    return yaml.safe_load((STACKS / f"Pulumi.{plan.stack}.yaml").read_text())["config"].get("jhub-eks:department", {})


def spawner_config(plan: Inventory, values: dict[str, Any] | None = None) -> Config:
    settings = hub_settings(plan)
    return chart_spawner_config(values or hub_values(plan), settings.get("namespace", "jupyterhub"), "4.4.0")


@dataclass
class Member(HubUser):
    """JupyterHub's User as the hook reads it: its spawners, and the hub's settings with every user in them."""

    settings: dict[str, Any] = field(default_factory=dict)
    spawners: dict[str, KubeSpawner] = field(default_factory=dict)


class SpawnRefusedError(Exception):
    pass


class FakeHub:
    """The hub's users and their servers; `start` follows JupyterHub 5.5.0's User.spawn and KubeSpawner's _start."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.users: dict[str, Member] = {}
        self.pods: dict[str, dict[str, Any]] = {}

    def user(self, name: str, groups: list[str]) -> Member:
        if name not in self.users:
            self.users[name] = Member(name, groups, id=len(self.users) + 1, settings={"users": self.users})
        return self.users[name]

    async def start(self, name: str, groups: list[str], profile: str | None = None) -> dict[str, Any]:
        """The home claim KubeSpawner creates; SpawnRefusedError with the message the user sees."""
        user = self.user(name, groups)
        spawner = user.spawners.get("") or KubeSpawner(
            config=self.config, user=user, hub=Hub(), _mock=True, api_token="token", oauth_client_id=f"u-{name}"
        )
        user.spawners[""] = spawner
        spawner.user_options = {"profile": profile} if profile else {}
        spawner._start_pending = True  # User.spawn sets it before any hook runs
        try:
            await spawner.apply_group_overrides()
            await spawner._run_apply_user_options(spawner.user_options)
            result = spawner.run_pre_spawn_hook()
            if inspect.isawaitable(result):
                await result
            await spawner.load_user_options()
            claim = spawner.get_pvc_manifest()
            pod = await spawner.get_pod_manifest()
        except Exception as error:
            raise SpawnRefusedError(getattr(error, "jupyterhub_message", str(error))) from error
        finally:
            spawner._start_pending = False
        spawner._server = SimpleNamespace()  # ready
        async with ApiClient() as api:
            self.pods[name] = api.sanitize_for_serialization(pod)
            return api.sanitize_for_serialization(claim)

    def stop(self, name: str) -> None:
        self.users[name].spawners[""]._server = None


def run(scenario: Any) -> Any:
    with mock.patch.object(kubespawner.spawner, "load_config", lambda **kwargs: None):
        return asyncio.run(scenario())


def _size(claim: dict[str, Any]) -> str:
    return claim["spec"]["resources"]["requests"]["storage"]


def _gpu_profile(plan: Inventory, group: str) -> str | None:
    profiles = hub_settings(plan).get("userServers", {}).get("profiles", [])
    return next((p["slug"] for p in profiles if p.get("gpus") and (not p.get("groups") or group in p["groups"])), None)


def test_every_stack_sets_group_homes_and_limits(plan: Inventory) -> None:
    groups = department(plan).get("groups", [])
    assert any(g.get("homeSize") for g in groups) and any(g.get("maxServers") for g in groups)


def test_each_group_gets_its_home_size_the_largest_wins_others_the_default(plan: Inventory) -> None:
    hub = FakeHub(spawner_config(plan))
    default = hub_settings(plan)["userServers"]["storageCapacity"]
    sized = [g for g in department(plan)["groups"] if g.get("homeSize")]

    async def scenario() -> None:
        for index, group in enumerate(sized):
            assert _size(await hub.start(f"member{index}", [group["group"]])) == group["homeSize"]
            assert group["homeSize"] != default  # so the assertion above tells the group's size from the default
        assert _size(await hub.start("outsider", ["unrelated"])) == default
        largest = max(sized, key=lambda g: int(g["homeSize"].removesuffix("Gi")))
        everything = await hub.start("in-every-group", [g["group"] for g in sized])
        assert _size(everything) == largest["homeSize"]

    run(scenario)


def test_members_pods_carry_their_groups_labels_for_the_cost_export(plan: Inventory) -> None:
    """Split cost allocation data imports pod labels as cost allocation tags: the username label KubeSpawner puts
    on every pod, and one label per department group on its members' pods (both, for a member of two)."""
    hub = FakeHub(spawner_config(plan))
    groups = [g["group"] for g in department(plan)["groups"]]

    async def scenario() -> None:
        await hub.start("in-all", groups)
        await hub.start("outsider", ["unrelated"])

    run(scenario)
    labels = hub.pods["in-all"]["metadata"]["labels"]
    assert labels["hub.jupyter.org/username"] == "in-all"
    assert {k: v for k, v in labels.items() if k.startswith(GROUP_LABEL_PREFIX)} == {
        group_label(g): "member" for g in groups
    }
    assert not [k for k in hub.pods["outsider"]["metadata"]["labels"] if k.startswith(GROUP_LABEL_PREFIX)]


def test_a_group_past_its_server_limit_is_refused_with_what_runs(plan: Inventory) -> None:
    hub = FakeHub(spawner_config(plan))
    group = next(g for g in department(plan)["groups"] if g.get("maxServers"))
    name, limit = group["group"], group["maxServers"]

    async def scenario() -> None:
        for index in range(limit):
            await hub.start(f"m{index}", [name])
        with pytest.raises(SpawnRefusedError) as refused:
            await hub.start("one-too-many", [name])
        message = str(refused.value)
        assert f"Group {name} may run {limit} servers at once, and {limit} are running" in message
        assert "m0" in message and f"m{limit - 1}" in message
        assert not hub.users["one-too-many"].spawners[""].active  # the refused spawn is not left pending
        await hub.start("outsider", ["unrelated"])  # another group's user is not counted, nor limited
        hub.stop("m0")
        await hub.start("one-too-many", [name])  # a place freed is a place taken

    run(scenario)


def test_gpu_servers_past_the_group_gpu_limit_are_refused_cpu_servers_not(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    hub = FakeHub(spawner_config(plan))
    group = next(g for g in department(plan)["groups"] if g.get("maxGpuServers"))
    name, gpus = group["group"], group["maxGpuServers"]
    gpu_profile = _gpu_profile(plan, name)
    assert gpu_profile and gpus < group["maxServers"]

    async def scenario() -> None:
        for index in range(gpus):
            await hub.start(f"g{index}", [name], gpu_profile)
        with pytest.raises(SpawnRefusedError, match=f"Group {name} may run {gpus} GPU servers at once") as refused:
            await hub.start("one-more-gpu", [name], gpu_profile)
        assert "g0 (GPU)" in str(refused.value) and "choose a profile without a GPU" in str(refused.value)
        await hub.start("cpu-user", [name])  # the default profile: within maxServers, no GPU

    run(scenario)


def test_without_the_hub_snippet_the_group_would_run_past_its_limit(plans: dict[str, Inventory]) -> None:
    """The refusals above are the snippet's (hub_config/group_server_limits.py), not the test's."""
    plan = plans["prod"]
    values = copy.deepcopy(hub_values(plan))
    del values["hub"]["extraConfig"][GROUP_LIMITS_SNIPPET]
    hub = FakeHub(spawner_config(plan, values))
    group = next(g for g in department(plan)["groups"] if g.get("maxServers"))

    async def scenario() -> None:
        for index in range(group["maxServers"] + 1):
            await hub.start(f"m{index}", [group["group"]])

    run(scenario)


def test_a_profile_with_a_shorter_idle_time_stops_itself_and_kernels_are_culled(plan: Inventory) -> None:
    """The pods KubeSpawner makes: a profile in culling.profileIdleTimeoutSeconds runs jupyterhub-singleuser with
    jupyter_server's ServerApp.shutdown_no_activity_timeout; every pod mounts the server config file with the
    kernel culling (MappingKernelManager.cull_idle_timeout / cull_connected / cull_interval, jupyter_server 2.x)."""
    settings = department(plan)
    timeouts = settings.get("culling", {}).get("profileIdleTimeoutSeconds", {})
    kernels = settings["kernels"]
    config = spawner_config(plan)
    values = hub_values(plan)
    files = values["singleuser"]["extraFiles"]
    (server_config,) = [(key, f) for key, f in files.items() if f["mountPath"] == SERVER_CONFIG_PATH]
    assert server_config[1]["data"]["MappingKernelManager"] == {
        "cull_idle_timeout": kernels["idleTimeoutSeconds"],
        "cull_connected": kernels["cullConnected"],
        "cull_interval": kernels["intervalSeconds"],
    }
    for profile in hub_settings(plan)["userServers"]["profiles"]:
        _, pod = spawn(config, HubUser("alice", list(profile.get("groups", []))), {"profile": profile["slug"]})
        (container,) = pod["spec"]["containers"]
        shutdown = [a for a in container["args"] if a.startswith("--ServerApp.shutdown_no_activity_timeout=")]
        expected = timeouts.get(profile["slug"])
        assert shutdown == ([f"--ServerApp.shutdown_no_activity_timeout={expected}"] if expected else [])
        assert {"mountPath": SERVER_CONFIG_PATH, "subPath": server_config[0], "name": "files"} in [
            {k: m[k] for k in ("mountPath", "subPath", "name") if k in m} for m in container["volumeMounts"]
        ]


def test_the_culler_keeps_its_least_privilege_role(plan: Inventory) -> None:
    """The chart grants the culler admin:users only with cull.users; max age and timeouts need no more."""
    cull = hub_values(plan)["cull"]
    assert cull["enabled"] and not cull.get("users")
    if department(plan).get("culling", {}).get("maxAgeSeconds"):
        assert cull["maxAge"] == department(plan)["culling"]["maxAgeSeconds"]


JUPYTER_SERVER_OPTIONS = Path(__file__).parent.parent / "data" / "jupyter_server" / "config-options.json"


def test_the_user_servers_config_names_options_jupyter_server_has(plan: Inventory) -> None:
    """Every ServerApp / MappingKernelManager option the values set, in the config file or as a profile's argument,
    is a configurable trait of jupyter_server (data/jupyter_server/config-options.json, read from its classes): a
    misspelt option is only a warning in the server's log, and the culling would silently not happen."""
    known = json.loads(JUPYTER_SERVER_OPTIONS.read_text())["classes"]
    values = hub_values(plan)
    used: list[tuple[str, str]] = []
    for entry in values["singleuser"]["extraFiles"].values():
        if entry["mountPath"].endswith("jupyter_server_config.json"):
            used += [(cls, option) for cls, options in entry["data"].items() for option in options]
    for profile in values["singleuser"]["profileList"]:
        for argument in profile["kubespawner_override"].get("args", []):
            cls, _, option = argument.removeprefix("--").partition("=")[0].partition(".")
            used.append((cls, option))
    assert ("MappingKernelManager", "cull_idle_timeout") in used
    assert [(cls, option) for cls, option in used if option not in known.get(cls, [])] == []
