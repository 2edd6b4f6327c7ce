"""The environments workflow builds each changed environment, not all of them (issue 23: "builds each changed
environment"): its `changes` job diffs the commits and `maintenance.environments changed` picks the environments.
A rebuild of an unchanged environment is not a no-op: it pushes another digest of the same content (the build
records its time) and opens a pin pull request for review and promotion that no one asked for.

The step's own script (read from the workflow file) runs here in a throwaway git repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from maintenance.environments import environments_to_build

ROOT = Path(__file__).resolve().parents[1]
BOTH = ["datascience", "pytorch-gpu"]


@pytest.mark.parametrize(
    ("changed", "built"),
    [
        (["environments/datascience/requirements.txt"], ["datascience"]),
        (["environments/pytorch-gpu/Dockerfile", "README.md"], ["pytorch-gpu"]),
        (["environments/datascience/requirements.in", "environments/pytorch-gpu/requirements.txt"], BOTH),
        (["environments/scan-policy.yaml"], BOTH),  # every gate
        (["environments/build.sh"], BOTH),
        (["maintenance/environments.py"], BOTH),  # the contract
        (["environments/gates/datascience/sha256-" + "ab" * 32 + ".json", "stacks/Pulumi.dev.yaml"], []),  # a pin
        (["environments/README.md"], []),
    ],
)
def test_a_change_builds_the_environments_it_touches(changed: list[str], built: list[str]) -> None:
    assert environments_to_build(changed) == built


def _git(repo: Path, *args: str) -> str:
    environment = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    environment |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=environment)
    return done.stdout.strip()


def _select_step() -> str:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "environments.yml").read_text())
    [step] = [s for s in workflow["jobs"]["changes"]["steps"] if s.get("id") == "select"]
    return str(step["run"])


def _run_select(repo: Path, base: str, head: str) -> list[str]:
    output = repo.parent / "github-output"
    output.write_text("")
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),  # the module and the environments it knows, from this checkout
        "BASE": base,
        "GITHUB_SHA": head,
        "GITHUB_OUTPUT": str(output),
    }
    done = subprocess.run(
        ["bash", "-e", "-c", _select_step()], cwd=repo, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    [line] = [line for line in output.read_text().splitlines() if line.startswith("environments=")]
    selected: list[str] = json.loads(line.split("=", 1)[1])
    return selected


def test_the_workflow_step_selects_from_the_diff(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "maintenance").mkdir(parents=True)
    # The step's `source maintenance/venv.sh dev`, here pointing at the interpreter running the tests.
    (repo / "maintenance" / "venv.sh").write_text(f'VENV="{Path(sys.executable).parent.parent}"\n')
    (repo / "environments" / "datascience").mkdir(parents=True)
    (repo / "environments" / "datascience" / "requirements.txt").write_text("a==1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "environments" / "datascience" / "requirements.txt").write_text("a==2\n")
    _git(repo, "commit", "-q", "-am", "change datascience")
    head = _git(repo, "rev-parse", "HEAD")
    assert _run_select(repo, base, head) == ["datascience"]
    # No commit to compare with (github.event.before of a new branch is all zeros): everything is built.
    assert _run_select(repo, "0" * 40, head) == BOTH
