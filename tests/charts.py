"""The charts' real templates, rendered as `helm template` renders them (helm-python-sdk: the Helm Go
SDK, bundled, no helm binary), so tests check the objects Helm would create from the values the
program gives a release, not a model of the templates.

Where a chart's release archive comes from, first match wins:
1. the cache, `$XDG_CACHE_HOME/jhub-eks/charts/<name>-<version>.tgz` (~/.cache by default), used only
   if its sha256 is the published archive's, recorded in data/charts/archives.json;
2. a download of that published archive from the chart's Helm repository, checked against the same
   digest, then cached; refused while the recorded digest is unknown (null), since nothing could tell
   a tampered archive from the real one;
3. the release-equivalent archive in the developers' shared folder beside the clone (CI here, where no
   chart repository is reachable): a trusted local stand-in whose bytes differ from the published
   archive's, so it is neither digest-checked nor cached;
4. else the test is skipped, with what each source said. A user's clone stands alone: no test errors
   for want of the shared folder.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python import Chart

ROOT = Path(__file__).resolve().parent.parent
ARCHIVES: dict[str, dict[str, Any]] = json.loads((ROOT / "data" / "charts" / "archives.json").read_text())["archives"]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jhub-eks" / "charts"
# The only reader of the shared folder in the repository (tests/test_chart_data.py allows it here).
STAND_INS = ROOT.parent / "shared" / "charts"
DOWNLOAD_TIMEOUT_SECONDS = 20
_UNREACHABLE: dict[str, str] = {}

# The workload kinds whose pod templates Kubernetes turns into pods, and where the template sits.
POD_TEMPLATE_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def fetch(url: str) -> bytes:
    """The bytes at `url` (tests replace it to stand for the network)."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        data: bytes = response.read()
    return data


def published(name: str, version: str) -> dict[str, Any]:
    key = f"{name} {version}"
    if key not in ARCHIVES:
        pytest.fail(
            f"chart {key} has no entry in data/charts/archives.json: add its repository, archive URL and the "
            "sha256 its repository's index.yaml publishes"
        )
    return ARCHIVES[key]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _from_cache_or_download(name: str, version: str, reasons: list[str]) -> Path | None:
    entry = published(name, version)
    digest = entry["sha256"]
    if digest is None:
        reasons.append(
            f"the published digest of {name} {version} is unknown (data/charts/archives.json), so it is not downloaded"
        )
        return None
    cached = CACHE / f"{name}-{version}.tgz"
    if cached.is_file():
        if _sha256(cached.read_bytes()) == digest:
            return cached
        reasons.append(f"the cached {cached} is not the published archive (sha256 differs); downloading again")
    if entry["url"] in _UNREACHABLE:
        reasons.append(_UNREACHABLE[entry["url"]])
        return None
    try:
        data = fetch(entry["url"])
    except (urllib.error.URLError, OSError) as error:
        # Tried once a session: where the network drops packets each try would wait the timeout.
        _UNREACHABLE[entry["url"]] = f"{entry['url']} could not be downloaded ({error})"
        reasons.append(_UNREACHABLE[entry["url"]])
        return None
    if _sha256(data) != digest:
        pytest.fail(
            f"{entry['url']} has sha256 {_sha256(data)}, not the published {digest} "
            "(data/charts/archives.json): refusing it; check the repository's index.yaml"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=CACHE, suffix=".partial", delete=False) as partial:
        partial.write(data)
    os.replace(partial.name, cached)
    return cached


def chart_archive(name: str, version: str) -> Path:
    """The release archive of the chart (see the module's docstring), or skip the test saying why."""
    reasons: list[str] = []
    archive = _from_cache_or_download(name, version, reasons)
    if archive is not None:
        return archive
    stand_in = STAND_INS / f"{name}-{version}.tgz"
    if stand_in.is_file():
        return stand_in
    reasons.append(f"no local stand-in at {stand_in}")
    pytest.skip(f"chart {name} {version} is not at hand: " + "; ".join(reasons))


@functools.cache
def _extracted(archive: Path, sha256: str) -> Path:
    """The archive's chart folder (once per content: a cache entry may be replaced in a session)."""
    folder = Path(tempfile.mkdtemp(prefix="jhub-eks-chart-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def chart_folder(name: str, version: str) -> Path:
    """The extracted chart's folder (its templates, crds/ and values), or skip as chart_archive does."""
    archive = chart_archive(name, version)
    return _extracted(archive, _sha256(archive.read_bytes())) / name


def load(name: str, version: str) -> Chart:
    """The chart, extracted from its release archive, after checking it is the chart asked for."""
    archive = chart_archive(name, version)
    chart = Chart.load(_extracted(archive, _sha256(archive.read_bytes())) / name)
    if (chart.name, chart.version) != (name, version):
        pytest.fail(f"{archive} holds chart {chart.name} {chart.version}, not {name} {version}")
    return chart


def render(name: str, version: str, values: dict[str, Any], *, release: str, namespace: str) -> list[dict[str, Any]]:
    """The objects `helm install` would create from the chart with `values` (schema-checked first, as
    Helm does), parsed; hooks included, NOTES.txt not."""
    chart = load(name, version)
    chart.validate_schema(values)
    manifests = chart.render(values, name=release, namespace=namespace, is_install=True)
    objects = []
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt"):
            continue
        objects += [document for document in yaml.safe_load_all(text) if document]
    return objects


def render_install(inputs: dict[str, Any], values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The objects of a Helm install the plan recorded (a helm.sh/v3 Release's or v4 Chart's inputs: chart,
    version, values, name, namespace), with its own values or `values` in their place."""
    return render(
        inputs["chart"],
        inputs["version"],
        inputs["values"] if values is None else values,
        release=inputs["name"],
        namespace=inputs["namespace"],
    )


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """("Kind/name", pod spec) of every object that makes pods."""
    for document in objects:
        path = POD_TEMPLATE_PATHS.get(document["kind"])
        if path is None:
            continue
        spec = document
        for key in path:
            spec = spec[key]
        yield f"{document['kind']}/{document['metadata']['name']}", spec


def containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container of a pod spec: init, regular and ephemeral."""
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(field) or []
