"""The GitHub Actions workflows (.github/workflows): schema-valid, zizmor-clean and least-privilege by construction.

Three kinds of checks, each shown to bite on a mutated in-memory (or temporary) copy:
- the GitHub workflow JSON schema (`check-jsonschema --builtin-schema vendor.github-workflows`, schema vendored in
  the wheel) and zizmor's static analysis (`zizmor --offline`, pedantic persona), both run with every proxy pointed
  at a closed local port so that neither can reach the network;
- properties read from the YAML: reviewed SHA pins, empty workflow permissions, `id-token: write` only where OIDC is
  used, no `pull_request_target`, a teardown that cannot reach prod and refuses a wrong confirmation (its check step
  is executed), a prod deploy behind `environment: prod` after dev, per-stack concurrency, no `${{ }}` in scripts;
- inputs and expression contexts that GitHub would reject only at run time (an action input that does not exist,
  `vars` where it is not available), which the schema does not see.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
WORKFLOW_NAMES = (
    "pr.yml",
    "deploy.yml",
    "teardown.yml",
    "updates.yml",
    "environments.yml",
    "environments-promote.yml",
)

SHA = re.compile(r"[0-9a-f]{40}")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class Pin:
    """A reviewed action version: the commit, its release tag and the inputs its action.yml declares."""

    sha: str
    version: str
    inputs: frozenset[str]


# Every third-party action the workflows may use, at the commit that was reviewed (docs/ci-cd.md says where each SHA
# and input list was confirmed). Bumping an action means updating it here as well: that is the review step.
REVIEWED_ACTIONS: dict[str, Pin] = {
    "actions/checkout": Pin(
        "3d3c42e5aac5ba805825da76410c181273ba90b1",
        "v7.0.1",
        frozenset(
            {"repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "persist-credentials", "path"}
            | {"clean", "fetch-depth", "lfs", "submodules", "set-safe-directory"}
        ),
    ),
    "actions/setup-python": Pin(
        "5fda3b95a4ea91299a34e894583c3862153e4b97",
        "v7.0.0",
        frozenset(
            {"python-version", "python-version-file", "cache", "architecture", "check-latest", "token"}
            | {"cache-dependency-path", "update-environment", "allow-prereleases", "freethreaded"}
        ),
    ),
    "actions/setup-node": Pin(
        "820762786026740c76f36085b0efc47a31fe5020",
        "v7.0.0",
        frozenset(
            {"always-auth", "node-version", "architecture", "check-latest", "registry-url", "scope", "token"}
            | {"cache", "cache-dependency-path"}
        ),
    ),
    "actions/upload-artifact": Pin(
        "043fb46d1a93c77aae656e7c1c64a875d1fc6a0a",
        "v7.0.1",
        frozenset({"name", "path", "if-no-files-found", "retention-days"}),
    ),
    "aws-actions/configure-aws-credentials": Pin(
        "8df5847569e6427dd6c4fb1cf565c83acfa8afa7",
        "v6.0.0",
        frozenset(
            {"audience", "aws-access-key-id", "aws-secret-access-key", "aws-session-token", "aws-region"}
            | {"mask-aws-account-id", "role-to-assume", "web-identity-token-file", "role-duration-seconds"}
            | {"role-session-name", "role-external-id", "role-skip-session-tagging"}
        ),
    ),
    # The v4.1.0 tags' commits in the actions' own repositories (data/github_actions/tags.json, checked by
    # tests/test_action_pins.py); inputs from each action.yml at that commit.
    "actions/attest-build-provenance": Pin(
        "a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32",
        "v4.1.0",
        frozenset({"subject-path", "subject-digest", "subject-name", "push-to-registry", "github-token"}),
    ),
    "actions/attest-sbom": Pin(
        "c604332985a26aa8cf1bdc465b92731239ec6b9e",
        "v4.1.0",
        frozenset(
            {"subject-path", "subject-digest", "subject-name", "subject-checksums", "sbom-path", "push-to-registry"}
            | {"show-summary", "github-token"}
        ),
    ),
    "pulumi/actions": Pin(
        "8e5e406f4007fca908480587cb9893c07090f58d",
        "v7.0.0",
        frozenset(
            {"command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir", "comment-on-pr"}
            | {"comment-on-pr-number", "comment-on-summary", "github-token", "cloud-url", "secrets-provider"}
            | {"parallel", "message", "config-map", "expect-no-changes", "diff", "replace", "target"}
            | {"target-dependents", "policyPacks", "policyPackConfigs", "refresh", "upsert", "remove"}
            | {"edit-pr-comment", "color", "exclude-protected", "plan", "suppress-outputs", "suppress-progress"}
            | {"always-include-summary"}
        ),
    ),
}

# The only jobs that exchange a GitHub OIDC token for AWS credentials.
OIDC_JOBS = {
    ("pr.yml", "preview"),
    ("deploy.yml", "dev"),
    ("deploy.yml", "prod"),
    ("teardown.yml", "destroy"),
    ("updates.yml", "updates"),
    ("environments.yml", "publish"),
    ("environments-promote.yml", "promote"),
}
ATTESTING_ACTIONS = {"actions/attest-build-provenance", "actions/attest-sbom"}

# Where each context may appear (GitHub's context-availability table, for the keys these workflows use).
_JOB = {"github", "needs", "strategy", "matrix", "vars", "inputs"}
_STEP = {"github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"}
CONTEXTS_BY_KEY: dict[str, set[str]] = {
    "workflow.concurrency": {"github", "inputs", "vars"},
    "workflow.env": {"github", "secrets", "inputs", "vars"},
    "job.name": _JOB,
    "job.runs-on": _JOB,
    "job.concurrency": _JOB,
    "job.environment": _JOB,
    "job.timeout-minutes": _JOB,
    "job.if": {"github", "needs", "vars", "inputs"},
    "job.strategy": {"github", "needs", "vars", "inputs"},
    "job.env": _JOB | {"secrets"},
    "step.name": _STEP,
    "step.with": _STEP,
    "step.env": _STEP,
    "step.run": _STEP,
    "step.if": _STEP - {"secrets"},
}


# --- loading ------------------------------------------------------------------------------------------------------


@dataclass
class Workflows:
    """The parsed workflows and their raw text, by file name (a deep copy is safe to mutate)."""

    docs: dict[str, dict[str, Any]]
    texts: dict[str, str]

    def copy(self) -> Workflows:
        return Workflows(copy.deepcopy(self.docs), dict(self.texts))


def _normalise(doc: Any) -> dict[str, Any]:
    """PyYAML reads the key `on` as the boolean True (YAML 1.1); give it its name back."""
    assert isinstance(doc, dict), "a workflow is a mapping"
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def load(names: tuple[str, ...] = WORKFLOW_NAMES) -> Workflows:
    texts = {name: (WORKFLOWS_DIR / name).read_text(encoding="utf-8") for name in names}
    return Workflows({name: _normalise(yaml.safe_load(text)) for name, text in texts.items()}, texts)


@pytest.fixture(scope="module")
def workflows() -> Workflows:
    return load()


def jobs(wf: Workflows) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, doc in wf.docs.items():
        for job_id, job in doc.get("jobs", {}).items():
            yield name, job_id, job


def steps(wf: Workflows) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, job_id, job in jobs(wf):
        for step in job.get("steps", []):
            yield name, job_id, step


def action(step: dict[str, Any]) -> str | None:
    """`owner/repo` of a step's action, or None for a run step or a local action."""
    uses = step.get("uses")
    if not uses or uses.startswith(("./", "docker://")):
        return None
    return "/".join(uses.split("@", 1)[0].split("/")[:2])


def pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    found = [s for s in job.get("steps", []) if action(s) == "pulumi/actions"]
    assert len(found) == 1, "one pulumi/actions step per job"
    return found[0]


def has_exactly(permissions: Any, scope: str, level: str) -> bool:
    return isinstance(permissions, dict) and permissions.get(scope) == level


# --- the checks: each returns its problems, so a test can show it finds one ---------------------------------------


def check_pins(wf: Workflows) -> list[str]:
    """Every non-local action is a reviewed action at its reviewed 40-hex commit, with a `# vX.Y.Z` comment."""
    problems = []
    for name, job_id, step in steps(wf):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        owner_repo = action(step)
        ref = uses.rpartition("@")[2] if "@" in uses else ""
        if owner_repo is None or not SHA.fullmatch(ref):
            problems.append(f"{name}/{job_id}: `{uses}` is not pinned to a full commit SHA")
            continue
        pin = REVIEWED_ACTIONS.get(owner_repo)
        if pin is None:
            problems.append(f"{name}/{job_id}: `{owner_repo}` is not a reviewed action (REVIEWED_ACTIONS)")
        elif ref != pin.sha:
            problems.append(f"{name}/{job_id}: `{uses}` is not the reviewed commit {pin.sha} ({pin.version})")
    for name, text in wf.texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            match = re.match(r"\s*(?:-\s+)?uses:\s*([^\s#]+)\s*(?:#\s*(\S+))?", line)
            if not match or match.group(1).startswith("./"):
                continue
            owner_repo = "/".join(match.group(1).split("@", 1)[0].split("/")[:2])
            pin = REVIEWED_ACTIONS.get(owner_repo)
            if pin is not None and match.group(2) != pin.version:
                problems.append(f"{name}:{number}: `uses:` needs the comment `# {pin.version}` after the SHA")
    return problems


def check_inputs(wf: Workflows) -> list[str]:
    """Every `with:` key of a reviewed action is an input its action.yml declares (GitHub only warns at run time)."""
    problems = []
    for name, job_id, step in steps(wf):
        pin = REVIEWED_ACTIONS.get(action(step) or "")
        if pin is None:
            continue
        for key in step.get("with", {}) or {}:
            if key not in pin.inputs:
                problems.append(f"{name}/{job_id}: `{action(step)}` has no input `{key}`")
    return problems


def check_workflow_permissions(wf: Workflows) -> list[str]:
    return [
        f"{name}: workflow-level `permissions` must be `{{}}`, not {doc.get('permissions')!r}"
        for name, doc in wf.docs.items()
        if doc.get("permissions", None) != {}
    ]


