"""Grow existing homes to their group's size after `department.groups[].homeSize` was raised (docs/storage.md).

KubeSpawner 7.0.0 creates a home claim at the size of the user's groups, but leaves an existing claim alone (a
409 on create is "already exists", kubespawner/spawner.py `_make_create_pvc_request`), and the hub's role may
not patch claims. The storage class allows expansion (`allowVolumeExpansion`), so a patch of the claim's
request grows the EBS volume online. Volumes cannot shrink: a claim larger than its size is reported, never
patched (the API server refuses a smaller request).

    kubectl -n jupyterhub get pvc -l component=singleuser-storage -o json > claims.json
    curl -sH "Authorization: token $TOKEN" -H "Accept: application/jupyterhub-pagination+json" \
      "https://<domain>/hub/api/groups?limit=200" > groups.json
    python -m maintenance.grow_homes prod --claims claims.json --groups groups.json   # prints the commands

The hub's group list is paged (JupyterHub 5.5.0 `GroupListAPIHandler`: 50 groups unless `limit` asks for more,
at most `api_page_max_limit`, 200), and without the pagination media type a cut list looks whole: a member of a
department group past the first page would be sized as a non-member and never grown. The tool therefore reads
the paged form and refuses a listing that is not all of the hub's groups.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from offline_plan.mock_engine import load_stack_config
from settings import parse_settings
from settings.department import gibibytes

USERNAME_ANNOTATION = "hub.jupyter.org/username"  # KubeSpawner's, the hub's own user name (labels are escaped)
HUB_DEFAULT_PAGE = 50
"""JupyterHub 5.5.0's `api_page_default_limit`: a plain list of this many groups may be the first page only."""
PAGINATION_HEADER = "Accept: application/jupyterhub-pagination+json"


class GroupListingIncompleteError(Exception):
    """The group listing given is not every group of the hub."""


def hub_groups(documents: list[Any]) -> list[dict[str, Any]]:
    """Every group of the hub from the GET /hub/api/groups answers given: pages of the paginated form
    (`{"items", "_pagination": {"offset", "limit", "total", "next"}}`) or one plain list; refused when some
    groups are missing (a page not given, or a plain list as long as the hub's default page)."""
    groups: dict[str, dict[str, Any]] = {}
    total = None
    for document in documents:
        if isinstance(document, dict) and "_pagination" in document:
            total = document["_pagination"]["total"]
            items = document["items"]
        elif isinstance(document, list):
            if len(document) >= HUB_DEFAULT_PAGE:
                raise GroupListingIncompleteError(
                    f"--groups: a plain list of {len(document)} groups may be only the hub's first page of "
                    f"{HUB_DEFAULT_PAGE}; fetch the paged form with -H '{PAGINATION_HEADER}' and ?limit=200"
                )
            items = document
        else:
            raise GroupListingIncompleteError(
                "--groups: not an answer of GET /hub/api/groups (a list or a page of groups)"
            )
        for group in items:
            if "users" not in group:
                raise GroupListingIncompleteError(
                    f"--groups: group {group.get('name')!r} lists no users; the token needs the read:groups scope "
                    "(an admin's token from https://<domain>/hub/token has it)"
                )
            groups[group["name"]] = group
    if total is not None and len(groups) < total:
        raise GroupListingIncompleteError(
            f"--groups: {len(groups)} of the hub's {total} groups given; fetch the next page (?limit=200&offset="
            f"{len(groups)}) and pass each page with its own --groups"
        )
    return list(groups.values())


def _gib(size: str) -> float:
    units = {"Mi": 1 / 1024, "Gi": 1, "Ti": 1024}
    return float(size[:-2]) * units[size[-2:]] if size[-2:] in units else gibibytes(size)


def plan_growth(
    claims: dict[str, Any], groups: list[dict[str, Any]], home_size: Any, namespace: str
) -> tuple[list[str], list[str]]:
    """(kubectl commands that grow the homes below their size, a line for each home larger than its size)."""
    groups_of: dict[str, set[str]] = {}
    for group in groups:
        for user in group.get("users", []):
            groups_of.setdefault(user, set()).add(group["name"])
    commands, larger = [], []
    for item in sorted(claims.get("items", []), key=lambda i: i["metadata"]["name"]):
        name = item["metadata"]["name"]
        user = (item["metadata"].get("annotations") or {}).get(USERNAME_ANNOTATION)
        if user is None:
            continue
        current = item["spec"]["resources"]["requests"]["storage"]
        wanted = home_size(groups_of.get(user, set()))
        if _gib(current) < _gib(wanted):
            patch = json.dumps({"spec": {"resources": {"requests": {"storage": wanted}}}}, separators=(",", ":"))
            commands.append(f"kubectl -n {namespace} patch pvc {name} --type merge -p {shlex.quote(patch)}  # {user}")
        elif _gib(current) > _gib(wanted):
            larger.append(
                f"{name} ({user}) is {current}, above its {wanted}: kept, volumes cannot shrink (to free the space, "
                "copy the home to a new claim: docs/storage.md)"
            )
    return commands, larger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack")
    claims_help = "kubectl get pvc -l component=singleuser-storage -o json"
    parser.add_argument("--claims", type=Path, required=True, help=claims_help)
    parser.add_argument(
        "--groups",
        type=Path,
        required=True,
        action="append",
        help=f"the hub's GET /hub/api/groups?limit=200 with -H '{PAGINATION_HEADER}' (repeat for each page)",
    )
    args = parser.parse_args(argv)
    config, secret_keys = load_stack_config(args.stack)
    settings = parse_settings(args.stack, config, frozenset(secret_keys))
    hub = settings.jupyterhub
    try:
        groups = hub_groups([json.loads(path.read_text()) for path in args.groups])
    except GroupListingIncompleteError as error:
        print(error, file=sys.stderr)
        return 2
    commands, larger = plan_growth(
        json.loads(args.claims.read_text()),
        groups,
        lambda groups: settings.department.home_size(groups, hub.user_servers.storage_capacity),
        hub.namespace,
    )
    for line in larger:
        print(f"# {line}", file=sys.stderr)
    print("\n".join(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
