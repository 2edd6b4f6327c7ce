"""The offline plan command, as a reviewer runs it."""

from __future__ import annotations

from pathlib import Path

from offline_plan.mock_engine import Inventory
from tests.conftest import ROOT, STACK_NAMES, run_plan


def test_bad_settings_stop_the_plan_with_one_message_and_nothing_declared(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = run_plan("prod", out, ROOT / "tests" / "fixtures" / "stacks" / "Pulumi.prod-open-api.yaml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "jhub-eks:cluster.publicAccessCidrs: 0.0.0.0/0 opens the prod API endpoint to the world" in result.stderr
    assert "jhub-eks:network.availabilityZones: prod needs 3 AZs" in result.stderr
    assert "(0 resources were declared before the error)" in result.stderr
    assert not out.exists()


def test_plan_groups_resources_by_component_and_redacts_secrets(plans: dict[str, Inventory]) -> None:
    from offline_plan.plan import render

    for stack, inventory in plans.items():
        text = render(inventory)
        for component in ("jhub:aws:Network", "jhub:aws:Encryption", "jhub:aws:Cluster", "jhub:aws:NodeGroups"):
            assert f"== {component} jhub-{stack}" in text
        assert "offline-placeholder" not in text
        assert "kubeconfig (secret)" in text
        every_resource_has_a_parent = all(r.parent for r in inventory.resources if r.type != "pulumi:pulumi:Stack")
        assert every_resource_has_a_parent


def test_an_unknown_stack_is_named_with_the_stacks_that_exist(tmp_path: Path) -> None:
    result = run_plan("stagin", tmp_path / "plan.json")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert f"error: no stack named 'stagin': the stacks are {', '.join(STACK_NAMES)}" in result.stderr


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    lines = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text().splitlines()
    broken_line = next(i for i, line in enumerate(lines) if line.strip().startswith("vpcCidr:"))
    lines[broken_line] += ": 10.41.0.0/16"  # a second `: ` on one line: "mapping values are not allowed here"
    stack_file.write_text("\n".join(lines) + "\n")
    result = run_plan("dev", tmp_path / "plan.json", stack_file)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    column = len(lines[broken_line]) - len(": 10.41.0.0/16") + 1
    assert f"error: {stack_file}:{broken_line + 1}:{column}:" in result.stderr
    assert "the stack file is not valid YAML" in result.stderr


def test_two_runs_of_one_plan_leave_byte_identical_artifacts(tmp_path: Path) -> None:
    """A diff of build/ between two commits shows what changed, not the engine's registration order."""
    import subprocess
    import sys

    runs = [tmp_path / "first", tmp_path / "second"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "offline_plan.plan", "prod", "--quiet", "--out", str(run / "plan-prod.json")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run in runs
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    first, second = ({p.name: p.read_bytes() for p in run.iterdir()} for run in runs)
    assert sorted(first) == sorted(second)
    assert {"plan-prod.json", "cost-prod.json", "reachability-prod.txt"} <= set(first)
    assert [name for name in first if first[name] != second[name]] == []


def test_every_run_ends_with_a_one_screen_summary_that_fits_a_terminal(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    out = tmp_path / "plan-dev.json"
    result = subprocess.run(
        [sys.executable, "-m", "offline_plan.plan", "dev", "--out", str(out), "--no-reachability"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JHUB_EKS_PLAN_WIDTH": "100"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Wider lines are only single words longer than the line (an OIDC provider ARN), which are never cut.
    too_wide = [line for line in result.stdout.splitlines() if len(line) > 100 and len(line.split()) > 1]
    assert too_wide == []
    summary = result.stdout[result.stdout.index("Summary of 'dev' (eu-west-1):") :].splitlines()
    assert len(summary) <= 24
    text = "\n".join(summary)
    for part in ("resources: ", "JupyterHub ", "monthly cost: ", "may log in: ", "checklist: ", "artifacts: "):
        assert part in text
    assert str(out.relative_to(tmp_path)) in text or str(out) in text


def test_a_long_line_is_wrapped_under_its_indent_and_no_label_is_cut() -> None:
    from offline_plan.plan import fit_to_terminal

    label = "arn:aws:iam::123456789012:role/a-very-long-role-name-that-is-one-word-and-never-split"
    line = "      trust " + " ".join(["[Allow sts:AssumeRole]"] * 6) + " " + label
    fitted = fit_to_terminal(line, 60).splitlines()
    assert len(fitted) > 1
    assert all(f.startswith("      ") for f in fitted) and all(f.startswith("          ") for f in fitted[1:])
    assert label in fitted[-1].split()
    assert " ".join(f.strip() for f in fitted) == line.strip()
