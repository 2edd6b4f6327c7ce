"""The bootstrap stack's settings: a key nothing reads stops `pulumi up` with one message naming it and the
fix (a misspelt `guardDutty: false` deployed the detector it meant to skip), and so does a value of the wrong kind."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bootstrap.config_keys import KEYS
from tests.conftest import ROOT

SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from offline_plan import mock_engine as harness
try:
    harness.run("ci", harness.ROOT / "bootstrap" / "Pulumi.ci.yaml", program=harness.ROOT / "bootstrap" / "__main__.py",
                project="jhub-eks-bootstrap", config_override={config!r})
except harness.PlanError as error:
    print(error, file=sys.stderr)
    sys.exit(2)
"""


def run_bootstrap(config: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = SCRIPT.format(root=str(ROOT), config=config)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)


def test_the_keys_checked_are_the_keys_the_program_reads() -> None:
    source = (ROOT / "bootstrap" / "__main__.py").read_text()
    read = set(re.findall(r"config\.(?:get|require)\w*\(\"(\w+)\"\)", source))
    assert read == set(KEYS)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"jhub-eks-bootstrap:guardDutty": "false"},
            "jhub-eks-bootstrap:guardDutty: unknown setting; remove it or fix its spelling (did you mean "
            "jhub-eks-bootstrap:guardDuty?)",
        ),
        (
            {"aws:regoin": "eu-west-1"},
            "aws:regoin: unknown setting; remove it or fix its spelling (did you mean aws:region?)",
        ),
        ({"jhub-eks:costExport": "false"}, "jhub-eks:costExport: unknown namespace 'jhub-eks'"),
        # YAML 1.2 (the Pulumi CLI's) keeps `yes` as text, which get_bool refuses without saying what it takes.
        ({"jhub-eks-bootstrap:guardDuty": "yes"}, "jhub-eks-bootstrap:guardDuty: 'yes' is not a boolean; write true"),
        (
            {"jhub-eks-bootstrap:groupLabelTags": "group.jhub-eks/data-science"},
            "jhub-eks-bootstrap:groupLabelTags: 'group.jhub-eks/data-science' is not a list; write [a, b]",
        ),
    ],
)
def test_an_unread_key_or_a_wrong_value_stops_the_bootstrap(config: dict[str, str], expected: str) -> None:
    result = run_bootstrap(config)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert result.stderr.splitlines()[0] == "invalid bootstrap settings:"
    assert len(result.stderr.splitlines()) == 2


def test_the_committed_bootstrap_stack_file_passes() -> None:
    result = run_bootstrap({})
    assert result.returncode == 0, result.stderr
