"""The gate and the promotion (maintenance/promote.py): the push fails on a fixable finding at the policy's
threshold; an expired exception fails; a pin is written only for a digest with a passed gate record, keeping
every comment of the stack file; prod copies dev's digest."""

from __future__ import annotations

import datetime
import difflib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from maintenance import promote
from offline_plan.mock_engine import load_stack_config
from settings import parse_settings
from tests.conftest import ROOT

TODAY = datetime.date(2026, 12, 7)
DIGEST = "sha256:" + "ab" * 32
DEV_REPOSITORY = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/jhub-dev/jupyter-user"
PROD_REPOSITORY = "444455556666.dkr.ecr.eu-west-1.amazonaws.com/jhub-prod/jupyter-user"


def _finding(cve: str, severity: str, fixed: str | None) -> dict[str, Any]:
    return {
        "VulnerabilityID": cve,
        "PkgName": "openssl",
        "InstalledVersion": "3.0.1",
        "FixedVersion": fixed,
        "Severity": severity,
    }


def _report(*findings: dict[str, Any]) -> dict[str, Any]:
    return {"SchemaVersion": 2, "Results": [{"Target": "image (ubuntu 24.04)", "Vulnerabilities": list(findings)}]}


def _policy(tmp_path: Path, *exceptions: str) -> Path:
    path = tmp_path / "scan-policy.yaml"
    path.write_text("severityThreshold: HIGH\nexceptions:\n" + "".join(exceptions) + ("" if exceptions else "  []\n"))
    return path


EXCEPTION = "  - finding: CVE-2026-1111\n    reason: kernel-only reach\n    expires: 2027-01-31\n"
EXPIRED = "  - finding: CVE-2026-1111\n    reason: kernel-only reach\n    expires: 2026-12-01\n"


def test_the_repositorys_policy_loads() -> None:
    assert promote.load_policy().threshold == "HIGH"


def test_a_fixable_finding_at_the_threshold_blocks(tmp_path: Path) -> None:
    policy = promote.load_policy(_policy(tmp_path), TODAY)
    gate = promote.evaluate(_report(_finding("CVE-2026-1111", "HIGH", "3.0.2")), policy, "trivy 0.67.2")
    assert not gate["passed"] and [b["id"] for b in gate["blocking"]] == ["CVE-2026-1111"]


def test_below_the_threshold_or_without_a_fix_does_not_block(tmp_path: Path) -> None:
    policy = promote.load_policy(_policy(tmp_path), TODAY)
    gate = promote.evaluate(
        _report(_finding("CVE-1", "MEDIUM", "3.0.2"), _finding("CVE-2", "CRITICAL", None)), policy, "trivy 0.67.2"
    )
    assert gate["passed"] and gate["fixableBySeverity"]["MEDIUM"] == 1


def test_a_live_exception_accepts_the_finding(tmp_path: Path) -> None:
    policy = promote.load_policy(_policy(tmp_path, EXCEPTION), TODAY)
    gate = promote.evaluate(_report(_finding("CVE-2026-1111", "CRITICAL", "3.0.2")), policy, "trivy 0.67.2")
    assert gate["passed"] and gate["accepted"][0]["expires"] == "2027-01-31"


def test_an_expired_exception_fails_the_gate(tmp_path: Path) -> None:
    with pytest.raises(promote.PromotionError, match="expired on 2026-12-01"):
        promote.load_policy(_policy(tmp_path, EXPIRED), TODAY)


def test_an_exception_without_a_reason_is_refused(tmp_path: Path) -> None:
    with pytest.raises(promote.PromotionError, match="lacks \\['reason'\\]"):
        promote.load_policy(_policy(tmp_path, "  - finding: CVE-1\n    expires: 2027-01-31\n"), TODAY)


