"""Growing homes after a group's size was raised (maintenance/grow_homes.py, docs/storage.md): the claims are the
real KubeSpawner 7.0.0 ones (names escaped, the hub's user name in an annotation), the groups the hub API's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from maintenance.grow_homes import plan_growth
from offline_plan.mock_engine import Inventory, load_stack_config
from settings import parse_settings
from tests.test_department import spawner_config
from tests.user_pods import HubUser, claim


def _claims(plan: Inventory, users: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """`kubectl get pvc -o json` of homes created at the sizes given (before the raise), and each user's claim name."""
    config = spawner_config(plan)
    items, names = [], {}
    for user, size in users.items():
        manifest = claim(config, HubUser(user, []))
        manifest["spec"]["resources"]["requests"]["storage"] = size
        items.append(manifest)
        names[user] = manifest["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "List", "items": items}, names


def test_homes_below_their_group_size_grow_larger_ones_are_kept_with_the_reason(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    config, secret_keys = load_stack_config("prod")
    settings = parse_settings("prod", config, frozenset(secret_keys))
    default = settings.jupyterhub.user_servers.storage_capacity
    claims, names = _claims(plan, {"alice.phd": default, "bob.student": default, "carol": default, "dave@both": "5Gi"})
    groups = [
        {"kind": "group", "name": "data-science", "users": ["alice.phd", "dave@both"]},
        {"kind": "group", "name": "data-engineering", "users": ["bob.student", "dave@both"]},
    ]
    commands, larger = plan_growth(
        claims, groups, lambda g: settings.department.home_size(g, default), settings.jupyterhub.namespace
    )
    patch = json.dumps({"spec": {"resources": {"requests": {"storage": "50Gi"}}}}, separators=(",", ":"))
    assert commands == sorted(
        [
            f"kubectl -n jupyterhub patch pvc {names['alice.phd']} --type merge -p '{patch}'  # alice.phd",
            f"kubectl -n jupyterhub patch pvc {names['dave@both']} --type merge -p '{patch}'  # dave@both",
        ]
    )
    assert names["alice.phd"] != "claim-alice.phd"  # the escaped name, found through the annotation
    (kept,) = larger
    bob = names["bob.student"]
    assert kept.startswith(f"{bob} (bob.student) is {default}, above its 5Gi: kept, volumes cannot shrink")


def test_the_home_storage_class_allows_expansion(plan: Inventory) -> None:
    """A claim's request can grow only if its StorageClass says so (else the API server refuses the patch)."""
    (storage_class,) = plan.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage_class.inputs["allowVolumeExpansion"] is True
    assert storage_class.inputs["metadata"]["name"] == spawner_config(plan).KubeSpawner.storage_class


def _group(name: str, users: list[str]) -> dict[str, Any]:
    return {"kind": "group", "name": name, "users": users, "roles": [], "properties": {}}


def test_a_cut_group_listing_is_refused_not_read_as_every_group(plans: dict[str, Inventory]) -> None:
    """JupyterHub 5.5.0 lists 50 groups unless asked for more (api_page_default_limit), and without the pagination
    media type the cut list looks whole: alice's department group past the first page would size her home as a
    non-member's, and it would never grow."""
    from jupyterhub.app import JupyterHub

    from maintenance.grow_homes import HUB_DEFAULT_PAGE, GroupListingIncompleteError, hub_groups

    assert JupyterHub.api_page_default_limit.default_value == HUB_DEFAULT_PAGE
    teams = [_group(f"team-{i:03}", []) for i in range(60)]
    department_group = _group("data-science", ["alice.phd"])
    every = [*teams, department_group]
    first_page = every[:HUB_DEFAULT_PAGE]
    with pytest.raises(GroupListingIncompleteError, match="first page of 50"):
        hub_groups([first_page])
    pages = [
        {"items": every[i : i + 50], "_pagination": {"offset": i, "limit": 50, "total": len(every), "next": None}}
        for i in range(0, len(every), 50)
    ]
    with pytest.raises(GroupListingIncompleteError, match="50 of the hub's 61 groups given"):
        hub_groups(pages[:1])
    assert {g["name"] for g in hub_groups(pages)} == {g["name"] for g in every}
    # A short plain list is every group (the hub's default page was not filled).
    assert hub_groups([[department_group]]) == [department_group]
    # Without read:groups the hub leaves `users` out of each group (its access map): refused, not read as empty.
    with pytest.raises(GroupListingIncompleteError, match="read:groups"):
        hub_groups([[{"kind": "group", "name": "data-science"}]])


def test_the_runbook_fetches_the_paged_group_listing() -> None:
    from pathlib import Path

    from maintenance.grow_homes import PAGINATION_HEADER

    runbook = (Path(__file__).parent.parent / "docs" / "storage.md").read_text()
    assert f'-H "{PAGINATION_HEADER}"' in runbook and "/hub/api/groups?limit=200" in runbook
