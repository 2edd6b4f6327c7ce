"""Regenerate data/charts/cluster-autoscaler/versions.json from a clone of kubernetes/autoscaler.

For every chart tag from 9.38.0 on: the appVersion, the default image tag, and the resources the
ClusterRole's `storage.k8s.io` rule lets the autoscaler list and watch (read from the template).

    git clone --bare https://github.com/kubernetes/autoscaler /tmp/autoscaler.git
    python -m maintenance.autoscaler_charts /tmp/autoscaler.git
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent.parent / "data" / "charts" / "cluster-autoscaler" / "versions.json"
CHART_DIRS = ("charts/cluster-autoscaler", "cluster-autoscaler/charts/cluster-autoscaler")


def _git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def _show(repo: str, commit: str, path: str) -> str | None:
    result = subprocess.run(["git", "-C", repo, "show", f"{commit}:{path}"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def storage_resources(clusterrole_template: str) -> list[str]:
    """Resources of the `storage.k8s.io` rule with list and watch (the template's static part)."""
    items = r"((?:\s*- \S+\s*\n)+)"
    rule = rf"- apiGroups:\s*\n\s*- storage\.k8s\.io\s*\n\s*resources:\s*\n{items}\s*verbs:\s*\n{items}"
    block = re.search(rule, clusterrole_template)
    if not block:
        return []
    resources = re.findall(r"- (\S+)", block.group(1))
    verbs = set(re.findall(r"- (\S+)", block.group(2)))
    return resources if {"list", "watch"} <= verbs else []


def main(repo: str) -> None:
    data = json.loads(DATA.read_text())
    charts = {}
    for tag in _git(repo, "tag", "-l", "cluster-autoscaler-chart-9.*").split():
        version = tag.removeprefix("cluster-autoscaler-chart-")
        if tuple(map(int, version.split("."))) < (9, 38, 0):
            continue
        commit = _git(repo, "rev-parse", f"{tag}^{{commit}}").strip()
        for chart_dir in CHART_DIRS:
            chart_yaml = _show(repo, commit, f"{chart_dir}/Chart.yaml")
            if chart_yaml:
                break
        else:
            continue
        values = yaml.safe_load(_show(repo, commit, f"{chart_dir}/values.yaml") or "{}")
        charts[version] = {
            "appVersion": str(yaml.safe_load(chart_yaml)["appVersion"]),
            "imageTag": values["image"]["tag"],
            "commit": commit,
            "storageResources": storage_resources(_show(repo, commit, f"{chart_dir}/templates/clusterrole.yaml") or ""),
        }
    data["charts"] = dict(sorted(charts.items(), key=lambda item: tuple(map(int, item[0].split(".")))))
    DATA.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
