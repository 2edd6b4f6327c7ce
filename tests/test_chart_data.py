"""The repository stands alone: the chart data the tests use is carried in it, unchanged from its
source, and nothing in the product reaches outside the clone (a user's clone has nothing beside it)."""

from __future__ import annotations

import hashlib
import re
import subprocess

from offline_plan.mock_engine import ROOT
from settings import JupyterHubSettings

CHART_DIR = ROOT / "data" / "charts" / f"jupyterhub-{JupyterHubSettings.model_fields['chart_version'].default}"


def test_chart_data_matches_the_pinned_chart_and_its_recorded_hashes() -> None:
    note = (CHART_DIR / "SOURCE.md").read_text()
    recorded = dict((name, digest) for digest, name in re.findall(r"^\s+([0-9a-f]{64})\s+(\S+)$", note, re.M))
    assert set(recorded) == {"values.schema.json", "values.yaml"}
    for name, digest in recorded.items():
        assert hashlib.sha256((CHART_DIR / name).read_bytes()).hexdigest() == digest, name


# The one reader of the shared folder: the chart renderer's last resort, a local stand-in for the
# chart repositories where none is reachable; without it the tests skip (tests/test_chart_render.py
# shows it on a clone that stands alone).
SHARED_FOLDER_READERS = {"tests/charts.py"}


def test_no_tracked_file_reaches_outside_the_clone() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    offenders = []
    for name in tracked.split():
        path = ROOT / name
        if (
            path.suffix not in {".py", ".sh", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".txt", ""}
            or not path.is_file()
            or name in SHARED_FOLDER_READERS
        ):
            continue
        text = path.read_text(errors="replace")
        if re.search(r"\.\./shared|parents\[2\]\s*/\s*[\"']shared|\.parent\s*/\s*[\"']shared", text):
            offenders.append(name)
    assert offenders == []
