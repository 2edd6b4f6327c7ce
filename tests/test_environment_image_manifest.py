"""The environments' build (environments/build.sh) produces one image manifest, not an image index: its digest is
the digest the workflow pushes and pins, and the digest Amazon Inspector names in a finding on it
(`detail.resources[].details.awsEcrContainerImage.imageHash`, matched by components/environment_alerts.py).

buildx adds a provenance attestation by default (mode=min since buildx 0.10); the classic image store dropped it
on `--load`, but Docker Engine 29's containerd image store, the default of a fresh install (Docker 29 release
notes; e.g. besu-eth/besu#9818 after GitHub's runners moved to Docker 29), keeps it, and `docker push` then sends
an OCI index (image + attestation manifest). Inspector scans images, not indexes, so findings would carry the
child manifest's digest and never the pinned one."""

from __future__ import annotations

import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def buildx_arguments(script: str) -> list[list[str]]:
    return [shlex.split(line)[3:] for line in script.splitlines() if line.strip().startswith("docker buildx build")]


def attestations_off(arguments: list[str]) -> bool:
    return "--provenance=false" in arguments and "--sbom=false" in arguments


def test_the_build_loads_a_single_image_manifest() -> None:
    builds = buildx_arguments((ROOT / "environments" / "build.sh").read_text())
    assert builds, "environments/build.sh runs no docker buildx build"
    assert all(attestations_off(arguments) for arguments in builds)


def test_a_build_with_buildx_default_attestations_is_reported() -> None:
    [arguments] = buildx_arguments('docker buildx build --load --tag "$image" "environments/$name"\n')
    assert not attestations_off(arguments)