def check_job_permissions(wf: Workflows) -> list[str]:
    """Each job lists its scopes; id-token: write only in the OIDC jobs, pull-requests: write only to comment."""
    problems = []
    for name, job_id, job in jobs(wf):
        where = f"{name}/{job_id}"
        permissions = job.get("permissions")
        if not isinstance(permissions, dict):
            problems.append(f"{where}: needs its own `permissions:` mapping, not {permissions!r}")
            continue
        allowed = {"contents": "read"}
        if (name, job_id) in OIDC_JOBS:
            allowed["id-token"] = "write"
        if any(
            action(s) == "pulumi/actions" and (s.get("with") or {}).get("comment-on-pr") is True
            for s in job.get("steps", [])
        ):
            allowed["pull-requests"] = "write"
        if any("gh pr create" in str(s.get("run", "")) for s in job.get("steps", [])):
            allowed.update({"contents": "write", "pull-requests": "write"})  # pushes a branch, opens the PR
        if any(action(s) in ATTESTING_ACTIONS for s in job.get("steps", [])):
            allowed["attestations"] = "write"  # SBOM and provenance attestations (and id-token, an OIDC job)
        for scope, level in permissions.items():
            if level != "none" and allowed.get(scope) != level:
                problems.append(f"{where}: `{scope}: {level}` is more than this job needs")
        uses_oidc = any(action(s) == "aws-actions/configure-aws-credentials" for s in job.get("steps", []))
        if uses_oidc and not has_exactly(permissions, "id-token", "write"):
            problems.append(f"{where}: assumes an AWS role by OIDC without `id-token: write`")
        if (name, job_id) in OIDC_JOBS and not uses_oidc:
            problems.append(f"{where}: listed as an OIDC job but never calls configure-aws-credentials")
    return problems


def check_triggers(wf: Workflows) -> list[str]:
    problems = []
    for name, doc in wf.docs.items():
        on = doc.get("on")
        events = {on} if isinstance(on, str) else set(on or [])
        for event in events & {"pull_request_target", "workflow_run"}:
            problems.append(f"{name}: `{event}` runs with secrets on code a fork controls")
    expected = {
        "pr.yml": {"pull_request"},
        "deploy.yml": {"push"},
        "teardown.yml": {"workflow_dispatch"},
        "updates.yml": {"schedule", "workflow_dispatch"},
        "environments.yml": {"pull_request", "push"},
        "environments-promote.yml": {"workflow_dispatch"},
    }
    for name, events in expected.items():
        on = wf.docs[name].get("on") or {}
        if set(on) != events:
            problems.append(f"{name}: triggers are {sorted(on)}, expected {sorted(events)}")
    return problems


def check_hardening(wf: Workflows) -> list[str]:
    """Timeouts, non-persisted checkout credentials, and no expression expanded inside a shell script."""
    problems = []
    for name, job_id, job in jobs(wf):
        timeout = job.get("timeout-minutes")
        if not isinstance(timeout, int) or not 0 < timeout <= 120:
            problems.append(f"{name}/{job_id}: needs `timeout-minutes` (1-120), has {timeout!r}")
    for name, job_id, step in steps(wf):
        if action(step) == "actions/checkout" and (step.get("with") or {}).get("persist-credentials") is not False:
            problems.append(f"{name}/{job_id}: checkout must set `persist-credentials: false`")
        if "${{" in str(step.get("run", "")):
            problems.append(f"{name}/{job_id}: `${{{{ }}}}` expanded in a `run:` script; pass it through `env:`")
    return problems


def _expressions(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)
    elif isinstance(value, str):
        yield from EXPRESSION.findall(value)


def _context_uses(expression: str) -> Iterator[tuple[str, str | None]]:
    """(context, first property) for every property access in an expression, string literals ignored."""
    code = re.sub(r"'(?:[^']|'')*'", "''", expression)
    for match in re.finditer(r"(?<![\w.-])([A-Za-z_][\w-]*)\s*\.\s*([\w-]+)", code):
        yield match.group(1), match.group(2)


def check_expressions(wf: Workflows) -> list[str]:
    """Contexts only where GitHub provides them; `inputs.x` and `matrix.x` only when declared."""
    problems = []

    def scan(where: str, key: str, value: Any, job: dict[str, Any] | None, doc: dict[str, Any]) -> None:
        on = doc.get("on") or {}
        dispatch = on.get("workflow_dispatch") if isinstance(on, dict) else None
        declared_inputs = set((dispatch or {}).get("inputs") or {})
        matrix = ((job or {}).get("strategy") or {}).get("matrix") or {}
        for expression in _expressions(value):
            for context, prop in _context_uses(expression):
                if context not in CONTEXTS_BY_KEY[key]:
                    problems.append(f"{where}: `{context}` is not available in `{key}` (`${{{{{expression}}}}}`)")
                elif context == "inputs" and prop not in declared_inputs:
                    problems.append(f"{where}: `inputs.{prop}` is not a declared input")
                elif context == "matrix" and prop not in matrix:
                    problems.append(f"{where}: `matrix.{prop}` is not in this job's matrix")

    for name, doc in wf.docs.items():
        for key in ("concurrency", "env"):
            scan(name, f"workflow.{key}", doc.get(key), None, doc)
        for job_id, job in doc.get("jobs", {}).items():
            where = f"{name}/{job_id}"
            for key in ("name", "runs-on", "concurrency", "environment", "timeout-minutes", "if", "strategy", "env"):
                scan(where, f"job.{key}", job.get(key), job, doc)
            for step in job.get("steps", []):
                for key in ("name", "with", "env", "run", "if"):
                    scan(where, f"step.{key}", step.get(key), job, doc)
    return problems


