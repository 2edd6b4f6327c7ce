"""The hub upgrades its database schema at start on RDS as on SQLite (review of issue 26).

z2jh 4.4.0's hub Deployment passes `--upgrade-db` when hub.db.upgrade is unset only for sqlite-pvc
(templates/hub/deployment.yaml); JupyterHub 5.5 (orm.check_db_revision) refuses to start on a database of an older
schema without it. Without the program's `upgrade: true`, moving prod to PostgreSQL would have turned every chart
upgrade that carries a schema change into a hub that does not start.
"""

from __future__ import annotations

from typing import Any

from offline_plan.mock_engine import Inventory
from tests.test_chart_render import hub_release, render
from tests.test_hub_database import database_stack


def _hub_command(objects: list[dict[str, Any]]) -> list[str]:
    (hub,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "hub"]
    (container,) = [c for c in hub["spec"]["template"]["spec"]["containers"] if c["name"] == "hub"]
    return [*container.get("command", []), *container.get("args", [])]


def test_the_hub_upgrades_its_schema_on_postgres_as_on_sqlite(plans: dict[str, Inventory]) -> None:
    postgres = database_stack(plans)
    assert "--upgrade-db" in _hub_command(render(hub_release(postgres)))
    # The SQLite stack has it from the chart's own default.
    assert "--upgrade-db" in _hub_command(render(hub_release(plans["dev"])))
