"""EKS add-on versions: every add-on the program installs has an explicit version, EKS's default for
the cluster's Kubernetes version (read at each `up`, so add-ons follow the control plane on an
upgrade; kube-proxy the most recent, as pulumi-eks installed it) unless pinned, and a pin older than
what AWS documents for that Kubernetes version is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from offline_plan.mock_engine import EKS_ADDON_VERSIONS, Inventory
from policies.checklist import KUBERNETES_VERSIONS, support_phase
from settings import ADDON_VERSIONS, addon_pin_problem
from tests.conftest import ROOT, run_plan


def versions(plan: Inventory) -> dict[str, str]:
    found = {a.inputs["addonName"]: a.inputs.get("addonVersion") for a in plan.of_type("aws:eks/addon:Addon")}
    found["kube-proxy"] = plan.one("eks:index:Cluster").inputs["kubeProxyAddonOptions"]["version"]
    return found


def _pins(stack: str) -> dict[str, str]:
    cluster = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["jhub-eks:cluster"]
    return dict(cluster.get("addonVersions") or {})


def test_every_add_on_has_its_pin_or_the_version_eks_gives_for_the_cluster(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        kubernetes = plan.one("eks:index:Cluster").inputs["version"]
        pins = _pins(plan.stack)
        expected = {
            addon: pins.get(addon)
            or EKS_ADDON_VERSIONS[addon][1 if addon == "kube-proxy" else 0].format(k8s=kubernetes)
            for addon in ADDON_VERSIONS["installed"]
        }
        assert versions(plan) == expected, plan.stack
    # prod pins every one (the settings refuse it otherwise); dev follows EKS.
    assert set(_pins("prod")) == set(ADDON_VERSIONS["installed"]) and not _pins("dev")


def test_a_pin_wins_and_shows_in_the_plan(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"]["jhub-eks:cluster"]["addonVersions"] = {"coredns": "v1.13.2-eksbuild.4"}
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    result = run_plan("dev", tmp_path / "plan.json", stack_file)
    assert result.returncode == 0, result.stderr
    plan = Inventory.from_json(json.loads((tmp_path / "plan.json").read_text()))
    assert versions(plan)["coredns"] == "v1.13.2-eksbuild.4"
    assert versions(plan)["vpc-cni"] == EKS_ADDON_VERSIONS["vpc-cni"][0]


@pytest.mark.parametrize(
    ("pins", "problem"),
    [
        ({"coredns": "v1.11.4-eksbuild.2"}, "older than v1.13.2-eksbuild.4"),
        ({"vpc-cni": "v1.21.1-eksbuild.6"}, "older than v1.21.1-eksbuild.7"),
        ({"kube-proxy": "v1.34.6-eksbuild.2"}, "follows the cluster's minor"),
        ({"metrics-server": "v0.8.0-eksbuild.1"}, "no add-on the program installs"),
    ],
)
def test_a_pin_eks_would_refuse_or_older_than_documented_is_caught(pins: dict[str, str], problem: str) -> None:
    found = addon_pin_problem(pins, "1.35")
    assert found is not None and problem in found[1]
    assert addon_pin_problem({"coredns": "v1.13.2-eksbuild.4", "kube-proxy": "v1.35.3-eksbuild.2"}, "1.35") is None


def test_the_stacks_pins_are_supported_by_their_kubernetes_version() -> None:
    for path in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        cluster = yaml.safe_load(path.read_text())["config"]["jhub-eks:cluster"]
        assert addon_pin_problem(cluster.get("addonVersions") or {}, cluster["kubernetesVersion"]) is None, path.name


def test_versions_in_standard_support_have_documented_versions() -> None:
    """So a pin can be checked at every step of an upgrade."""
    for version in KUBERNETES_VERSIONS["versions"]:
        if support_phase(version) == "standard":
            assert set(ADDON_VERSIONS["documented"][version]) == {"kube-proxy", "coredns", "vpc-cni"}, version
