"""Run the real program once per stack file under Pulumi mocks (in a subprocess, through the same
command a reviewer uses: `./plan <stack>`), and hand the recorded inventory to the tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.harness import Inventory  # noqa: E402

STACK_NAMES = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
)


def key_arn(plan: Inventory, purpose: str) -> str:
    """ARN of the stack's KMS key whose name contains `purpose` (as the provider returned it)."""
    return plan.one("aws:kms/key:Key", purpose).arn


def run_plan(stack: str, out: Path, stack_file: Path | None = None, *extra: str) -> subprocess.CompletedProcess[str]:
    # The analyzer runs where reachability is tested (tests/test_reachability.py), not in every plan.
    command = [sys.executable, "-m", "tools.plan", stack, "--out", str(out), "--quiet", "--no-reachability", *extra]
    if stack_file is not None:
        command += ["--stack-file", str(stack_file)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Inventory]:
    """Inventory of every stack in stacks/ (run in parallel: each is its own process)."""
    folder = tmp_path_factory.mktemp("plans")
    processes = {
        stack: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.plan",
                stack,
                "--out",
                str(folder / f"{stack}.json"),
                "--quiet",
                "--no-reachability",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stack in STACK_NAMES
    }
    inventories = {}
    for stack, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, f"plan of {stack} failed:\n{stdout}\n{stderr}"
        inventories[stack] = Inventory.from_json(json.loads((folder / f"{stack}.json").read_text()))
    return inventories


@pytest.fixture(params=STACK_NAMES)
def plan(request: pytest.FixtureRequest, plans: dict[str, Inventory]) -> Inventory:
    """One stack's inventory; tests using it run for every stack file."""
    return plans[request.param]
