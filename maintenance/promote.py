"""The vulnerability gate and the promotion of an environment's digest into a stack's pin.

    python -m maintenance.promote gate --report trivy.json --out gate.json
        Apply environments/scan-policy.yaml to a Trivy JSON report: exit 1 (the push does not happen) on
        a fixable finding at or above the policy's threshold that no live exception accepts, or on an
        expired exception. Writes the evaluation (counts, blocking and accepted findings, the policy's
        sha256) to --out.
    python -m maintenance.promote record --gate gate.json --environment NAME --digest sha256:... \\
            --built YYYY-MM-DD --compressed-size BYTES --run URL
        After the push: the gate record of that digest, environments/gates/NAME/sha256-<hex>.json,
        committed by the bot's pull request beside the pin it allows.
    python -m maintenance.promote check --stack dev --environment NAME
        Print the stack's pinned image by digest if that digest passed the gate (exit 2 otherwise).
    python -m maintenance.promote pin --stack dev --environment NAME --image REPOSITORY@sha256:...
    python -m maintenance.promote pin --stack prod --environment NAME --from-stack dev --repository URL
        Rewrite stacks/Pulumi.<stack>.yaml's jhub-eks:environments.NAME (ruamel's round trip: every
        comment stays), refused for a digest without a passed gate record, or whose record accepts a
        finding by an exception that has expired since. --from-stack copies that stack's digest (the
        image copied between registries by digest, never rebuilt).

A gate record is the promotion's evidence: which digest, which scanner and policy (by sha256), the
fixable findings by severity, what blocked (must be nothing) and what was accepted until when, the
build's date, compressed size and workflow run.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from settings import PROJECT

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "environments" / "scan-policy.yaml"
GATES = ROOT / "environments" / "gates"
STACKS = ROOT / "stacks"
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
IMAGE_BY_DIGEST = re.compile(
    r"^(?P<repository>[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+)(:[\w][\w.-]*)?@(?P<digest>sha256:[0-9a-f]{64})$"
)


class PromotionError(Exception):
    """One message: what is refused and how to fix it."""


@dataclass(frozen=True)
class AcceptedFinding:
    finding: str
    reason: str
    expires: datetime.date


@dataclass(frozen=True)
class Policy:
    threshold: str
    exceptions: tuple[AcceptedFinding, ...]
    sha256: str


def load_policy(path: Path = POLICY, today: datetime.date | None = None) -> Policy:
    """The policy file; an exception past its expiry refuses the policy (the finding must be fixed or the
    exception renewed with a new date, in review)."""
    today = today or datetime.date.today()
    text = path.read_text()
    document = yaml.safe_load(text)
    threshold = str(document["severityThreshold"]).upper()
    if threshold not in SEVERITIES:
        raise PromotionError(f"{path.name}: severityThreshold {threshold!r} is not one of {SEVERITIES}")
    exceptions = []
    for entry in document.get("exceptions") or []:
        missing = [k for k in ("finding", "reason", "expires") if not entry.get(k)]
        if missing:
            raise PromotionError(
                f"{path.name}: exception {entry.get('finding', '?')} lacks {missing}; every one names all three"
            )
        expires = (
            entry["expires"]
            if isinstance(entry["expires"], datetime.date)
            else datetime.date.fromisoformat(str(entry["expires"]))
        )
        if expires < today:
            raise PromotionError(
                f"{path.name}: exception {entry['finding']} ({entry['reason']}) expired on {expires}; fix the finding "
                "or renew the exception with a reason and a new date"
            )
        exceptions.append(AcceptedFinding(str(entry["finding"]), str(entry["reason"]), expires))
    return Policy(threshold, tuple(exceptions), hashlib.sha256(text.encode()).hexdigest())


def evaluate(report: dict[str, Any], policy: Policy, scanner: str) -> dict[str, Any]:
    """The gate's evaluation of a Trivy JSON report (Results[].Vulnerabilities[]: VulnerabilityID, PkgName,
    InstalledVersion, FixedVersion, Severity). Fixable: Trivy names a fixed version."""
    accepted_ids = {e.finding: e for e in policy.exceptions}
    counts = dict.fromkeys(SEVERITIES, 0)
    blocking, accepted = [], []
    floor = SEVERITIES.index(policy.threshold)
    for result in report.get("Results") or []:
        for finding in result.get("Vulnerabilities") or []:
            if not finding.get("FixedVersion"):
                continue
            severity = finding.get("Severity", "UNKNOWN")
            counts[severity] += 1
            if SEVERITIES.index(severity) < floor:
                continue
            entry = {
                "id": finding["VulnerabilityID"],
                "package": finding.get("PkgName"),
                "installed": finding.get("InstalledVersion"),
                "fixed": finding.get("FixedVersion"),
                "severity": severity,
                "target": result.get("Target"),
            }
            exception = accepted_ids.get(finding["VulnerabilityID"])
            if exception is None:
                blocking.append(entry)
            else:
                accepted.append({**entry, "reason": exception.reason, "expires": exception.expires.isoformat()})
    return {
        "scanner": scanner,
        "policySha256": policy.sha256,
        "threshold": policy.threshold,
        "fixableBySeverity": counts,
        "blocking": blocking,
        "accepted": accepted,
        "passed": not blocking,
    }


def summary(gate: dict[str, Any]) -> str:
    counts = gate["fixableBySeverity"]
    accepted = f"; {len(gate['accepted'])} accepted" if gate["accepted"] else ""
    return (
        f"{gate['scanner']}: fixable {counts['CRITICAL']} critical, {counts['HIGH']} high, {counts['MEDIUM']} medium "
        f"(gate {gate['threshold']}, passed){accepted}"
    )


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def gate_path(environment: str, digest: str) -> Path:
    return GATES / environment / f"{digest.replace(':', '-')}.json"


def record(
    gate: dict[str, Any], *, environment: str, digest: str, built: str, compressed_size: int, run: str
) -> dict[str, Any]:
    if not DIGEST.match(digest):
        raise PromotionError(f"--digest {digest!r} is not sha256:<64 hex>")
    datetime.date.fromisoformat(built)
    return {
        "environment": environment,
        "digest": digest,
        "built": built,
        "compressedSizeBytes": compressed_size,
        "run": run,
        **gate,
    }


def read_passed_gate(environment: str, digest: str, today: datetime.date | None = None) -> dict[str, Any]:
    """The digest's gate record, if it passed and everything it accepted is still accepted today."""
    today = today or datetime.date.today()
    path = gate_path(environment, digest)
    fix = "build it on main (the build workflow writes the record) or promote a digest that passed"
    if not path.exists():
        raise PromotionError(f"{environment} {digest}: no gate record ({_shown(path)}); {fix}")
    gate: dict[str, Any] = json.loads(path.read_text())
    if gate.get("digest") != digest or gate.get("environment") != environment:
        raise PromotionError(f"{_shown(path)} is the record of {gate.get('environment')} {gate.get('digest')}")
    if not gate.get("passed") or gate.get("blocking"):
        raise PromotionError(
            f"{environment} {digest}: the gate failed ({len(gate.get('blocking') or [])} blocking); {fix}"
        )
    for accepted in gate.get("accepted") or []:
        if datetime.date.fromisoformat(accepted["expires"]) < today:
            raise PromotionError(
                f"{environment} {digest}: accepted {accepted['id']} until {accepted['expires']}, which has passed; "
                "rebuild (a fixed base) or renew the exception in environments/scan-policy.yaml and scan again"
            )
    return gate


