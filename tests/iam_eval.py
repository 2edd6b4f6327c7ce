"""Test-only IAM access evaluator: a real Allow/Deny decision for a request against IAM policy documents.

The engine is the npm package @cloud-copilot/iam-simulate (AGPL-3.0-or-later, used only as a test tool and
never shipped), pinned in tests/iam_sim/package.json and package-lock.json and driven by tests/iam_sim/simulate.mjs:
one node process evaluates a whole batch, so call `evaluate` with every request at once.

The principal's own context keys are filled in as AWS does: each session tag becomes `aws:PrincipalTag/<key>`
(EKS Pod Identity adds kubernetes-pod-name, kubernetes-namespace, kubernetes-service-account, eks-cluster-name,
...), `aws:PrincipalArn` / `aws:PrincipalAccount` / `aws:PrincipalType` come from the principal ARN, and
`aws:username` exists only for an IAM user, never for a role session. A service principal
(`budgets.amazonaws.com`, acting on its own through a resource policy) gets `aws:PrincipalServiceName` and
`aws:PrincipalIsAWSService`, and the resource's account. Request keys such as `s3:prefix` go in
`context`; keys that do not apply to the action (say `s3:prefix` on GetObject) are dropped by the engine, as AWS
would never send them, and reported in `SimulationResult.ignored_context_keys`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

SIM_DIR = Path(__file__).resolve().parent / "iam_sim"
SCRIPT = SIM_DIR / "simulate.mjs"
ENGINE_PACKAGE = "@cloud-copilot/iam-simulate"

Decision = Literal["Allowed", "ImplicitlyDenied", "ExplicitlyDenied"]
DECISIONS: frozenset[str] = frozenset({"Allowed", "ImplicitlyDenied", "ExplicitlyDenied"})

PolicyDocument = Mapping[str, Any]
ContextValue = str | Sequence[str]


class IamEvalError(RuntimeError):
    """The evaluator could not be installed or run, or a request was invalid (it never means 'denied')."""


@dataclass(frozen=True)
class IamRequest:
    """One request: who (principal + session tags) does what (action) to which resource, under which policies."""

    action: str
    resource: str
    identity_policies: Sequence[PolicyDocument]
    principal: str
    principal_tags: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_policy: PolicyDocument | None = None
    resource_account: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form read by simulate.mjs."""
        wire: dict[str, Any] = {
            "identityPolicies": list(self.identity_policies),
            "principal": self.principal,
            "principalTags": dict(self.principal_tags),
            "action": self.action,
            "resource": self.resource,
            "context": {key: value if isinstance(value, str) else list(value) for key, value in self.context.items()},
        }
        if self.resource_policy is not None:
            wire["resourcePolicy"] = self.resource_policy
        if self.resource_account is not None:
            wire["resourceAccount"] = self.resource_account
        return wire


@dataclass(frozen=True)
class SimulationResult:
    """The decision for one request, with the statements that decided it (`<policy type>:<policy>:<Sid or #n>`)."""

    decision: Decision
    allowed_by: tuple[str, ...]
    denied_by: tuple[str, ...]
    ignored_context_keys: tuple[str, ...]


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise IamEvalError(
            f"`{tool}` is not on PATH: the IAM policy evaluator needs Node.js (>= 18) and npm "
            f"(it runs {ENGINE_PACKAGE} from {SIM_DIR})"
        )
    return path


def _locked_packages(lockfile: Path) -> dict[str, Any] | None:
    try:
        packages = dict(json.loads(lockfile.read_text())["packages"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    packages.pop("", None)  # the root project itself is only in package-lock.json
    return packages


def _install_is_current() -> bool:
    """node_modules holds exactly what package-lock.json pins (npm records it in node_modules/.package-lock.json)."""
    installed = _locked_packages(SIM_DIR / "node_modules" / ".package-lock.json")
    return installed is not None and installed == _locked_packages(SIM_DIR / "package-lock.json")


def ensure_installed() -> str:
    """Check node (and npm), run `npm ci` in tests/iam_sim unless node_modules matches the lockfile; return node."""
    node = _require("node")
    if _install_is_current():
        return node
    npm = _require("npm")
    lock_path = Path(tempfile.gettempdir()) / f"iam_sim-{hashlib.sha256(str(SIM_DIR).encode()).hexdigest()[:16]}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes must not run npm ci into one folder at once
        if not _install_is_current():
            try:
                result = subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund"],
                    cwd=SIM_DIR,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
            except subprocess.TimeoutExpired as error:
                raise IamEvalError(f"npm ci in {SIM_DIR} timed out") from error
            if result.returncode != 0 or not _install_is_current():
                raise IamEvalError(
                    f"npm ci in {SIM_DIR} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                )
    return node


def _wire(request: IamRequest | Mapping[str, Any]) -> Mapping[str, Any]:
    return request.to_json() if isinstance(request, IamRequest) else request


def simulate(requests: Sequence[IamRequest | Mapping[str, Any]]) -> list[SimulationResult]:
    """Evaluate every request in one node process; raise IamEvalError for any request the engine rejects."""
    if not requests:
        return []
    node = ensure_installed()
    payload = json.dumps({"requests": [_wire(request) for request in requests]})
    try:
        completed = subprocess.run(
            [node, str(SCRIPT)], input=payload, capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise IamEvalError("simulate.mjs timed out") from error
    if completed.returncode != 0:
        raise IamEvalError(f"simulate.mjs failed ({completed.returncode}):\n{completed.stderr}")
    raw = cast(list[dict[str, Any]], json.loads(completed.stdout))
    if len(raw) != len(requests):
        raise IamEvalError(f"simulate.mjs answered {len(raw)} results for {len(requests)} requests")
    errors = [
        f"request {index} ({_wire(requests[index]).get('action')} on {_wire(requests[index]).get('resource')}): "
        f"{json.dumps(item.get('error'))}"
        for index, item in enumerate(raw)
        if item.get("decision") not in DECISIONS
    ]
    if errors:
        raise IamEvalError("the IAM simulator rejected requests:\n" + "\n".join(errors))
    return [
        SimulationResult(
            decision=cast(Decision, item["decision"]),
            allowed_by=tuple(item.get("allowedBy", ())),
            denied_by=tuple(item.get("deniedBy", ())),
            ignored_context_keys=tuple(item.get("ignoredContextKeys", ())),
        )
        for item in raw
    ]


def evaluate(requests: Sequence[IamRequest | Mapping[str, Any]]) -> list[str]:
    """Decisions ("Allowed", "ImplicitlyDenied" or "ExplicitlyDenied"), in request order."""
    return [result.decision for result in simulate(requests)]
