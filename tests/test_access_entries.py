"""Cluster access entries under EKS's real rule: the identity that creates a cluster gets an access
entry of its own (pulumi-eks always sets bootstrapClusterCreatorAdminPermissions), and CreateAccessEntry
for a principal that already has one fails with ResourceInUseException.

Each scenario runs the program as a given caller (`./plan --caller`), against a cluster that does not
exist yet or exists with the creator recorded (`--existing-cluster`), and replays what EKS would do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster import CREATOR_TAG, principal_of, same_principal
from offline_plan.mock_engine import DEFAULT_CALLER_ROLE, Inventory
from tests.conftest import ROOT, run_plan


class ResourceInUseError(Exception):
    """EKS: "The specified access entry resource is already in use on this cluster"."""


def eks_entries_after_up(plan: Inventory, existing_entries: list[str] | None) -> list[str]:
    """The cluster's access entries after `pulumi up`, as EKS builds them: on creation one for the
    creator (bootstrapClusterCreatorAdminPermissions, true in the synthesized aws:eks Cluster), then
    one per entry the program declares; a principal may hold one entry only."""
    eks_cluster = plan.one("aws:eks/cluster:Cluster")
    component = plan.one("eks:index:Cluster")
    if existing_entries is None:  # the cluster is created by this run
        assert eks_cluster.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is True
        entries = [principal_of(_caller(plan))]
    else:
        entries = list(existing_entries)
    for entry in component.inputs.get("accessEntries", {}).values():
        if any(same_principal(entry["principalArn"], held) for held in entries):
            raise ResourceInUseError(entry["principalArn"])
        entries.append(entry["principalArn"])
    return entries


_CALLERS: dict[str, str] = {}


def _caller(plan: Inventory) -> str:
    return _CALLERS[plan.stack]


def _plan(tmp_path: Path, stack: str, caller: str, existing: dict[str, str] | None = None) -> tuple[Inventory, str]:
    """The stack's inventory and the plan's output (warnings included) for this caller."""
    extra = ["--caller", caller]
    for name, creator in (existing or {}).items():
        extra += ["--existing-cluster", f"{name}={creator}"]
    out = tmp_path / f"{stack}-{len(list(tmp_path.iterdir()))}.json"
    result = run_plan(stack, out, None, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = Inventory.from_json(json.loads(out.read_text()))
    _CALLERS[inventory.stack] = caller
    return inventory, result.stdout + result.stderr


def _settings(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["jhub-eks:cluster"]


def _session(role_arn: str, session: str = "alice") -> str:
    """The ARN sts:GetCallerIdentity returns for a session of `role_arn` (no path in STS ARNs)."""
    account = role_arn.split(":")[4]
    return f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{session}"


def test_first_up_by_the_ci_role_declares_every_admin(plan: Inventory) -> None:
    """The stack plans run as the CI deploy role (the default caller), which is no admin."""
    ci_role = _settings(plan.stack)["adminRoleArns"][0].split(":role/")[0] + f":role/{DEFAULT_CALLER_ROLE}"
    _CALLERS[plan.stack] = _session(ci_role, "GitHubActions")
    entries = eks_entries_after_up(plan, None)
    admins = _settings(plan.stack)["adminRoleArns"]
    assert all(any(same_principal(a, e) for e in entries) for a in admins)
    tags = plan.one("aws:eks/cluster:Cluster").inputs["tags"]  # recorded for the runs after this one
    assert tags[CREATOR_TAG] == ci_role


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_first_up_by_an_admin_leaves_its_entry_to_eks(tmp_path: Path, stack: str) -> None:
    admin = _settings(stack)["adminRoleArns"][0]
    plan, output = _plan(tmp_path, stack, _session(admin))
    assert "(running this)" not in output, "an admin is warned about its own access"
    entries = eks_entries_after_up(plan, None)  # no ResourceInUseException
    assert sorted(entries) == sorted(_settings(stack)["adminRoleArns"])
    assert plan.one("aws:eks/cluster:Cluster").inputs["tags"][CREATOR_TAG] == admin


def test_a_later_up_by_another_admin_keeps_every_entry(tmp_path: Path) -> None:
    """prod was created by PlatformAdmin; BreakGlassAdmin runs the next `up`: the program must not
    drop BreakGlassAdmin's entry (nor re-declare PlatformAdmin's)."""
    creator, other = _settings("prod")["adminRoleArns"][:2]
    first, _ = _plan(tmp_path, "prod", _session(creator))
    after_first = eks_entries_after_up(first, None)
    later, _ = _plan(tmp_path, "prod", _session(other, "bob"), {"jhub-prod": creator})
    first_entries = first.one("eks:index:Cluster").inputs["accessEntries"]
    later_entries = later.one("eks:index:Cluster").inputs["accessEntries"]
    assert later_entries == first_entries, "the entries changed with the caller"
    # Replay on the cluster as the first up left it (program-declared entries already exist).
    assert sorted(after_first) == sorted(_settings("prod")["adminRoleArns"])
    assert later.one("aws:eks/cluster:Cluster").inputs["tags"][CREATOR_TAG] == creator


def test_role_path_does_not_hide_the_creator(tmp_path: Path) -> None:
    """STS ARNs carry no role path; the settings may. Same role name in the same account = same role."""
    assert same_principal("arn:aws:iam::444455556666:role/platform/PlatformAdmin", _session_role("PlatformAdmin"))
    assert not same_principal("arn:aws:iam::444455556666:role/PlatformAdmin", _session_role("PlatformAdminX"))
    assert not same_principal("arn:aws:iam::111122223333:role/PlatformAdmin", _session_role("PlatformAdmin"))


def _session_role(name: str) -> str:
    return principal_of(f"arn:aws:sts::444455556666:assumed-role/{name}/alice")


def test_a_caller_without_cluster_access_is_warned(tmp_path: Path) -> None:
    preview_role = "arn:aws:sts::444455556666:assumed-role/ci-jhub-eks-preview/GitHubActions"
    creator = _settings("prod")["adminRoleArns"][0]
    _, output = _plan(tmp_path, "prod", preview_role, {"jhub-prod": creator})
    assert "has no access entry on cluster jhub-prod" in output
    # prod's bucket answers only through the VPC endpoint: this caller could not even HeadBucket.
    assert "is not among the user bucket's managers" in output


# ---- An existing cluster moves one Kubernetes minor per update ------------------------------------


@pytest.mark.parametrize(
    ("running", "refused"),
    [
        ("1.33", "EKS upgrades one minor version per update; set 1.34 (and its autoscaler chart)"),
        ("1.34", None),
        ("1.35", None),
        ("1.36", "EKS cannot downgrade"),
    ],
)
def test_an_existing_cluster_is_upgraded_one_minor_at_a_time(tmp_path: Path, running: str, refused: str | None) -> None:
    """EKS's UpdateClusterVersion takes the next minor only (EKS user guide, "Update existing cluster
    to new Kubernetes version"); the plan stops before declaring anything, naming the step."""
    name = _settings("dev")["name"]
    out = tmp_path / "dev.json"
    creator = "arn:aws:iam::111122223333:role/PlatformAdmin"
    result = run_plan("dev", out, None, "--existing-cluster", f"{name}={creator}@{running}")
    if refused is None:
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode == 2, result.stdout + result.stderr
        assert "jhub-eks:cluster.kubernetesVersion: the cluster runs Kubernetes " + running in result.stderr
        assert refused in result.stderr