def current_pin(stack: str, environment: str) -> dict[str, Any]:
    document = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())
    pins = document["config"].get(f"{PROJECT}:environments") or {}
    if environment not in pins:
        raise PromotionError(f"stacks/Pulumi.{stack}.yaml pins no environment {environment!r}")
    pin: dict[str, Any] = pins[environment]
    return pin


def _pin_block(lines: list[str], environment: str) -> tuple[int, int] | None:
    """The line range of `<environment>:` and its keys under `jhub-eks:environments:`."""
    try:
        section = lines.index(f"  {PROJECT}:environments:")
    except ValueError:
        return None
    for start in range(section + 1, len(lines)):
        if not lines[start].startswith("    ") and lines[start].strip():
            return None
        if lines[start] == f"    {environment}:":
            end = start + 1
            while end < len(lines) and lines[end].startswith("      "):
                end += 1
            return start, end
    return None


def write_pin(stack_file: Path, environment: str, pin: dict[str, Any]) -> None:
    """Set jhub-eks:environments.<environment>, every comment and the rest of the file as they were: ruamel's
    round trip writes the pin, and only the pin's lines are taken from it (a round trip re-renders some
    flow collections, e.g. `[{port: 22}]` as `[port: 22]`, which must not show in the promotion's diff).
    Keys of the old pin that the new one does not have go; a comment on a kept key stays."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    round_trip = YAML()
    round_trip.preserve_quotes = True
    round_trip.width = 4096
    # The stack files' layout: lists indented under their key ("key:\n  - item").
    round_trip.indent(mapping=2, sequence=4, offset=2)
    original = stack_file.read_text()
    document = round_trip.load(original)
    pins = document["config"].setdefault(f"{PROJECT}:environments", CommentedMap())
    entry = pins.setdefault(environment, CommentedMap())
    for key in [k for k in entry if k not in pin]:
        del entry[key]
    for key, value in pin.items():
        entry[key] = value
    buffer = io.StringIO()
    round_trip.dump(document, buffer)
    written = buffer.getvalue()
    old_lines, new_lines = original.splitlines(keepends=True), written.splitlines(keepends=True)
    old_block = _pin_block([line.rstrip("\n") for line in old_lines], environment)
    new_block = _pin_block([line.rstrip("\n") for line in new_lines], environment)
    if old_block and new_block:
        written = "".join(
            [*old_lines[: old_block[0]], *new_lines[new_block[0] : new_block[1]], *old_lines[old_block[1] :]]
        )
    stack_file.write_text(written)


def promote(
    stack: str,
    environment: str,
    image: str,
    *,
    source: str,
    today: datetime.date | None = None,
    stacks: Path | None = None,
) -> dict[str, Any]:
    found = IMAGE_BY_DIGEST.match(image)
    if not found:
        raise PromotionError(f"{image}: promote an image by digest (<repository>@sha256:<digest>)")
    gate = read_passed_gate(environment, found.group("digest"), today)
    pin = {
        "image": f"{found.group('repository')}@{found.group('digest')}",
        "built": gate["built"],
        "compressedSizeBytes": gate["compressedSizeBytes"],
        "scan": summary(gate),
        "source": source,
    }
    write_pin((stacks or STACKS) / f"Pulumi.{stack}.yaml", environment, pin)
    return pin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maintenance.promote", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gate_command = commands.add_parser("gate")
    gate_command.add_argument("--report", type=Path, required=True)
    gate_command.add_argument("--policy", type=Path, default=POLICY)
    gate_command.add_argument("--scanner", required=True, help="e.g. 'trivy 0.67.2'")
    gate_command.add_argument("--out", type=Path, required=True)
    record_command = commands.add_parser("record")
    record_command.add_argument("--gate", type=Path, required=True)
    record_command.add_argument("--environment", required=True)
    record_command.add_argument("--digest", required=True)
    record_command.add_argument("--built", required=True)
    record_command.add_argument("--compressed-size", type=int, required=True)
    record_command.add_argument("--run", required=True)
    check_command = commands.add_parser("check", help="print a stack's pinned image if its digest passed the gate")
    check_command.add_argument("--stack", required=True)
    check_command.add_argument("--environment", required=True)
    pin_command = commands.add_parser("pin")
    pin_command.add_argument("--stack", required=True)
    pin_command.add_argument("--environment", required=True)
    pin_command.add_argument("--image", help="<repository>@sha256:<digest> (dev: the digest just pushed)")
    pin_command.add_argument("--from-stack", help="copy this stack's digest (prod from dev)")
    pin_command.add_argument("--repository", help="with --from-stack: this stack's repository, the digest copied there")
    pin_command.add_argument("--source", default="built by the environments workflow")
    args = parser.parse_args(argv)
    try:
        if args.command == "gate":
            evaluation = evaluate(json.loads(args.report.read_text()), load_policy(args.policy), args.scanner)
            args.out.write_text(json.dumps(evaluation, indent=1) + "\n")
            for finding in evaluation["blocking"]:
                print(
                    f"blocking: {finding['id']} {finding['severity']} {finding['package']} {finding['installed']} "
                    f"(fixed in {finding['fixed']})"
                )
            print(
                summary(evaluation) if evaluation["passed"] else f"gate failed: {len(evaluation['blocking'])} blocking"
            )
            return 0 if evaluation["passed"] else 1
        if args.command == "record":
            written = record(
                json.loads(args.gate.read_text()),
                environment=args.environment,
                digest=args.digest,
                built=args.built,
                compressed_size=args.compressed_size,
                run=args.run,
            )
            path = gate_path(args.environment, args.digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
            print(_shown(path))
            return 0
        if args.command == "check":
            image = current_pin(args.stack, args.environment)["image"]
            found = IMAGE_BY_DIGEST.match(image)
            if found is None:
                raise PromotionError(f"{args.stack}'s {args.environment} pin {image} has no digest")
            read_passed_gate(args.environment, found.group("digest"))
            print(f"{found.group('repository')}@{found.group('digest')}")
            return 0
        if args.from_stack:
            if not args.repository:
                raise PromotionError(
                    "--from-stack needs --repository (this stack's registry, where the digest was copied)"
                )
            digest = IMAGE_BY_DIGEST.match(current_pin(args.from_stack, args.environment)["image"])
            if digest is None:
                raise PromotionError(f"{args.from_stack}'s {args.environment} pin has no digest to copy")
            image = f"{args.repository}@{digest.group('digest')}"
            source = f"{args.source}; the digest {args.from_stack} runs, copied (not rebuilt)"
        elif args.image:
            image, source = args.image, args.source
        else:
            raise PromotionError("pin needs --image or --from-stack")
        pin = promote(args.stack, args.environment, image, source=source)
        print(f"stacks/Pulumi.{args.stack}.yaml: {args.environment} -> {pin['image']} ({pin['scan']})")
        return 0
    except PromotionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
