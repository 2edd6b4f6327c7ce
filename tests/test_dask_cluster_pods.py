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
