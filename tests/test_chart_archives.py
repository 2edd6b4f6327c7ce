"""Where the rendered charts come from (tests/charts.py): a published archive only with its published
digest, cached; the shared folder only as a stand-in; and a clone that stands alone, with no network,
skips the chart tests saying why instead of erroring."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import urllib.error
from pathlib import Path

import pytest

from tests import charts

CONFIGMAP_TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n"
    "  greeting: {{ .Values.greeting }}\n"
)


def demo_archive(name: str = "demo", version: str = "0.1.0") -> bytes:
    """A release archive as `helm package` lays it out: the chart's folder, named after it."""
    files = {
        "Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n",
        "values.yaml": "greeting: hello\n",
        "templates/configmap.yaml": CONFIGMAP_TEMPLATE,
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Network:
    """The chart repositories: `archives` maps a URL to its bytes; anything else is unreachable."""

    def __init__(self, archives: dict[str, bytes] | None = None) -> None:
        self.archives = archives or {}
        self.requested: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.requested.append(url)
        if url not in self.archives:
            raise urllib.error.URLError("Name or service not known")
        return self.archives[url]


@pytest.fixture
def alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Network:
    """A clone that stands alone: an empty cache, no shared folder beside it, no network."""
    network = Network()
    monkeypatch.setattr(charts, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(charts, "STAND_INS", tmp_path / "no-shared-folder")
    monkeypatch.setattr(charts, "fetch", network.fetch)
    monkeypatch.setattr(charts, "_UNREACHABLE", {})
    return network


def test_a_clone_that_stands_alone_skips_saying_why(alone: Network) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        charts.render("nvidia-device-plugin", "0.20.0", {}, release="r", namespace="n")
    reason = str(skipped.value)
    assert "nvidia-device-plugin-0.20.0.tgz could not be downloaded" in reason
    assert "no local stand-in" in reason
    assert alone.requested == [charts.ARCHIVES["nvidia-device-plugin 0.20.0"]["url"]]
    with pytest.raises(pytest.skip.Exception, match="could not be downloaded"):
        charts.load("nvidia-device-plugin", "0.20.0")
    assert len(alone.requested) == 1  # not tried again in the session


def test_an_archive_whose_digest_is_unknown_is_never_downloaded(alone: Network) -> None:
    entry = charts.ARCHIVES["jupyterhub 4.4.0"]
    alone.archives[entry["url"]] = demo_archive()
    assert entry["sha256"] is None  # today's record: see data/charts/archives.json
    with pytest.raises(pytest.skip.Exception, match=re.escape("published digest of jupyterhub 4.4.0 is unknown")):
        charts.load("jupyterhub", "4.4.0")
    assert alone.requested == []


@pytest.fixture
def demo_published(monkeypatch: pytest.MonkeyPatch, alone: Network) -> Network:
    archive = demo_archive()
    entry = {"url": "https://charts.example.org/demo-0.1.0.tgz", "sha256": hashlib.sha256(archive).hexdigest()}
    monkeypatch.setitem(charts.ARCHIVES, "demo 0.1.0", entry)
    alone.archives[entry["url"]] = archive
    return alone


def test_a_download_with_the_published_digest_is_rendered_and_cached(demo_published: Network) -> None:
    (configmap,) = charts.render("demo", "0.1.0", {"greeting": "hi"}, release="r1", namespace="n")
    assert configmap["metadata"]["name"] == "r1" and configmap["data"] == {"greeting": "hi"}
    assert (charts.CACHE / "demo-0.1.0.tgz").read_bytes() == demo_archive()
    demo_published.archives.clear()  # the next run is offline: the cache serves it
    assert charts.load("demo", "0.1.0").version == "0.1.0"
    assert demo_published.requested == ["https://charts.example.org/demo-0.1.0.tgz"]


def test_a_download_with_another_digest_fails_and_is_not_cached(demo_published: Network) -> None:
    demo_published.archives["https://charts.example.org/demo-0.1.0.tgz"] = demo_archive() + b"tampered"
    with pytest.raises(pytest.fail.Exception, match="refusing it"):
        charts.load("demo", "0.1.0")
    assert not (charts.CACHE / "demo-0.1.0.tgz").exists()


def test_a_cached_archive_with_another_digest_is_downloaded_again(demo_published: Network) -> None:
    charts.CACHE.mkdir(parents=True)
    (charts.CACHE / "demo-0.1.0.tgz").write_bytes(b"not the archive")
    assert charts.load("demo", "0.1.0").name == "demo"
    assert demo_published.requested == ["https://charts.example.org/demo-0.1.0.tgz"]
    assert (charts.CACHE / "demo-0.1.0.tgz").read_bytes() == demo_archive()


def test_an_archive_holding_another_chart_version_is_refused(
    monkeypatch: pytest.MonkeyPatch, alone: Network, tmp_path: Path
) -> None:
    stand_ins = tmp_path / "stand-ins"
    stand_ins.mkdir()
    (stand_ins / "nvidia-device-plugin-0.20.0.tgz").write_bytes(demo_archive("nvidia-device-plugin", "0.19.0"))
    monkeypatch.setattr(charts, "STAND_INS", stand_ins)
    with pytest.raises(pytest.fail.Exception, match=re.escape("holds chart nvidia-device-plugin 0.19.0, not")):
        charts.load("nvidia-device-plugin", "0.20.0")