def test_the_gate_command_exits_1_on_a_blocking_finding(tmp_path: Path) -> None:
    report = tmp_path / "trivy.json"
    report.write_text(json.dumps(_report(_finding("CVE-9", "CRITICAL", "1.1"))))
    arguments = ["gate", "--report", str(report), "--policy", str(_policy(tmp_path)), "--scanner", "trivy 0.67.2"]
    assert promote.main([*arguments, "--out", str(tmp_path / "gate.json")]) == 1
    report.write_text(json.dumps(_report()))
    assert promote.main([*arguments, "--out", str(tmp_path / "gate.json")]) == 0


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copies of the stack files and an empty gate-record folder."""
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    monkeypatch.setattr(promote, "STACKS", tmp_path / "stacks")
    monkeypatch.setattr(promote, "GATES", tmp_path / "gates")
    return tmp_path


def _write_gate(tmp_path: Path, *, passed: bool = True, accepted_until: str | None = None) -> None:
    gate = promote.evaluate(_report(), promote.load_policy(_policy(tmp_path), TODAY), "trivy 0.67.2")
    gate["passed"] = passed
    gate["blocking"] = [] if passed else [{"id": "CVE-9"}]
    if accepted_until:
        gate["accepted"] = [{"id": "CVE-2026-1111", "expires": accepted_until, "reason": "r"}]
    written = promote.record(
        gate,
        environment="datascience",
        digest=DIGEST,
        built="2026-12-07",
        compressed_size=1_400_000_000,
        run="https://ci/1",
    )
    path = promote.gate_path("datascience", DIGEST)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(written))


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def test_a_digest_without_a_gate_record_is_refused(workspace: Path) -> None:
    before = (workspace / "stacks/Pulumi.dev.yaml").read_text()
    with pytest.raises(promote.PromotionError, match="no gate record"):
        promote.promote(
            "dev", "datascience", f"{DEV_REPOSITORY}@{DIGEST}", source="ci", today=TODAY, stacks=promote.STACKS
        )
    assert (workspace / "stacks/Pulumi.dev.yaml").read_text() == before


def test_a_failed_gate_is_refused(workspace: Path) -> None:
    _write_gate(workspace, passed=False)
    with pytest.raises(promote.PromotionError, match="the gate failed"):
        promote.promote(
            "dev", "datascience", f"{DEV_REPOSITORY}@{DIGEST}", source="ci", today=TODAY, stacks=promote.STACKS
        )


def test_an_acceptance_that_expired_since_the_scan_is_refused(workspace: Path) -> None:
    _write_gate(workspace, accepted_until="2026-12-06")
    with pytest.raises(promote.PromotionError, match="which has passed"):
        promote.promote(
            "dev", "datascience", f"{DEV_REPOSITORY}@{DIGEST}", source="ci", today=TODAY, stacks=promote.STACKS
        )


def test_a_tag_is_not_promoted(workspace: Path) -> None:
    with pytest.raises(promote.PromotionError, match="by digest"):
        promote.promote(
            "dev", "datascience", f"{DEV_REPOSITORY}:2026.12.1", source="ci", today=TODAY, stacks=promote.STACKS
        )


def test_the_pin_is_rewritten_keeping_every_comment(workspace: Path) -> None:
    stack_file = workspace / "stacks/Pulumi.prod.yaml"
    before = stack_file.read_text()
    _write_gate(workspace)
    promote.promote(
        "prod", "datascience", f"{PROD_REPOSITORY}@{DIGEST}", source="ci", today=TODAY, stacks=promote.STACKS
    )
    after = stack_file.read_text()
    assert _comments(after) == _comments(before)
    config, secret_keys = load_stack_config("prod", stack_file)
    settings = parse_settings("prod", config, frozenset(secret_keys))
    pin = settings.environments["datascience"]
    assert (pin.repository, pin.digest, pin.compressed_size_bytes) == (PROD_REPOSITORY, DIGEST, 1_400_000_000)
    assert pin.scan and "passed" in pin.scan
    # Only the pin's lines changed: the rest of the file is as it was, layout included.
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm="")]
    changed = [line for line in changed if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed and all(
        line[1:].startswith(
            ("      image:", "      built:", "      compressedSizeBytes:", "      scan:", "      source:")
        )
        for line in changed
    ), changed


def test_prod_copies_devs_digest(workspace: Path) -> None:
    _write_gate(workspace)
    promote.promote("dev", "datascience", f"{DEV_REPOSITORY}@{DIGEST}", source="ci", today=TODAY, stacks=promote.STACKS)
    arguments = ["pin", "--stack", "prod", "--environment", "datascience", "--from-stack", "dev"]
    assert promote.main([*arguments, "--repository", PROD_REPOSITORY]) == 0
    assert promote.current_pin("prod", "datascience")["image"] == f"{PROD_REPOSITORY}@{DIGEST}"
    assert promote.current_pin("dev", "datascience")["image"] == f"{DEV_REPOSITORY}@{DIGEST}"


def test_check_prints_the_pinned_digest_only_once_it_passed(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert promote.main(["check", "--stack", "dev", "--environment", "datascience"]) == 2  # public pin, no record
    _write_gate(workspace)
    promote.promote("dev", "datascience", f"{DEV_REPOSITORY}@{DIGEST}", source="ci", today=TODAY, stacks=promote.STACKS)
    capsys.readouterr()
    assert promote.main(["check", "--stack", "dev", "--environment", "datascience"]) == 0
    assert capsys.readouterr().out.strip() == f"{DEV_REPOSITORY}@{DIGEST}"
