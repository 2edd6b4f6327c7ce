"""`pulumi destroy`, then `pulumi up` again: log groups AWS re-creates after the destroy.

Modelled on what happens (terraform-aws-eks#2446, #2763): EKS's service-linked role re-creates
/aws/eks/<cluster>/cluster from buffered control-plane logs, the CloudWatch agents their
/aws/containerinsights/<cluster>/* groups, without key or retention. CreateLogGroup on an existing
name fails (ResourceAlreadyExistsException); a group declared with `import` is adopted and then
updated to the declared key and retention (Pulumi's eventual-state import, 3.174+)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline_plan.mock_engine import Inventory
from tests.conftest import ROOT, run_plan

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


class ResourceAlreadyExistsError(Exception):
    pass


def up(plan: Inventory, existing: set[str]) -> dict[str, dict[str, Any]]:
    """The log groups after `pulumi up`, as CloudWatch Logs and the engine produce them."""
    groups = {name: {"kmsKeyId": None, "retentionInDays": None} for name in existing}
    for resource in plan.of_type(LOG_GROUP):
        name = resource.inputs["name"]
        if name in groups and resource.import_id != name:
            raise ResourceAlreadyExistsError(name)
        if name not in groups and resource.import_id:
            raise AssertionError(f"import of {name}, which does not exist, fails the preview")
        groups[name] = {k: resource.inputs.get(k) for k in ("kmsKeyId", "retentionInDays")}
    return groups


def _plan(tmp_path: Path, stack: str, existing: list[str]) -> Inventory:
    out = tmp_path / f"{stack}.json"
    extra = [arg for name in existing for arg in ("--existing-log-group", name)]
    result = run_plan(stack, out, None, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return Inventory.from_json(json.loads(out.read_text()))


def test_a_first_deploy_imports_nothing(plan: Inventory) -> None:
    up(plan, set())
    assert not any(r.import_id for r in plan.resources)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_up_after_destroy_adopts_the_re_created_groups_and_encrypts_them(tmp_path: Path, stack: str) -> None:
    cluster = f"jhub-{stack}"
    recreated = [
        f"/aws/eks/{cluster}/cluster",
        f"/aws/containerinsights/{cluster}/application",
        f"/aws/containerinsights/{cluster}/performance",
    ]
    plan = _plan(tmp_path, stack, recreated)
    groups = up(plan, set(recreated))  # no ResourceAlreadyExistsException
    for name in recreated:
        assert groups[name]["kmsKeyId"], f"{name} stays unencrypted"
        assert groups[name]["retentionInDays"], f"{name} never expires"


def test_audit_logs_outlive_a_destroyed_prod_cluster(plans: dict[str, Inventory]) -> None:
    for stack, retained in (("dev", False), ("prod", True)):
        group = plans[stack].one(LOG_GROUP, "control-plane-logs")
        assert group.retain_on_delete is retained


def test_the_project_requires_a_cli_with_eventual_state_import() -> None:
    required = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["requiredPulumiVersion"]
    match = re.fullmatch(r">=(\d+)\.(\d+)\.(\d+)", required)
    assert match and tuple(map(int, match.groups())) >= (3, 174, 0)


def test_ci_runs_a_cli_the_project_accepts() -> None:
    """Older CLIs ignore requiredPulumiVersion; CI pins its CLI, so the pin is what is checked."""
    pins = [
        tuple(map(int, version.split(".")))
        for workflow in (ROOT / ".github" / "workflows").glob("*.yml")
        for version in re.findall(r"pulumi-version:\s*([0-9.]+)", workflow.read_text())
    ]
    assert pins, "no workflow pins the Pulumi CLI"
    assert all(pin >= (3, 219, 0) for pin in pins)
