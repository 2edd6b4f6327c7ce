"""EKS split cost allocation data imports only the first 50 labels of a pod, in alphabetical order, as cost
allocation tags (AWS Data Exports guide, "Using Kubernetes labels for cost allocation in EKS"), and
hub.jupyter.org/username sorts after the department's group labels: the settings refuse more groups than keep a
member of all of them within 50, counted on the real KubeSpawner 7.0.0 pods of every profile."""

from __future__ import annotations

import pytest

from components.department_values import GROUP_LABEL_PREFIX
from offline_plan.mock_engine import Inventory
from settings.department import (
    MAX_DEPARTMENT_GROUPS,
    SPLIT_COST_LABEL_LIMIT,
    USER_POD_LABELS_BESIDES_GROUPS,
    DepartmentSettings,
)
from tests.test_department import FakeHub, department, run, spawner_config
from tests.test_jupyterhub import hub_settings

USERNAME_LABEL = "hub.jupyter.org/username"


def test_the_labels_besides_the_groups_are_counted_on_every_profiles_pod(plan: Inventory) -> None:
    hub = FakeHub(spawner_config(plan))
    groups = [g["group"] for g in department(plan).get("groups", [])]
    profiles = hub_settings(plan).get("userServers", {}).get("profiles", [])
    slugs = [p["slug"] for p in profiles] or [None]
    # Also in every group a profile is offered to (they carry no label), so each profile can start.
    hub_groups = sorted({*groups, *(g for p in profiles for g in p.get("groups", []))})
    counted: dict[str | None, list[str]] = {}

    async def scenario() -> None:
        for index, slug in enumerate(slugs):
            name = f"member{index}"
            await hub.start(name, hub_groups, slug)
            counted[slug] = sorted(hub.pods[name]["metadata"]["labels"])
            hub.stop(name)

    run(scenario)
    for slug, labels in counted.items():
        besides = [key for key in labels if not key.startswith(GROUP_LABEL_PREFIX)]
        assert len(besides) <= USER_POD_LABELS_BESIDES_GROUPS, (slug, besides)
        assert len(labels) - len(besides) == len(groups)
        # The username sorts after every group label: it is lost first when a pod passes the limit.
        assert all(key < USERNAME_LABEL for key in labels if key.startswith(GROUP_LABEL_PREFIX))
    assert max(len([k for k in v if not k.startswith(GROUP_LABEL_PREFIX)]) for v in counted.values()) == (
        USER_POD_LABELS_BESIDES_GROUPS
    )


def test_more_groups_than_the_import_keeps_are_refused() -> None:
    def groups(count: int) -> dict[str, object]:
        return {"groups": [{"group": f"g{i}"} for i in range(count)]}

    assert MAX_DEPARTMENT_GROUPS + USER_POD_LABELS_BESIDES_GROUPS == SPLIT_COST_LABEL_LIMIT
    DepartmentSettings.model_validate(groups(MAX_DEPARTMENT_GROUPS))
    with pytest.raises(ValueError, match=f"list at most {MAX_DEPARTMENT_GROUPS} groups"):
        DepartmentSettings.model_validate(groups(MAX_DEPARTMENT_GROUPS + 1))
