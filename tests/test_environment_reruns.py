"""A re-run of the environments workflows' registry steps succeeds against ECR's immutable tags.

The steps' own scripts (read from the workflow files) run against stand-ins for `docker`, `aws ecr` and `skopeo`
that keep one registry's tags as ECR does for an IMMUTABLE repository (ECR user guide, "Preventing image tags from
being overwritten"; containers-roadmap#2179: a push to an existing tag is refused even with the same digest).
Re-runs are ordinary: GitHub's "Re-run failed jobs" after a failed attestation or pull request step rebuilds the
image (another digest: the build records its time), and a promotion is dispatched again after its pull request
was closed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"

FAKE = r"""
import hashlib, os, sys
from pathlib import Path

store = Path(os.environ["REGISTRY_STORE"])
tool, args = sys.argv[1], sys.argv[2:]


def repository_dir(reference):
    name = reference.split("/", 1)[1] if "." in reference.split("/", 1)[0] else reference
    return store / name.replace("/", "_")


def digest_of(manifest):
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def put(repository, tag, manifest):
    path = repository_dir(repository) / "tags" / tag
    if path.exists():
        sys.exit(f"tag invalid: The image tag '{tag}' already exists and cannot be overwritten (IMMUTABLE)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest)
    (repository_dir(repository) / "digests").mkdir(exist_ok=True)
    (repository_dir(repository) / "digests" / digest_of(manifest)).write_text(manifest)


def by_tag(repository, tag):
    path = repository_dir(repository) / "tags" / tag
    return path.read_text() if path.exists() else None


def option(name):
    return args[args.index(name) + 1]


if tool == "docker":
    if args[0] == "push":
        repository, tag = args[1].rsplit(":", 1)
        put(repository, tag, "manifest of build " + os.environ["BUILD"])
elif tool == "aws":
    command = args[1]
    if command == "get-login-password":
        print("password")
    elif command == "describe-images":
        manifest = by_tag(option("--repository-name"), option("--image-ids").split("=", 1)[1])
        print(f"{digest_of(manifest)}\t{len(manifest)}")
    elif command == "batch-get-image":
        digest = option("--image-ids").split("=", 1)[1]
        print((repository_dir(option("--repository-name")) / "digests" / digest).read_text())
    elif command == "put-image":
        put(option("--repository-name"), option("--image-tag"), option("--image-manifest"))
elif tool == "skopeo":
    if args[0] == "inspect":
        repository, tag = args[-1].removeprefix("docker://").rsplit(":", 1)
        manifest = by_tag(repository, tag)
        if manifest is None:
            sys.exit("manifest unknown")
        sys.stdout.write(manifest)
    elif args[0] == "copy":
        source, target = args[-2].removeprefix("docker://"), args[-1].removeprefix("docker://")
        repository, digest = source.split("@")
        manifest = (repository_dir(repository) / "digests" / digest).read_text()
        put(*target.rsplit(":", 1), manifest)
"""


def step(workflow: str, name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())
    for job in document["jobs"].values():
        for candidate in job["steps"]:
            if candidate.get("name") == name:
                return dict(candidate)
    raise LookupError(f"{workflow}: no step {name!r}")


@pytest.fixture
def registry(tmp_path: Path) -> dict[str, str]:
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "fake.py"
    fake.write_text(FAKE)
    for tool in ("docker", "aws", "skopeo"):
        (tools / tool).write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" {tool} "$@"\n')
        (tools / tool).chmod(0o755)
    (tmp_path / "store").mkdir()
    return {"PATH": f"{tools}:{os.environ['PATH']}", "REGISTRY_STORE": str(tmp_path / "store"), "TMP": str(tmp_path)}


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # GitHub's default `run` shell on Linux: bash -e {0}.
    return subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=60)


def push(registry: dict[str, str], attempt: int, build: str) -> subprocess.CompletedProcess[str]:
    script = step("environments.yml", "Push to the dev repository")["run"]
    output = Path(registry["TMP"]) / f"output-{attempt}"
    env = {
        **registry,
        "ENVIRONMENT": "datascience",
        "REPOSITORY": f"{REGISTRY}/jhub-dev/jupyter-user",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_RUN_ATTEMPT": str(attempt),
        "GITHUB_OUTPUT": str(output),
        "BUILD": build,
    }
    return run(script, env)


def test_a_rerun_of_the_publish_job_pushes_its_new_build(registry: dict[str, str]) -> None:
    first = push(registry, 1, "first")
    assert first.returncode == 0, first.stderr
    again = push(registry, 2, "second")  # the same commit, rebuilt: another digest
    assert again.returncode == 0, again.stderr
    digests = [
        line.split("=", 1)[1]
        for attempt in (1, 2)
        for line in (Path(registry["TMP"]) / f"output-{attempt}").read_text().splitlines()
        if line.startswith("digest=")
    ]
    assert len(set(digests)) == 2


def promote(registry: dict[str, str], source: str) -> subprocess.CompletedProcess[str]:
    copy = step("environments-promote.yml", "Copy the digest into prod's repository")["run"]
    env = {
        **registry,
        "ENVIRONMENT": "datascience",
        "SOURCE": source,
        "REPOSITORY": f"{REGISTRY}/jhub-prod/jupyter-user",
    }
    return run(copy, env)


def test_a_second_promotion_of_a_digest_finds_it_copied(registry: dict[str, str]) -> None:
    assert push(registry, 1, "first").returncode == 0
    manifest = "manifest of build first"
    source = f"{REGISTRY}/jhub-dev/jupyter-user@sha256:{hashlib.sha256(manifest.encode()).hexdigest()}"
    first = promote(registry, source)
    assert first.returncode == 0, first.stderr
    again = promote(registry, source)
    assert again.returncode == 0, again.stderr


def test_the_stand_in_refuses_a_tag_that_exists(registry: dict[str, str]) -> None:
    """The model bites: the same tag pushed twice (the step as first written, `<environment>-<commit>`)."""
    assert (
        run("docker push r/jhub-dev/jupyter-user:datascience-0123456789ab", {**registry, "BUILD": "a"}).returncode == 0
    )
    refused = run("docker push r/jhub-dev/jupyter-user:datascience-0123456789ab", {**registry, "BUILD": "b"})
    assert refused.returncode != 0 and "cannot be overwritten" in refused.stderr
