"""An environment's build fits on GitHub's runner. The pytorch-gpu environment is 4.94 GiB compressed (its pin's
`compressedSize`) and about three times that unpacked; the ubuntu-24.04 runner has about 20 GB free, and the
containerd image store of its Docker 29 keeps an image's compressed layers next to the unpacked snapshots. An
uncompressed `docker save` for the scan (about 15 GB more) would fill the disk. So the scan's archive is written
compressed (Trivy's docker-archive opener reads gzip as it is), and each job that builds first removes toolchains
that no step uses."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = "./environments/build.sh"


def archive_problems(script: str) -> list[str]:
    problems = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] == ["docker", "save"] and ("|" not in words or words[words.index("|") + 1] != "gzip"):
            problems.append(f"an uncompressed image archive: {line.strip()}")
        if "--input" in words and not words[words.index("--input") + 1].endswith(".tar.gz"):
            problems.append(f"Trivy scans an uncompressed archive: {line.strip()}")
    if not any(line.strip().startswith("docker save") for line in script.splitlines()):
        problems.append("no docker save: the scan reads nothing")
    return problems


def jobs_without_room(workflow: dict[str, Any]) -> list[str]:
    """Jobs that run the build before any step frees the runner's disk."""
    found = []
    for name, job in workflow["jobs"].items():
        runs = [str(step.get("run", "")) for step in job.get("steps", [])]
        builds = [i for i, run in enumerate(runs) if BUILD_SCRIPT in run]
        if builds and not any("rm -rf /usr/share/dotnet" in run for run in runs[: builds[0]]):
            found.append(name)
    return found


def test_the_scan_reads_a_compressed_archive() -> None:
    assert archive_problems((ROOT / "environments" / "build.sh").read_text()) == []


def test_an_uncompressed_archive_is_reported() -> None:
    script = 'docker save "$image" --output "$out/image.tar"\ntrivy image --input /work/image.tar --format json\n'
    assert len(archive_problems(script)) == 2


def test_every_job_that_builds_makes_room_first() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "environments.yml").read_text())
    building = [
        n for n, job in workflow["jobs"].items() if any(BUILD_SCRIPT in str(s.get("run")) for s in job["steps"])
    ]
    assert sorted(building) == ["check", "publish"]
    assert jobs_without_room(workflow) == []
    for job in building:  # without the step, the job is reported
        workflow["jobs"][job]["steps"] = [
            s for s in workflow["jobs"][job]["steps"] if "dotnet" not in str(s.get("run"))
        ]
    assert sorted(jobs_without_room(workflow)) == ["check", "publish"]