def stack_files() -> set[str]:
    return {path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in (ROOT / "stacks").glob("Pulumi.*.yaml")}


def check_preview(wf: Workflows) -> list[str]:
    """PR preview: after the tests, every stack, policy pack on, comment on the PR, forks skipped."""
    problems = []
    pr = wf.docs["pr.yml"]["jobs"]
    preview = pr.get("preview", {})
    if "test" not in _as_list(preview.get("needs")):
        problems.append("pr.yml/preview: must need the `test` job")
    if "github.event.pull_request.head.repo.full_name == github.repository" not in str(preview.get("if", "")):
        problems.append("pr.yml/preview: forks get no OIDC token: skip them with an `if:` on head.repo.full_name")
    stacks = ((preview.get("strategy") or {}).get("matrix") or {}).get("stack")
    if sorted(stacks or []) != sorted(stack_files()):
        problems.append(f"pr.yml/preview: matrix stacks {stacks} are not the stack files {sorted(stack_files())}")
    step = pulumi_step(preview)
    want = {"command": "preview", "comment-on-pr": True, "policyPacks": "policies", "work-dir": "."}
    for key, value in want.items():
        if (step.get("with") or {}).get(key) != value:
            problems.append(f"pr.yml/preview: pulumi step needs `{key}: {value}`")
    if not str((step.get("with") or {}).get("stack-name", "")).endswith("/${{ matrix.stack }}"):
        problems.append("pr.yml/preview: stack-name must be <org>/${{ matrix.stack }}")
    preview_steps = preview.get("steps", [])
    if not any("offline_plan.reachability_diff" in str(s.get("run", "")) for s in preview_steps):
        problems.append("pr.yml/preview: does not post the reachability diff (offline_plan/reachability_diff.py)")
    if not any("offline_plan.cost_diff" in str(s.get("run", "")) for s in preview_steps):
        problems.append("pr.yml/preview: does not post the cost diff (offline_plan/cost_diff.py)")
    base_ref = "${{ github.event.pull_request.base.sha }}"
    if not any((s.get("with") or {}).get("ref") == base_ref for s in preview_steps):
        problems.append("pr.yml/preview: does not check out the base branch for the reachability diff")
    test_runs = " ".join(str(s.get("run", "")) for s in pr.get("test", {}).get("steps", []))
    for command in ("./test", "./plan dev", "./plan prod"):
        if command not in test_runs:
            problems.append(f"pr.yml/test: does not run `{command}`")
    return problems


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _environment_name(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def _stack_of(job: dict[str, Any]) -> str:
    return str((pulumi_step(job).get("with") or {}).get("stack-name", "")).rpartition("/")[2]


def check_deploy(wf: Workflows) -> list[str]:
    """push to main: up dev, then up prod in the approval-gated `prod` environment; one update per stack at a time."""
    problems = []
    doc = wf.docs["deploy.yml"]
    branches = ((doc.get("on") or {}).get("push") or {}).get("branches")
    if branches != ["main"]:
        problems.append(f"deploy.yml: must run on push to main only, not {branches}")
    by_stack = {_stack_of(job): (job_id, job) for job_id, job in doc["jobs"].items()}
    if set(by_stack) != {"dev", "prod"}:
        return [*problems, f"deploy.yml: expected one job per stack dev and prod, found {sorted(by_stack)}"]
    dev_id, dev = by_stack["dev"]
    prod_id, prod = by_stack["prod"]
    for job_id, job in (by_stack["dev"], by_stack["prod"]):
        if (pulumi_step(job).get("with") or {}).get("command") != "up":
            problems.append(f"deploy.yml/{job_id}: must run `pulumi up`")
        if (pulumi_step(job).get("with") or {}).get("policyPacks") != "policies":
            problems.append(f"deploy.yml/{job_id}: must enforce the policy pack")
    if _environment_name(prod) != "prod":
        problems.append(f"deploy.yml/{prod_id}: must run in `environment: prod` (required reviewers)")
    if _environment_name(dev) == "prod":
        problems.append(f"deploy.yml/{dev_id}: dev must not use the prod environment")
    if dev_id not in _as_list(prod.get("needs")):
        problems.append(f"deploy.yml/{prod_id}: must need the dev job `{dev_id}`")
    groups = {}
    for stack, (job_id, job) in by_stack.items():
        concurrency = job.get("concurrency") or {}
        if not isinstance(concurrency, dict) or concurrency.get("cancel-in-progress") is not False:
            problems.append(f"deploy.yml/{job_id}: needs `concurrency` with `cancel-in-progress: false`")
        groups[stack] = concurrency.get("group") if isinstance(concurrency, dict) else concurrency
    if len(set(groups.values())) != 2 or not all(groups.values()):
        problems.append(f"deploy.yml: each stack needs its own concurrency group, found {groups}")
    teardown = wf.docs["teardown.yml"]["jobs"]
    for job_id, job in teardown.items():
        group = str((job.get("concurrency") or {}).get("group", ""))
        if group.replace("${{ inputs.stack }}", "dev") != groups.get("dev"):
            problems.append(f"teardown.yml/{job_id}: must share the dev deploy's concurrency group {groups.get('dev')}")
    return problems


def _render(value: str, values: dict[str, str]) -> str:
    """Expand the `${{ inputs.x }}` / `${{ github.ref }}` expressions of an env value, as the runner would."""
    return EXPRESSION.sub(lambda m: values[m.group(1).strip()], value)


CONFIRMATION_CASES = [
    # (stack, confirm, ref, must pass)
    ("dev", "dev", "refs/heads/main", True),
    ("dev", "Dev", "refs/heads/main", False),
    ("dev", "dev ", "refs/heads/main", False),
    ("dev", "", "refs/heads/main", False),
    ("dev", "prod", "refs/heads/main", False),
    ("dev", 'dev" ] || [ "x', "refs/heads/main", False),
    ("dev", "dev", "refs/heads/feature", False),
    ("prod", "prod", "refs/heads/main", False),
]


def check_teardown(wf: Workflows) -> list[str]:
    """Manual only, stack choices without prod, and a check step that really fails on a wrong confirmation."""
    problems = []
    doc = wf.docs["teardown.yml"]
    inputs = ((doc.get("on") or {}).get("workflow_dispatch") or {}).get("inputs") or {}
    stack, confirm = inputs.get("stack") or {}, inputs.get("confirm") or {}
    options = stack.get("options") or []
    if stack.get("type") != "choice" or not options:
        problems.append("teardown.yml: input `stack` must be a choice")
    for option in options:
        if option == "prod" or option not in stack_files():
            problems.append(f"teardown.yml: `{option}` may not be offered (non-prod stack files only)")
    if confirm.get("type") != "string" or confirm.get("required") is not True:
        problems.append("teardown.yml: input `confirm` must be a required string")
    (job_id, job), *others = doc["jobs"].items()
    if others:
        problems.append("teardown.yml: one job only")
    job_steps = job.get("steps", [])
    destroy = pulumi_step(job)
    with_ = destroy.get("with") or {}
    if with_.get("command") != "destroy" or not str(with_.get("stack-name", "")).endswith("/${{ inputs.stack }}"):
        problems.append(f"teardown.yml/{job_id}: must destroy <org>/${{{{ inputs.stack }}}}")
    checks = [s for s in job_steps if "CONFIRM" in (s.get("env") or {})]
    if len(checks) != 1:
        return [*problems, f"teardown.yml/{job_id}: needs one step that checks the confirmation (env CONFIRM)"]
    check = checks[0]
    if job_steps.index(check) > job_steps.index(destroy) or "if" in check or check.get("continue-on-error"):
        problems.append(f"teardown.yml/{job_id}: the confirmation check must run unconditionally before destroy")
    for stack_value, confirm_value, ref, must_pass in CONFIRMATION_CASES:
        values = {"inputs.stack": stack_value, "inputs.confirm": confirm_value, "github.ref": ref}
        env = {key: _render(str(value), values) for key, value in (check.get("env") or {}).items()}
        result = subprocess.run(
            ["bash", "-e", "-c", check["run"]],
            env={"PATH": os.environ.get("PATH", ""), **env},
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if (result.returncode == 0) != must_pass:
            verdict = "refused" if must_pass else "accepted"
            problems.append(
                f"teardown.yml/{job_id}: check {verdict} stack={stack_value!r} confirm={confirm_value!r} ref={ref}"
            )
    return problems


def check_pulumi_version(wf: Workflows) -> list[str]:
    """The Pulumi CLI the workflows install is the release of the SDK pinned in requirements.txt."""
    pinned = re.search(r"^pulumi==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned, "requirements.txt pins pulumi"
    problems = []
    for name, job_id, step in steps(wf):
        if action(step) == "pulumi/actions":
            version = str((step.get("with") or {}).get("pulumi-version", ""))
            if version != pinned.group(1):
                problems.append(f"{name}/{job_id}: pulumi-version {version!r} != pulumi=={pinned.group(1)}")
    return problems


def check_updates(wf: Workflows) -> list[str]:
    """The weekly update proposal: scheduled, the update tool with AWS, plans before and after, one PR."""
    problems = []
    doc = wf.docs["updates.yml"]
    if not (doc.get("on") or {}).get("schedule"):
        problems.append("updates.yml: has no schedule")
    job = (doc.get("jobs") or {}).get("updates") or {}
    runs = [str(s.get("run", "")) for s in job.get("steps", [])]
    if not any("maintenance.updates --aws" in r for r in runs):
        problems.append("updates.yml: does not run maintenance/updates.py with --aws")
    tool_step = next((i for i, r in enumerate(runs) if "maintenance.updates" in r), -1)
    if not any("./plan" in r for r in runs[:tool_step]) or not any("./plan" in r for r in runs[tool_step + 1 :]):
        problems.append("updates.yml: needs the offline plans before and after the update for the PR's plan diff")
    if not any("gh pr create" in r and "--body-file pr-body.md" in r for r in runs):
        problems.append("updates.yml: opens no pull request with the report and plan diff (pr-body.md)")
    if job.get("environment") != "updates":
        problems.append("updates.yml: the preview role trusts the `updates` environment's subject only")
    return problems


def check_environments(wf: Workflows) -> list[str]:
    """Environments: each changed environment built; a pull request's build pushes nothing and assumes no role; main
    pushes only after build.sh (contract, smoke test, gate); the prod promotion runs in `prod`, checks the gate
    before the copy, and copies by digest."""
    problems = []
    doc = wf.docs["environments.yml"]
    check, publish = doc["jobs"].get("check", {}), doc["jobs"].get("publish", {})
    # Each job builds the environments the change touches (the `changes` job, tests/test_environment_changes.py).
    changes_runs = " ".join(str(s.get("run", "")) for s in doc["jobs"].get("changes", {}).get("steps", []))
    if "maintenance.environments changed" not in changes_runs:
        problems.append("environments.yml/changes: must pick the environments with `maintenance.environments changed`")
    for job_id, job in (("check", check), ("publish", publish)):
        matrix = ((job.get("strategy") or {}).get("matrix") or {}).get("environment")
        if matrix != "${{ fromJSON(needs.changes.outputs.environments) }}" or job.get("needs") != "changes":
            problems.append(f"environments.yml/{job_id}: matrix {matrix} is not the changed environments")
    check_runs = " ".join(str(s.get("run", "")) for s in check.get("steps", []))
    if "environments/build.sh" not in check_runs:
        problems.append("environments.yml/check: does not run environments/build.sh")
    if any(action(s) == "aws-actions/configure-aws-credentials" for s in check.get("steps", [])):
        problems.append("environments.yml/check: a pull request's build assumes an AWS role")
    if "docker push" in check_runs or "pull_request" not in str(check.get("if", "")):
        problems.append("environments.yml/check: runs only on pull requests and pushes nothing")
    if "refs/heads/main" not in str(publish.get("if", "")) or "push" not in str(publish.get("if", "")):
        problems.append("environments.yml/publish: must run only on a push to main")
    steps_ = publish.get("steps", [])
    runs = [str(s.get("run", "")) for s in steps_]
    gate = next((i for i, r in enumerate(runs) if "environments/build.sh" in r), None)
    push = next((i for i, r in enumerate(runs) if "docker push" in r), None)
    if gate is None or push is None or gate > push:
        problems.append("environments.yml/publish: the push must come after environments/build.sh (the gate)")
    attested = {action(s) for s in steps_ if push is not None and steps_.index(s) > push}
    if not attested >= ATTESTING_ACTIONS:
        problems.append("environments.yml/publish: the SBOM and the provenance must be attested after the push")
    if not any('--image-tag "pinned-' in r for r in runs):
        problems.append("environments.yml/publish: the proposed digest needs the pinned- tag the lifecycle keeps")
    if not any("maintenance.promote pin --stack dev" in r and "gh pr create" in r for r in runs):
        problems.append("environments.yml/publish: opens no pull request pinning the digest in dev")
    script = (ROOT / "environments" / "build.sh").read_text()
    for needed in ("--user 1000", "--cap-drop ALL", "--security-opt no-new-privileges", "maintenance.promote gate"):
        if needed not in script:
            problems.append(f"environments/build.sh: the smoke test or gate lacks `{needed}`")
    if not re.search(r"aquasec/trivy@sha256:[0-9a-f]{64}", script):
        problems.append("environments/build.sh: Trivy must be pinned by digest")
    promote_job = wf.docs["environments-promote.yml"]["jobs"].get("promote", {})
    if _environment_name(promote_job) != "prod":
        problems.append("environments-promote.yml/promote: must run in `environment: prod`")
    runs = [str(s.get("run", "")) for s in promote_job.get("steps", [])]
    checked = next((i for i, r in enumerate(runs) if "maintenance.promote check" in r), None)
    copied = next((i for i, r in enumerate(runs) if "skopeo copy" in r and "--preserve-digests" in r), None)
    if checked is None or copied is None or checked > copied:
        problems.append("environments-promote.yml: the gate check must precede a digest-preserving copy")
    return problems


CHECKS: dict[str, Callable[[Workflows], list[str]]] = {
    "pins": check_pins,
    "inputs": check_inputs,
    "workflow permissions": check_workflow_permissions,
    "job permissions": check_job_permissions,
    "triggers": check_triggers,
    "hardening": check_hardening,
    "expressions": check_expressions,
    "preview": check_preview,
    "deploy": check_deploy,
    "teardown": check_teardown,
    "pulumi version": check_pulumi_version,
    "updates": check_updates,
    "environments": check_environments,
}


@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_workflows_hold_the_property(workflows: Workflows, check: str) -> None:
    assert CHECKS[check](workflows) == []


# --- each check finds a planted problem ---------------------------------------------------------------------------


def _job(wf: Workflows, name: str, job_id: str) -> dict[str, Any]:
    return wf.docs[name]["jobs"][job_id]


def _step(wf: Workflows, name: str, job_id: str, owner_repo: str) -> dict[str, Any]:
    return next(s for s in _job(wf, name, job_id)["steps"] if action(s) == owner_repo)


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    target[key] = value


def _updates_step(wf: Workflows) -> dict[str, Any]:
    return next(
        s for s in _job(wf, "updates.yml", "updates")["steps"] if "maintenance.updates" in str(s.get("run", ""))
    )


def _diff_step(wf: Workflows) -> dict[str, Any]:
    return next(s for s in _job(wf, "pr.yml", "preview")["steps"] if "offline_plan.cost_diff" in str(s.get("run", "")))


def _confirm_step(wf: Workflows) -> dict[str, Any]:
    return next(s for s in _job(wf, "teardown.yml", "destroy")["steps"] if "CONFIRM" in (s.get("env") or {}))


MUTATIONS: dict[str, tuple[str, Callable[[Workflows], None]]] = {
    "tag instead of SHA": (
        "pins",
        lambda wf: _set(_step(wf, "pr.yml", "test", "actions/checkout"), "uses", "actions/checkout@v7"),
    ),
    "branch ref": (
        "pins",
        lambda wf: _set(_step(wf, "deploy.yml", "dev", "pulumi/actions"), "uses", "pulumi/actions@main"),
    ),
    "unreviewed SHA": (
        "pins",
        lambda wf: _set(
            _step(wf, "pr.yml", "test", "actions/upload-artifact"), "uses", "actions/upload-artifact@" + "0" * 40
        ),
    ),
    "missing version comment": (
        "pins",
        lambda wf: wf.texts.update({"pr.yml": wf.texts["pr.yml"].replace(" # v7.0.1", "", 1)}),
    ),
    "misspelt action input": (
        "inputs",
        lambda wf: _step(wf, "pr.yml", "preview", "pulumi/actions")["with"].update({"policy-packs": "policies"}),
    ),
    "workflow-level write-all": (
        "workflow permissions",
        lambda wf: _set(wf.docs["deploy.yml"], "permissions", "write-all"),
    ),
    "no workflow-level permissions": (
        "workflow permissions",
        lambda wf: wf.docs["teardown.yml"].pop("permissions"),
    ),
    "id-token in the test job": (
        "job permissions",
        lambda wf: _job(wf, "pr.yml", "test")["permissions"].update({"id-token": "write"}),
    ),
    "OIDC job without id-token": (
        "job permissions",
        lambda wf: _job(wf, "deploy.yml", "prod")["permissions"].pop("id-token"),
    ),
    "contents: write": (
        "job permissions",
        lambda wf: _job(wf, "teardown.yml", "destroy")["permissions"].update({"contents": "write"}),
    ),
    "pull-requests: write without a comment": (
        "job permissions",
        lambda wf: _job(wf, "deploy.yml", "dev")["permissions"].update({"pull-requests": "write"}),
    ),
    "job without permissions": (
        "job permissions",
        lambda wf: _job(wf, "pr.yml", "test").pop("permissions"),
    ),
    "pull_request_target": (
        "triggers",
        lambda wf: _set(wf.docs["pr.yml"], "on", {"pull_request_target": {"branches": ["main"]}}),
    ),
    "no timeout": (
        "hardening",
        lambda wf: _job(wf, "deploy.yml", "prod").pop("timeout-minutes"),
    ),
    "persisted checkout credentials": (
        "hardening",
        lambda wf: _step(wf, "pr.yml", "preview", "actions/checkout").pop("with"),
    ),
    "expression in a script": (
        "hardening",
        lambda wf: _job(wf, "pr.yml", "test")["steps"].append({"run": 'echo "${{ github.event.pull_request.title }}"'}),
    ),
    "secrets in a job condition": (
        "expressions",
        lambda wf: _job(wf, "deploy.yml", "dev").update({"if": "${{ secrets.PULUMI_ACCESS_TOKEN != '' }}"}),
    ),
    "undeclared input": (
        "expressions",
        lambda wf: _step(wf, "teardown.yml", "destroy", "pulumi/actions")["with"].update(
            {"stack-name": "${{ vars.PULUMI_ORG }}/${{ inputs.stak }}"}
        ),
    ),
    "preview without fork guard": (
        "preview",
        lambda wf: _job(wf, "pr.yml", "preview").pop("if"),
    ),
    "preview without policy pack": (
        "preview",
        lambda wf: _step(wf, "pr.yml", "preview", "pulumi/actions")["with"].pop("policyPacks"),
    ),
    "no cost diff": (
        "preview",
        lambda wf: _set(_diff_step(wf), "run", _diff_step(wf)["run"].replace("offline_plan.cost_diff", "true")),
    ),
    "updates without AWS": (
        "updates",
        lambda wf: _set(_updates_step(wf), "run", _updates_step(wf)["run"].replace(" --aws", "")),
    ),
    "updates without the plan after": (
        "updates",
        lambda wf: _job(wf, "updates.yml", "updates")["steps"].pop(5),
    ),
    "preview of dev only": (
        "preview",
        lambda wf: _job(wf, "pr.yml", "preview")["strategy"]["matrix"].update({"stack": ["dev"]}),
    ),
    "prod without environment": (
        "deploy",
        lambda wf: _job(wf, "deploy.yml", "prod").pop("environment"),
    ),
    "prod not after dev": (
        "deploy",
        lambda wf: _job(wf, "deploy.yml", "prod").pop("needs"),
    ),
    "shared concurrency group": (
        "deploy",
        lambda wf: _job(wf, "deploy.yml", "prod")["concurrency"].update({"group": "pulumi-dev"}),
    ),
    "cancelled deploy": (
        "deploy",
        lambda wf: _job(wf, "deploy.yml", "dev")["concurrency"].update({"cancel-in-progress": True}),
    ),
    "prod offered for teardown": (
        "teardown",
        lambda wf: wf.docs["teardown.yml"]["on"]["workflow_dispatch"]["inputs"]["stack"]["options"].append("prod"),
    ),
    "confirmation never compared": (
        "teardown",
        lambda wf: _set(_confirm_step(wf), "run", 'echo "destroying $STACK"'),
    ),
    "confirmation check skippable": (
        "teardown",
        lambda wf: _set(_confirm_step(wf), "continue-on-error", True),
    ),
    "environment push before the gate": (
        "environments",
        lambda wf: _job(wf, "environments.yml", "publish")["steps"].insert(
            2, {"name": "early push", "run": "docker push x"}
        ),
    ),
    "pull request build with a role": (
        "environments",
        lambda wf: _job(wf, "environments.yml", "check")["steps"].append(
            copy.deepcopy(_step(wf, "environments.yml", "publish", "aws-actions/configure-aws-credentials"))
        ),
    ),
    "environment left out of the matrix": (
        "environments",
        lambda wf: _job(wf, "environments.yml", "publish")["strategy"]["matrix"].update(
            {"environment": ["datascience"]}
        ),
    ),
    "promotion outside prod": (
        "environments",
        lambda wf: _job(wf, "environments-promote.yml", "promote").pop("environment"),
    ),
    "attestations: write without attesting": (
        "job permissions",
        lambda wf: _job(wf, "environments.yml", "check")["permissions"].update({"attestations": "write"}),
    ),
    "other CLI version": (
        "pulumi version",
        lambda wf: _step(wf, "deploy.yml", "prod", "pulumi/actions")["with"].update({"pulumi-version": "3.0.0"}),
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_each_check_finds_a_planted_problem(workflows: Workflows, mutation: str) -> None:
    check, mutate = MUTATIONS[mutation]
    mutated = workflows.copy()
    mutate(mutated)
    assert CHECKS[check](mutated), f"check {check!r} missed: {mutation}"


# --- external tools: the GitHub workflow schema and zizmor, offline ------------------------------------------------


def _tool(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"`{name}` is not installed; it is pinned in requirements-dev.txt, which ./test installs")
    return found


def _offline_env() -> dict[str, str]:
    """The environment with every proxy on a closed local port: a tool that tried the network would fail."""
    env = {k: v for k, v in os.environ.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}}
    closed = "http://127.0.0.1:9"
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[key] = closed
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env


def _check_schema(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    command = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, env=_offline_env(), timeout=120, check=False)


def _zizmor(path: Path) -> tuple[int, list[dict[str, Any]], str]:
    command = [_tool("zizmor"), "--offline", "--persona", "pedantic", "--format", "json", "--no-progress", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, env=_offline_env(), timeout=120, check=False)
    try:
        findings = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        pytest.fail(f"zizmor did not print JSON ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.returncode, findings, result.stderr


def test_every_workflow_file_is_checked() -> None:
    assert sorted(p.name for p in WORKFLOWS_DIR.glob("*.y*ml")) == sorted(WORKFLOW_NAMES)


def test_workflows_match_the_github_workflow_schema() -> None:
    result = _check_schema([WORKFLOWS_DIR / name for name in WORKFLOW_NAMES])
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_an_invalid_workflow(tmp_path: Path) -> None:
    text = (WORKFLOWS_DIR / "pr.yml").read_text(encoding="utf-8")
    broken = text.replace("timeout-minutes: 30", "timeout-minutes: half an hour", 1)
    assert broken != text
    path = tmp_path / "pr.yml"
    path.write_text(broken, encoding="utf-8")
    result = _check_schema([path])
    assert result.returncode != 0, result.stdout
    assert "timeout-minutes" in result.stdout + result.stderr


def test_zizmor_reports_no_findings() -> None:
    code, findings, stderr = _zizmor(WORKFLOWS_DIR)
    summary = [f"{f['ident']}: {f['desc']} ({f['locations'][0]['symbolic']['key']})" for f in findings]
    assert (code, summary) == (0, []), stderr


def test_zizmor_finds_planted_problems(tmp_path: Path) -> None:
    text = (WORKFLOWS_DIR / "pr.yml").read_text(encoding="utf-8")
    pinned = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
    broken = text.replace(pinned, "actions/checkout@v7", 1).replace(
        "      - name: Test suite\n        run: ./test\n",
        '      - name: Test suite\n        run: ./test "${{ github.event.pull_request.title }}"\n',
    )
    assert broken.count("${{ github.event.pull_request.title }}") == 1 and "@v7\n" in broken
    path = tmp_path / "pr.yml"
    path.write_text(broken, encoding="utf-8")
    code, findings, stderr = _zizmor(path)
    assert code != 0, stderr
    assert {"unpinned-uses", "template-injection"} <= {f["ident"] for f in findings}
