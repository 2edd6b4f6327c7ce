"""A Dask cluster runs the environment of the notebook that drives it (issue 24: "the worker image is the user's
own environment"). The client pickles functions and objects with the notebook's libraries, and the workers must
load them: a notebook on the prod `gpu` profile (pytorch-gpu) whose workers ran the default datascience image
would have no torch there. Proven end to end with the real classes at the charts' versions: the prod release's
hub configuration started by KubeSpawner 7.0.0 for each profile (the server's environment variable, which dask
config reads as `gateway.cluster.options.environment` and the client sends with every new cluster), then the
gateway's cluster options (dask-gateway-server 2026.3.0, the chart's rendered configuration) and the real
controller's pods for that request."""

from __future__ import annotations

from typing import Any

import pytest
from dask_gateway_server.backends.kubernetes.backend import KubeClusterConfig
from dask_gateway_server.backends.kubernetes.controller import KubeController
from dask_gateway_server.models import User
from dask_gateway_server.utils import FrozenAttrDict

from components.dask_gateway_values import ENVIRONMENT_OPTION_ENV
from offline_plan.mock_engine import Inventory
from tests.conftest import stack_config
from tests.test_dask_gateway import _gateway_config, prod_chart, rendered  # noqa: F401 - its fixtures
from tests.test_department import FakeHub, run, spawner_config

# Members of both Dask groups and of every profile's group, so each profile may start and use Dask.
GROUPS = ["data-science", "ml-research", "data-curators"]


def server_pods(plan: Inventory) -> dict[str, dict[str, Any]]:
    """The pod of alice's server for each prod profile, as the hub starts it."""
    hub = FakeHub(spawner_config(plan))
    pods: dict[str, dict[str, Any]] = {}

    async def scenario() -> None:
        for profile in stack_config(plan)["jhub-eks:jupyterhub"]["userServers"]["profiles"]:
            await hub.start("alice", GROUPS, profile["slug"])
            pods[profile["slug"]] = hub.pods["alice"]
            hub.stop("alice")

    run(scenario)
    return pods


def cluster_pods(rendered: list[dict[str, Any]], requested: dict[str, Any]) -> dict[str, dict[str, Any]]:  # noqa: F811
    """A scheduler and a worker as the controller makes them for alice's request (the options she sends)."""
    gateway = _gateway_config(rendered, "api-dask-gateway")
    user = User("alice", groups=GROUPS)
    options = gateway.Backend.cluster_options(user)
    overrides = options.get_configuration(options.parse_options(requested), user)
    frozen = FrozenAttrDict(KubeClusterConfig(config=gateway, **overrides).to_dict())
    controller = KubeController(config=_gateway_config(rendered, "controller-dask-gateway"))
    return {
        role: controller.make_pod("dask-gateway", "abc", frozen, is_worker=role == "worker")
        for role in ("scheduler", "worker")
    }


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    (container,) = pod["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container.get("env") or []}


@pytest.fixture(scope="module")
def servers(plans: dict[str, Inventory]) -> dict[str, dict[str, Any]]:
    return server_pods(plans["prod"])


def test_each_profile_s_clusters_run_the_server_s_own_image(
    servers: dict[str, dict[str, Any]],
    rendered: list[dict[str, Any]],  # noqa: F811
) -> None:
    environments = {slug: env_of(pod)[ENVIRONMENT_OPTION_ENV] for slug, pod in servers.items()}
    assert environments == {
        "standard": "datascience",
        "large": "datascience",
        "curator": "datascience",
        "gpu": "pytorch-gpu",
    }
    for slug, pod in servers.items():
        (server,) = pod["spec"]["containers"]
        # What the client sends: its dask config's default options, from the server's environment.
        cluster = cluster_pods(rendered, {"environment": environments[slug]})
        for role, cluster_pod in cluster.items():
            (container,) = cluster_pod["spec"]["containers"]
            assert container["image"] == server["image"], (slug, role)
            assert "@sha256:" in container["image"]


def test_a_cluster_that_names_no_environment_runs_the_default_server_s(
    servers: dict[str, dict[str, Any]],
    rendered: list[dict[str, Any]],  # noqa: F811
) -> None:
    (default,) = servers["standard"]["spec"]["containers"]
    for cluster_pod in cluster_pods(rendered, {}).values():
        assert cluster_pod["spec"]["containers"][0]["image"] == default["image"]


@pytest.mark.parametrize(
    "requested",
    [
        {"environment": "attacker/miner:latest"},  # not one of the stack's environments
        {"image": "attacker/miner:latest"},  # not an option at all
    ],
)
def test_a_user_cannot_run_an_image_of_her_own_on_the_workers(
    rendered: list[dict[str, Any]],  # noqa: F811
    requested: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        cluster_pods(rendered, requested)
