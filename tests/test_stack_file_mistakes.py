"""The mistakes a platform engineer makes editing a stack file by hand, run through `./plan` as they would:
each stops the plan with exit 2 and one message per problem naming the key and the fix, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline_plan.mock_engine import Inventory, secrets_not_in_stack_file
from tests.conftest import ROOT, run_plan

Edit = Callable[[str], str]


def _set(path: str, value: Any) -> Edit:
    """An edit of the stack file that sets `jhub-eks:<section>.<key>...` (a part may be a list index)."""

    def edit(text: str) -> str:
        document = yaml.safe_load(text)
        section, *rest = path.split(".")
        keys: list[Any] = [f"jhub-eks:{section}", *[int(k) if k.isdigit() else k for k in rest]]
        node = document["config"]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        return yaml.safe_dump(document, sort_keys=False)

    return edit


# name -> (the edit of dev's stack file, what the one message must say)
MISTAKES: dict[str, tuple[Edit, str]] = {
    # `jhub-eks:cluster:` with its block deleted (or commented out): the plan crashed in a JSONDecodeError.
    "section-left-empty": (_set("cluster", None), "jhub-eks:cluster: has no value; give it its settings"),
    # The Pulumi CLI refuses a key written twice (yaml.v3: "mapping key ... already defined"); PyYAML kept the
    # last one and planned prod's checks on a dev stack.
    "key-written-twice": (
        lambda text: text.replace(
            "  jhub-eks:environment: dev\n", "  jhub-eks:environment: dev\n  jhub-eks:environment: prod\n"
        ),
        "mapping key 'jhub-eks:environment' already defined at line",
    ),
    "nested-key-written-twice": (
        lambda text: text.replace("    vpcCidr: 10.40.0.0/16\n", "    vpcCidr: 10.40.0.0/16\n" * 2),
        "mapping key 'vpcCidr' already defined at line",
    ),
    # YAML reads `yes:` as the key true: the plan crashed on `":" in key`.
    "key-that-is-not-text": (
        lambda text: text.replace("config:\n", "config:\n  yes: abc\n"),
        "config key True is not a setting's name; keys are <namespace>:<key>",
    ),
    "region-typo": (
        lambda text: text.replace("aws:region: eu-west-1", "aws:region: eu-wst-1"),
        "aws:region: 'eu-wst-1' is not an AWS region (did you mean eu-west-1",
    ),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_stack_file_mistake_stops_the_plan_with_one_message(name: str, tmp_path: Path) -> None:
    edit, expected = MISTAKES[name]
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(edit((ROOT / "stacks" / "Pulumi.dev.yaml").read_text()))
    result = run_plan("dev", tmp_path / "plan.json", stack_file)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    problems = [
        line
        for line in result.stderr.splitlines()
        if line not in ("error: invalid stack settings:",) and not line.startswith("(0 resources")
    ]
    assert len(problems) == 1, problems


def test_the_plan_names_the_required_secrets_the_stack_file_does_not_hold(tmp_path: Path) -> None:
    """`./plan` runs with placeholders for the secrets; the first real `pulumi up` stops on each one not set. The
    plan's summary says which, so exit 0 does not read as "ready to deploy"."""
    result = run_plan("dev", tmp_path / "plan.json")
    assert result.returncode == 0, result.stderr
    summary = result.stdout[result.stdout.index("Summary of 'dev'") :]
    assert "secrets not in the stack file: oauthClientId, oauthClientSecret" in " ".join(summary.split())

    stack_file = tmp_path / "Pulumi.dev.yaml"
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"]["jhub-eks:oauthClientId"] = {"secure": "v1:AAAA"}  # what `pulumi config set --secret` writes
    stack_file.write_text(yaml.safe_dump(document))
    assert secrets_not_in_stack_file("dev", stack_file) == ["oauthClientSecret"]


def test_the_plan_header_and_summary_count_the_same_resources(plans: dict[str, Inventory]) -> None:
    """A reader compares the first line with the summary: they count the same resources (the header counted
    pulumi-eks's and the Dask chart's components too: 176 against 175 for dev, 281 against 279 for prod)."""
    from offline_plan.plan import render

    for stack, inventory in plans.items():
        header = int(render(inventory).splitlines()[0].split(": ")[1].split()[0])
        declared = [r for r in inventory.resources if r.custom and r.type != "pulumi:pulumi:Stack"]
        assert header == len(declared), stack
