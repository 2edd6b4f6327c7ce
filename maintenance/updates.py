"""Newer versions of what the stacks pin: Helm charts (from the chart repositories' index.yaml), and,
with AWS credentials, EKS add-ons pinned in `cluster.addonVersions` and AMI releases pinned in
`nodeGroups.amiRelease`. Prod pins all of them (the settings refuse prod without), so its pins are
what this proposes; dev's unpinned add-ons and `amiRelease: latest` follow AWS at each `pulumi up`
and need no pull request.

    python -m maintenance.updates [--aws] --report updates.md   # writes the pins into the stack files

The scheduled workflow (.github/workflows/updates.yml) runs it, plans both stacks before and after,
and opens a pull request with the report and the plan diff. A chart update also needs the chart's
data in data/charts/ (its schema and defaults, or the autoscaler's versions), which the report says.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from offline_plan.mock_engine import STACKS, load_stack_config
from settings import Settings, ami_release_parameter, parse_settings, version_key

PROJECT = "jhub-eks"
# The chart repositories the program installs from (components/*: CHART_REPOSITORY / repository_opts).
CHART_INDEXES = {
    "jupyterhub": "https://hub.jupyter.org/helm-chart/index.yaml",
    "cluster-autoscaler": "https://kubernetes.github.io/autoscaler/index.yaml",
    "nvidia-device-plugin": "https://nvidia.github.io/k8s-device-plugin/index.yaml",
}


@dataclass(frozen=True)
class Update:
    stack: str
    key: str
    """The stack setting, as a path under jhub-eks: (`jupyterhub.chartVersion`)."""
    current: str
    available: str
    follow_up: str = ""


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("-")[0].split("+")[0]))


def _stable(version: str) -> bool:
    return "-" not in version.lstrip("v")


def newest_chart(index: Mapping[str, Any], chart: str, app_minor: str | None = None) -> str | None:
    """The newest stable version of `chart` in a Helm repository index (with `app_minor`: whose
    appVersion is of that minor, as the autoscaler's chart must be)."""
    entries = [
        e
        for e in index.get("entries", {}).get(chart, [])
        if _stable(str(e["version"]))
        and (app_minor is None or ".".join(str(e.get("appVersion", "")).lstrip("v").split(".")[:2]) == app_minor)
    ]
    return max((str(e["version"]) for e in entries), key=_semver, default=None)


def chart_updates(stack: str, settings: Settings, indexes: Mapping[str, Mapping[str, Any]]) -> list[Update]:
    found = []
    kubernetes = settings.cluster.kubernetes_version
    pins = [
        ("jupyterhub", "jupyterhub.chartVersion", settings.jupyterhub.chart_version, None,
         "add data/charts/jupyterhub-<version>/ (values.schema.json, values.yaml; SOURCE.md says how)"),
        ("cluster-autoscaler", "cluster.autoscaler.chartVersion", settings.cluster.autoscaler.chart_version, kubernetes,
         "regenerate data/charts/cluster-autoscaler/versions.json (maintenance/autoscaler_charts.py) and add "
         "data/charts/cluster-autoscaler-<version>/ (values.yaml; SOURCE.md says how)"),
    ]  # fmt: skip
    if settings.node_groups.gpu is not None:
        pins.append(
            ("nvidia-device-plugin", "nodeGroups.gpu.devicePluginChartVersion",
             settings.node_groups.gpu.device_plugin_chart_version, None,
             "add data/charts/nvidia-device-plugin-<version>/ (values.yaml; SOURCE.md says how)")
        )  # fmt: skip
    for chart, key, current, app_minor, follow_up in pins:
        newest = newest_chart(indexes[chart], chart, app_minor)
        if newest and _semver(newest) > _semver(current):
            found.append(Update(stack, key, current, newest, follow_up))
    return found


def aws_updates(stack: str, settings: Settings, aws: Callable[[list[str]], Any]) -> list[Update]:
    """Pinned add-ons against EKS's default for the cluster's version; a pinned AMI release against
    the recommended one (`aws` runs the AWS CLI and returns its JSON)."""
    found = []
    kubernetes = settings.cluster.kubernetes_version
    for addon, pinned in settings.cluster.addon_versions.items():
        answer = aws(["eks", "describe-addon-versions", "--addon-name", addon, "--kubernetes-version", kubernetes])
        defaults = [
            v["addonVersion"]
            for a in answer["addons"]
            for v in a["addonVersions"]
            if any(c.get("clusterVersion") == kubernetes and c.get("defaultVersion") for c in v["compatibilities"])
        ]
        if defaults and version_key(defaults[0]) > version_key(pinned):
            found.append(Update(stack, f"cluster.addonVersions.{addon}", pinned, defaults[0]))
    if settings.node_groups.ami_release != "latest":
        from components.node_groups import NVIDIA_AMI, STANDARD_AMI

        ami_types = [STANDARD_AMI, *([NVIDIA_AMI] if settings.node_groups.gpu else [])]
        releases = [
            aws(["ssm", "get-parameter", "--name", ami_release_parameter(t, kubernetes)])["Parameter"]["Value"]
            for t in ami_types
        ]
        # One pin serves every AMI type: the release all have. Releases are <k8s>.<patch>-<date>.
        oldest = min(releases, key=version_key)
        if version_key(oldest) > version_key(settings.node_groups.ami_release):
            found.append(Update(stack, "nodeGroups.amiRelease", settings.node_groups.ami_release, oldest))
    return found


def apply(update: Update, stack_file: Path) -> None:
    """Write the new version into the stack file (the setting's nested key under jhub-eks:<section>),
    keeping its comments and layout (ruamel's round trip)."""
    from ruamel.yaml import YAML

    round_trip = YAML()
    round_trip.preserve_quotes = True
    document = round_trip.load(stack_file.read_text())
    section, *path = update.key.split(".")
    node = document["config"].setdefault(f"{PROJECT}:{section}", {})
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = update.available
    with stack_file.open("w") as out:
        round_trip.dump(document, out)


def report(updates: list[Update]) -> str:
    if not updates:
        return "Everything the stacks pin is at its newest version.\n"
    lines = ["| stack | setting | pinned | available | also needed |", "|---|---|---|---|---|"]
    lines += [f"| {u.stack} | `{u.key}` | {u.current} | **{u.available}** | {u.follow_up} |" for u in updates]
    return "\n".join(lines) + "\n"


def _fetch_index(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return dict(yaml.safe_load(response.read()))


def _aws_cli(arguments: list[str]) -> Any:
    result = subprocess.run(["aws", *arguments, "--output", "json"], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aws", action="store_true", help="also check pinned add-ons and AMI releases (credentials)")
    parser.add_argument("--report", type=Path, required=True, help="markdown report to write")
    args = parser.parse_args(argv)
    indexes = {chart: _fetch_index(url) for chart, url in CHART_INDEXES.items()}
    updates: list[Update] = []
    for stack_file in sorted(STACKS.glob("Pulumi.*.yaml")):
        stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
        config, secret_keys = load_stack_config(stack, stack_file)
        settings = parse_settings(stack, config, frozenset(secret_keys))
        found = chart_updates(stack, settings, indexes) + (aws_updates(stack, settings, _aws_cli) if args.aws else [])
        for update in found:
            apply(update, stack_file)
        updates += found
    args.report.write_text(report(updates))
    print(report(updates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
