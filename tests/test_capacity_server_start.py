"""The server's own start is budgeted where the hub spends it (review of issue 26).

KubeSpawner 7.0.0's start_timeout ends when the pod runs (`is_pod_running`: phase Running and every container
ready, which without a readiness probe is as soon as it starts); JupyterHub 5.5's User._wait_up then waits
Spawner.http_timeout (30 s by default) for the server's API and stops the server after it. capacity.coldStart
plans `serverStartSeconds` (60 s by default) for that part, so the hub must be given it there too.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import kubespawner.spawner
import pytest
from kubespawner import KubeSpawner

from components.jupyterhub_values import build_values, redacted_secrets
from settings import Settings
from tests import charts
from tests.hub_config_run import hub_config
from tests.test_capacity import settings_of


def _spawner_of(settings: Settings) -> Any:
    """A KubeSpawner configured as the hub process configures it from the rendered chart."""
    values = build_values(
        settings.jupyterhub,
        storage_class="gp3",
        secrets=redacted_secrets(),
        certificate_arn="arn:aws:acm:eu-west-1:111122223333:certificate/test",
        capacity=settings.capacity_plan,
    )
    objects = charts.render(
        "jupyterhub", settings.jupyterhub.chart_version, values, release="jupyterhub", namespace="jupyterhub"
    )
    config = hub_config(objects)

    async def make() -> Any:  # KubeSpawner makes its API client in the running event loop
        return KubeSpawner(_mock=True, config=config)

    with mock.patch.object(kubespawner.spawner, "load_config", lambda **kwargs: None):
        return asyncio.run(make())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_hub_waits_for_the_planned_server_start(stack: str) -> None:
    settings = settings_of(stack)
    cold_start = settings.capacity.cold_start
    spawner = _spawner_of(settings)
    # The hub's wait covers the planned start with the margin (60 s x 1.5), not JupyterHub's 30 s.
    assert spawner.http_timeout == settings.capacity_plan.http_timeout_seconds == 90
    assert spawner.http_timeout >= cold_start.server_start_seconds * cold_start.safety_factor
    # The values the chart merges under hub.config keep the program's other KubeSpawner settings.
    assert spawner.automount_service_account_token is False


def test_a_slower_server_start_lengthens_the_wait_and_a_quick_one_keeps_jupyterhub_s_floor() -> None:
    slow = settings_of("prod", capacity={"coldStart": {"serverStartSeconds": 200}})
    assert _spawner_of(slow).http_timeout == 300
    quick = settings_of("prod", capacity={"coldStart": {"serverStartSeconds": 5}})
    assert quick.capacity_plan.http_timeout_seconds == 30
