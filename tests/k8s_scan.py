"""checkov's Kubernetes rules over the Kubernetes objects the program declares (tests/test_scanner.py).

Every finding must be an exception in policies/checkov_exceptions.yaml, with the reason it is
accepted; an exception no stack needs any more is stale and fails too. checkov runs from its own
venv (.venv-checkov, maintenance/checkov.txt), once over all the documents it is given, offline
(`--skip-download`: no platform mappings, no external checks).

What is scanned: the plain objects (not the Helm releases: their objects are rendered by Helm
from the chart's templates, which are not available offline; their values are validated against
the chart's schema instead) and not the server-side-apply patches (partial objects of namespaces
the program does not own).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from offline_plan.mock_engine import ROOT, Inventory

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
EXCEPTIONS = ROOT / "policies" / "checkov_exceptions.yaml"
NOT_PLAIN_OBJECTS = ("kubernetes:helm.sh/", "pulumi:providers:")


class ScannerError(RuntimeError):
    """checkov is missing or failed (never read as 'no finding')."""


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str
    """`Kind.namespace.name`, as checkov names it."""
    source: str
    """Which document set it came from (a stack name)."""

    def line(self) -> str:
        return f"{self.source}: {self.check_id} {self.resource} ({self.check_name})"


@dataclass(frozen=True)
class ScanException:
    check_id: str
    resource: str
    reason: str

    def covers(self, finding: Finding) -> bool:
        """Same check, same resource; a resource ending in `*` names the objects one per zone (their names
        end in the zone, which depends on the stack's region)."""
        if self.resource.endswith("*"):
            return finding.check_id == self.check_id and finding.resource.startswith(self.resource[:-1])
        return finding.check_id == self.check_id and finding.resource == self.resource


def declared_objects(inventory: Inventory) -> list[dict[str, Any]]:
    """The whole Kubernetes objects the program declares itself (see the module docstring)."""
    objects = []
    for resource in inventory.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith(NOT_PLAIN_OBJECTS):
            continue
        if resource.type.endswith("Patch"):
            continue
        objects.append(resource.inputs)
    return objects


def scan(documents: dict[str, list[dict[str, Any]]]) -> tuple[list[Finding], int]:
    """checkov's failed checks over each named document set, and how many checks passed (so a
    caller can tell "no finding" from "nothing was checked")."""
    if not CHECKOV.exists():
        raise ScannerError(f"{CHECKOV} is missing: run ./test once (maintenance/venv.sh installs it)")
    with tempfile.TemporaryDirectory() as folder:
        for source, objects in documents.items():
            (Path(folder) / f"{source}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=True))
        command = [str(CHECKOV), "--directory", folder, "--framework", "kubernetes", "--output", "json"]
        command += ["--skip-download", "--quiet"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=folder)
    # Exit 1 means "failed checks"; anything else non-zero is checkov failing.
    if result.returncode not in (0, 1):
        raise ScannerError(f"checkov failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise ScannerError(f"checkov printed no JSON report:\n{result.stdout}\n{result.stderr}") from error
    if isinstance(report, list):  # one report per framework; only kubernetes was asked for
        (report,) = report
    summary = report.get("summary", {})
    if summary.get("parsing_errors"):
        raise ScannerError(f"checkov could not parse {summary['parsing_errors']} document(s):\n{result.stdout}")
    findings = [
        Finding(
            check_id=failed["check_id"],
            check_name=failed["check_name"],
            resource=failed["resource"],
            source=Path(failed["file_path"]).stem,
        )
        for failed in report.get("results", {}).get("failed_checks", [])
    ]
    return findings, int(summary.get("passed", 0))


def load_exceptions(path: Path = EXCEPTIONS) -> list[ScanException]:
    entries = yaml.safe_load(path.read_text()).get("exceptions") or []
    exceptions = []
    for entry in entries:
        if not str(entry.get("reason", "")).strip():
            raise ValueError(f"{path}: exception {entry} has no reason")
        exceptions.append(ScanException(entry["check"], entry["resource"], entry["reason"]))
    return exceptions


def unexplained(findings: list[Finding], exceptions: list[ScanException]) -> list[Finding]:
    return [f for f in findings if not any(e.covers(f) for e in exceptions)]


def stale(findings: list[Finding], exceptions: list[ScanException]) -> list[ScanException]:
    return [e for e in exceptions if not any(e.covers(f) for f in findings)]
