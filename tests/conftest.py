"""Run the real program once per stack file under Pulumi mocks (in a subprocess, through the same
command a reviewer uses: `./plan <stack>`), and hand the recorded inventory to the tests."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The plans these tests run print one line per line of content, not wrapped to a terminal's width
# (tests/test_plan_command.py checks the wrapping with a width of its own).
os.environ["JHUB_EKS_PLAN_WIDTH"] = "0"

from offline_plan.mock_engine import Inventory  # noqa: E402

STACK_NAMES = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
)


def stack_config(plan: Inventory) -> dict[str, Any]:
    """The `config:` of the stack file the plan was made from."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{plan.stack}.yaml").read_text())["config"]
    return config


def region_of(plan: Inventory) -> str:
    """The stack's region (a plan of any stack file, not only eu-west-1's)."""
    return str(stack_config(plan)["aws:region"])


def key_arn(plan: Inventory, purpose: str) -> str:
    """ARN of the stack's KMS key whose name contains `purpose` (as the provider returned it)."""
    return plan.one("aws:kms/key:Key", purpose).arn


def run_plan(stack: str, out: Path, stack_file: Path | None = None, *extra: str) -> subprocess.CompletedProcess[str]:
    # The analyzer runs where reachability is tested (tests/test_reachability.py), not in every plan.
    command = [
        sys.executable,
        "-m",
        "offline_plan.plan",
        stack,
        "--out",
        str(out),
        "--quiet",
        "--no-reachability",
        *extra,
    ]
    if stack_file is not None:
        command += ["--stack-file", str(stack_file)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def _plan_in_parallel(folder: Path, jobs: dict[str, tuple[str, Path | None, int]]) -> dict[str, Inventory]:
    """Plan each job (name: stack, stack file or None, expected exit code) in its own process."""
    processes = {}
    for name, (stack, stack_file, _) in jobs.items():
        command = [sys.executable, "-m", "offline_plan.plan", stack, "--out", str(folder / f"{name}.json"), "--quiet"]
        command += ["--no-reachability"] + (["--stack-file", str(stack_file)] if stack_file else [])
        processes[name] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    inventories = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == jobs[name][2], f"plan of {name} exited {process.returncode}:\n{stdout}\n{stderr}"
        inventories[name] = Inventory.from_json(json.loads((folder / f"{name}.json").read_text()))
    return inventories


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Inventory]:
    """Inventory of every stack in stacks/ (run in parallel: each is its own process)."""
    return _plan_in_parallel(tmp_path_factory.mktemp("plans"), {stack: (stack, None, 0) for stack in STACK_NAMES})


# dev's hub settings in each HTTPS mode (the stack files use one each).
HTTPS_MODES: dict[str, dict[str, Any]] = {
    "letsencrypt": {
        "https": {"mode": "letsencrypt", "contactEmail": "ops@example.org"},
        "dns": None,
        "loadBalancerSourceRanges": ["0.0.0.0/0"],
    },
    "secret": {"https": {"mode": "secret", "secretName": "hub-tls"}, "dns": None},
    "none": {"https": {"mode": "none"}, "dns": None},
}


def https_mode_stack_file(mode: str, folder: Path) -> Path:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    hub = {**document["config"]["jhub-eks:jupyterhub"], **HTTPS_MODES[mode]}
    document["config"]["jhub-eks:jupyterhub"] = {k: v for k, v in hub.items() if v is not None}
    stack_file = folder / f"Pulumi.dev-https-{mode}.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    return stack_file


@pytest.fixture(scope="session")
def variant_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Inventory]:
    """dev in each HTTPS mode (`https-<mode>`) and under the incident lockdown (`lockdown`).
    Plain HTTP plans, and fails the checklist's HTTPS item (exit 3) as it should."""
    folder = tmp_path_factory.mktemp("variants")
    jobs: dict[str, tuple[str, Path | None, int]] = {
        f"https-{mode}": ("dev", https_mode_stack_file(mode, folder), 3 if mode == "none" else 0)
        for mode in HTTPS_MODES
    }
    jobs["lockdown"] = ("dev", ROOT / "tests" / "fixtures" / "stacks" / "Pulumi.dev-lockdown.yaml", 0)
    return _plan_in_parallel(folder, jobs)


@pytest.fixture(params=STACK_NAMES)
def plan(request: pytest.FixtureRequest, plans: dict[str, Inventory]) -> Inventory:
    """One stack's inventory; tests using it run for every stack file."""
    return plans[request.param]


# ---- The fast subset (./test --fast) ------------------------------------------------------------

# Tests that run a whole plan, a subprocess or an external checker; `./test --fast` (pytest -m "not slow")
# leaves them out for the edit-test loop. CI runs everything. A test is slow when it takes a plan
# fixture, or its module runs the program (the mock engine's run, ./plan), a subprocess, the IAM
# evaluator (node) or the Helm SDK.
SLOW_FIXTURES = {"plan", "plans"}
SLOW_SOURCE = re.compile(
    r"\brun_plan\(|\bsubprocess\b|mock_engine import [^\n]*\brun\b|harness\.run\(|\biam_eval\b"
    r"|\bimport charts\b|\bcharts\.render\b|\bpatterns import\b"
)


@functools.cache
def _runs_something_slow(path: str) -> bool:
    return bool(SLOW_SOURCE.search(Path(path).read_text()))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs a plan, a subprocess or an external checker (not in ./test --fast)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or _runs_something_slow(str(item.path)):
            item.add_marker(pytest.mark.slow)
