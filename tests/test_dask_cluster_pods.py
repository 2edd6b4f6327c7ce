"""The command a scheduler and a worker start with, as the real controller (dask-gateway-server 2026.3.0)
writes it into their pods from the configuration the chart renders, against what the environment they run
(the user's, environments/*/requirements.txt) provides. The controller sets the container's `args`, so the
image's ENTRYPOINT (docker-stacks' `tini -g -- start.sh`) execs them."""

from __future__ import annotations

import re
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any

from tests.test_dask_gateway import controller_pods, prod_chart, rendered  # noqa: F401 - its fixtures

ENVIRONMENTS = Path(__file__).resolve().parent.parent / "environments"


def locked_distributed(environment: str) -> str:
    text = (ENVIRONMENTS / environment / "requirements.txt").read_text()
    match = re.search(r"^distributed==(\S+)", text, re.MULTILINE)
    assert match, environment
    return match.group(1)


def test_schedulers_and_workers_start_a_command_their_environment_has(rendered: list[dict[str, Any]]) -> None:  # noqa: F811
    """dask-gateway-server's defaults are `dask-scheduler` / `dask-worker`, scripts distributed no longer
    installs; its `dask` command has `scheduler` and `worker` (entry points of group dask_cli). Checked with
    the distributed installed here, the version every environment locks. Mutation: without the
    `05-commands` entry of gateway.extraConfig the pods' args start with `dask-worker`, which is no script."""
    pods = controller_pods(rendered, ["data-science"])
    for environment in ("datascience", "pytorch-gpu"):
        assert locked_distributed(environment) == version("distributed"), environment
    subcommands = {e.name for e in entry_points(group="dask_cli")}
    for role, pod in pods.items():
        (container,) = pod["spec"]["containers"]
        assert "command" not in container, role  # the image's entrypoint stays
        program, subcommand = container["args"][:2]
        assert (program, subcommand) == ("dask", role), role
        assert subcommand in subcommands, role


def test_the_pods_survive_the_daskcluster_round_trip(rendered: list[dict[str, Any]]) -> None:  # noqa: F811
    """The api does not make the pods: it stores the cluster's configuration in a DaskCluster
    (KubeBackend.make_cluster_object: `spec.config = config.to_dict()`), which the API server keeps as JSON,
    and the controller builds the pods from what it reads back (`FrozenAttrDict(cluster["spec"]["config"])`).
    The chart's CRD prunes nothing under spec (x-kubernetes-preserve-unknown-fields), so the pods built
    from the JSON round trip are the ones the other tests check (security contexts, placement, command).
    Mutation: an options hook giving a label as a set (not JSON: the api could create no DaskCluster)."""
    import json

    import yaml
    from dask_gateway_server.backends.kubernetes.backend import KubeBackend, KubeClusterConfig
    from dask_gateway_server.backends.kubernetes.controller import KubeController
    from dask_gateway_server.models import User
    from dask_gateway_server.utils import FrozenAttrDict

    from tests import charts
    from tests.test_dask_gateway import _gateway_config

    (crd,) = yaml.safe_load_all(
        (charts.chart_folder("dask-gateway", "2026.3.0") / "crds/daskclusters.yaml").read_text()
    )
    (served,) = crd["spec"]["versions"]
    assert served["schema"]["openAPIV3Schema"].get("x-kubernetes-preserve-unknown-fields") is True

    gateway = _gateway_config(rendered, "api-dask-gateway")
    user = User("alice", groups=["data-science"])
    options = gateway.Backend.cluster_options(user)
    overrides = options.get_configuration(options.parse_options({}), user)
    backend = KubeBackend(config=gateway)
    cluster = backend.make_cluster_object("alice", {}, KubeClusterConfig(parent=backend, **overrides))
    stored = json.loads(json.dumps(cluster))  # what the API server keeps and the controller's informer reads
    controller = KubeController(config=_gateway_config(rendered, "controller-dask-gateway"))
    expected = controller_pods(rendered, ["data-science"])
    for role, is_worker in (("scheduler", False), ("worker", True)):
        pod = controller.make_pod("dask-gateway", "abc", FrozenAttrDict(stored["spec"]["config"]), is_worker=is_worker)
        assert pod == expected[role], role
