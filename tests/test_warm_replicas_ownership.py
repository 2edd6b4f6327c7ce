"""Who owns the placeholders' replicas when the schedule's job and Pulumi both write them (review of issue 26).

Server-Side Apply (kubernetes.io/docs/reference/using-api/server-side-apply) records a manager for each field; an
apply that sets a field another manager owns to a different value fails with a conflict unless forced. The job's
scale patches make it the owner of spec.replicas; pulumi-kubernetes applies without force unless the object carries
`pulumi.com/patchForce: "true"` (provider/pkg/await/await.go `patchForce`). So removing the schedule at night (the
job set 0, Pulumi now sends the working-hours size) would fail `pulumi up` with a field conflict without it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from components.warm_capacity import PlaceholderSpec, placeholder_statefulset
from components.warm_capacity_scaler import FIELD_MANAGER
from offline_plan.mock_engine import Inventory
from tests.test_warm_capacity import placeholders
from tests.test_warm_schedule import CONFIG, FakeApi, api_server, objects, scheduled, shipped_script  # noqa: F401

PULUMI = "pulumi-kubernetes-5f2c1a"  # the provider's field manager (a per-provider name)


class FieldConflictError(Exception):
    pass


class Replicas:
    """One StatefulSet's spec.replicas as the API server tracks it: its value and its managers."""

    def __init__(self) -> None:
        self.value = 1  # the API's default
        self.managers: set[str] = set()

    def apply(self, manager: str, manifest: dict[str, Any]) -> None:
        """A server-side apply by `manager`, forced as pulumi-kubernetes forces it (the patchForce annotation)."""
        force = (manifest["metadata"].get("annotations") or {}).get("pulumi.com/patchForce") == "true"
        wanted = manifest["spec"].get("replicas")
        if wanted is None:  # the manager gives the field up; with no owner left, it returns to the default
            self.managers.discard(manager)
            if not self.managers:
                self.value = 1
            return
        others = self.managers - {manager}
        if others and wanted != self.value and not force:
            raise FieldConflictError(f"conflict with {sorted(others)}: .spec.replicas")
        self.managers = {manager} if force or wanted != self.value else self.managers | {manager}
        self.value = wanted

    def update(self, manager: str, value: int) -> None:
        """A patch (not an apply): never conflicts, and the writer of a new value becomes its only owner."""
        self.managers = {manager} if value != self.value else self.managers | {manager}
        self.value = value


def _night(config: dict[str, Any]) -> datetime:
    return datetime(2026, 6, 2, 2, tzinfo=ZoneInfo(config["schedule"]["timezone"]))


def test_removing_the_schedule_at_night_hands_the_replicas_back_to_pulumi(
    scheduled: Inventory,  # noqa: F811
    api_server: tuple[str, list[FakeApi]],  # noqa: F811
) -> None:
    url, holder = api_server
    config = json.loads(objects(scheduled)["ConfigMap"]["data"][CONFIG])
    (first, *_) = placeholders(scheduled)
    name = first.inputs["metadata"]["name"]
    replicas = Replicas()
    # The stack with the schedule: Pulumi applies the StatefulSet without replicas, the job scales it to 0 at night.
    replicas.apply(PULUMI, {"metadata": first.inputs["metadata"], "spec": first.inputs["spec"]})
    api = FakeApi(objects(scheduled)["Role"], config["namespace"], {name: replicas.value})
    holder.append(api)
    config["statefulSets"] = [name]
    assert shipped_script(scheduled).run(config, _night(config), url, api.token, None) == 0
    assert api.managers[name] == FIELD_MANAGER  # the name the API server records, not urllib's User-Agent
    replicas.update(api.managers[name], api.replicas[name])
    assert (replicas.value, replicas.managers) == (0, {FIELD_MANAGER})
    # The schedule removed: Pulumi now sends the size, and takes the field back instead of failing the `up`.
    zone = first.inputs["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"][0]["matchExpressions"][1]["values"][0]
    unscheduled = placeholder_statefulset(
        PlaceholderSpec(config["namespace"], "jupyterhub", zone, config["replicas"], 1, "4Gi", scheduled=False)
    )
    replicas.apply(PULUMI, unscheduled)
    assert (replicas.value, replicas.managers) == (config["replicas"], {PULUMI})


def test_the_model_refuses_an_unforced_apply_over_the_job_s_value() -> None:
    # The rule the annotation answers: without it, the apply conflicts with the job.
    replicas = Replicas()
    replicas.update(FIELD_MANAGER, 0)
    plain = {"metadata": {"name": "user-placeholder-a"}, "spec": {"replicas": 1}}
    with pytest.raises(FieldConflictError, match=FIELD_MANAGER):
        replicas.apply(PULUMI, plain)
