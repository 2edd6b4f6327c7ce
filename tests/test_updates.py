"""The update check (maintenance/updates.py) against the shapes it reads: a Helm repository's index.yaml and
`aws eks describe-addon-versions` / `aws ssm get-parameter` JSON; and that writing a pin keeps the
stack file's comments (a reviewer reads the pull request's diff)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from maintenance.updates import Update, apply, aws_updates, chart_updates, newest_chart
from offline_plan.mock_engine import STACKS, load_stack_config
from settings import parse_settings

INDEX = {
    "apiVersion": "v1",
    "entries": {
        "jupyterhub": [
            {"version": "4.4.0", "appVersion": "5.5.0"},
            {"version": "4.5.0", "appVersion": "5.6.0"},
            {"version": "5.0.0-0.dev.git.7070.h1234", "appVersion": "5.6.0"},
        ],
        "cluster-autoscaler": [
            {"version": "9.59.0", "appVersion": "1.35.0"},
            {"version": "9.60.1", "appVersion": "1.35.2"},
            {"version": "9.62.0", "appVersion": "1.36.1"},
        ],
        "nvidia-device-plugin": [{"version": "0.20.0", "appVersion": "0.20.0"}, {"version": "0.19.2"}],
    },
}


def settings(stack: str, stack_file: Path | None = None) -> Any:
    config, secret_keys = load_stack_config(stack, stack_file)
    return parse_settings(stack, config, frozenset(secret_keys))


def test_newest_stable_chart_and_the_autoscaler_of_the_cluster_s_minor() -> None:
    assert newest_chart(INDEX, "jupyterhub") == "4.5.0"  # not the dev pre-release
    assert newest_chart(INDEX, "cluster-autoscaler", "1.35") == "9.60.1"  # not 1.36's chart
    updates = {u.key: u for u in chart_updates("prod", settings("prod"), {c: INDEX for c in INDEX["entries"]})}
    assert updates["jupyterhub.chartVersion"].available == "4.5.0"
    assert updates["cluster.autoscaler.chartVersion"].available == "9.60.1"
    assert "nodeGroups.gpu.devicePluginChartVersion" not in updates  # 0.20.0 is the newest


def test_pinned_add_ons_and_ami_release_against_aws(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    document = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    document["config"]["jhub-eks:cluster"]["addonVersions"] = {"coredns": "v1.13.2-eksbuild.4"}
    document["config"]["jhub-eks:nodeGroups"]["amiRelease"] = "1.35.3-20251020"
    stack_file.write_text(yaml.safe_dump(document))
    calls: list[list[str]] = []

    def aws(arguments: list[str]) -> Any:
        calls.append(arguments)
        if arguments[:2] == ["eks", "describe-addon-versions"]:
            return {
                "addons": [
                    {
                        "addonName": "coredns",
                        "addonVersions": [
                            {
                                "addonVersion": "v1.14.6-eksbuild.4",
                                "compatibilities": [{"clusterVersion": "1.35", "defaultVersion": False}],
                            },
                            {
                                "addonVersion": "v1.13.2-eksbuild.31",
                                "compatibilities": [{"clusterVersion": "1.35", "defaultVersion": True}],
                            },
                        ],
                    }
                ]
            }
        return {"Parameter": {"Name": arguments[-1], "Value": "1.35.5-20251115"}}

    found = {u.key: u.available for u in aws_updates("dev", settings("dev", stack_file), aws)}
    # EKS's default, not its newest; the recommended AMI release.
    assert found == {"cluster.addonVersions.coredns": "v1.13.2-eksbuild.31", "nodeGroups.amiRelease": "1.35.5-20251115"}
    assert ["eks", "describe-addon-versions", "--addon-name", "coredns", "--kubernetes-version", "1.35"] in calls


def test_writing_a_pin_keeps_the_stack_file_s_comments(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(STACKS / "Pulumi.prod.yaml", stack_file)
    before = stack_file.read_text()
    apply(Update("prod", "cluster.autoscaler.chartVersion", "9.59.0", "9.60.1"), stack_file)
    apply(Update("prod", "jupyterhub.chartVersion", "4.4.0", "4.5.0"), stack_file)
    after = stack_file.read_text()
    comments = [line for line in before.splitlines() if line.strip().startswith("#")]
    assert comments and all(line in after for line in comments)
    config = yaml.safe_load(after)["config"]
    assert config["jhub-eks:cluster"]["autoscaler"]["chartVersion"] == "9.60.1"
    assert config["jhub-eks:jupyterhub"]["chartVersion"] == "4.5.0"


def _describe_addon_versions(default: dict[str, str]) -> Any:
    """`aws eks describe-addon-versions --addon-name <a> --kubernetes-version 1.35`, as EKS answers it: the
    add-on's versions, newest first, one marked as the default for that Kubernetes version."""

    def answer(arguments: list[str]) -> Any:
        if arguments[:2] == ["eks", "describe-addon-versions"]:
            addon = arguments[arguments.index("--addon-name") + 1]
            newest = {
                "addonVersion": "v99.0.0-eksbuild.1",
                "compatibilities": [{"clusterVersion": "1.35", "defaultVersion": False}],
            }
            chosen = {
                "addonVersion": default[addon],
                "compatibilities": [{"clusterVersion": "1.35", "defaultVersion": True}],
            }
            return {"addons": [{"addonName": addon, "addonVersions": [newest, chosen]}]}
        assert arguments[:2] == ["ssm", "get-parameter"], arguments
        variant = "nvidia" if "/nvidia/" in arguments[-1] else "standard"
        return {
            "Parameter": {
                "Name": arguments[-1],
                "Value": {"standard": "1.35.7-20261119", "nvidia": "1.35.7-20261120"}[variant],
            }
        }

    return answer


def test_prod_s_pins_are_found_and_bumped_and_dev_stays_on_latest(tmp_path: Path) -> None:
    prod = settings("prod")
    assert prod.cluster.addon_versions and prod.node_groups.ami_release != "latest"
    newer = {addon: re.sub(r"eksbuild\.\d+", "eksbuild.99", pin) for addon, pin in prod.cluster.addon_versions.items()}
    found = aws_updates("prod", prod, _describe_addon_versions(newer))
    assert {u.key: u.available for u in found} == {
        **{f"cluster.addonVersions.{addon}": version for addon, version in newer.items()},
        # One pin serves the standard and the NVIDIA groups: the release both have.
        "nodeGroups.amiRelease": "1.35.7-20261119",
    }
    # Written into prod's stack file, comments kept, and the result is a valid prod stack.
    stack_file = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(STACKS / "Pulumi.prod.yaml", stack_file)
    for update in found:
        apply(update, stack_file)
    comments = [line for line in (STACKS / "Pulumi.prod.yaml").read_text().splitlines() if line.strip().startswith("#")]
    assert all(line in stack_file.read_text() for line in comments)
    bumped = settings("prod", stack_file)
    assert dict(bumped.cluster.addon_versions) == newer and bumped.node_groups.ami_release == "1.35.7-20261119"

    # dev pins nothing: it follows AWS at each `up`, and no pull request pins it.
    calls: list[list[str]] = []

    def recording(arguments: list[str]) -> Any:
        calls.append(arguments)
        return _describe_addon_versions(newer)(arguments)

    assert aws_updates("dev", settings("dev"), recording) == [] and calls == []
