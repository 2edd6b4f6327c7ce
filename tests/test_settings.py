"""The settings model: every fixture in tests/fixtures/settings either validates (`*.ok.yaml`) or
fails with the exact message a platform engineer would see (`*.error.yaml`, its `expect:` line)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline_plan.mock_engine import PLACEHOLDER_PREFIX, STACKS, load_stack_config
from settings import PROJECT, SettingsError, parse_settings

FIXTURES = Path(__file__).parent / "fixtures" / "settings"


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Deep merge; lists replace, None deletes."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def fixture_config(path: Path, tmp_path: Path) -> tuple[str, dict[str, str], frozenset[str], dict[str, Any]]:
    spec = yaml.safe_load(path.read_text())
    base = yaml.safe_load((STACKS / f"Pulumi.{spec['base']}.yaml").read_text())
    stack_file = tmp_path / f"Pulumi.{spec['base']}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": _merge(base["config"], spec.get("config") or {})}))
    config, secret_keys = load_stack_config(spec["base"], stack_file)
    if "secrets" in spec:  # only these secrets were set with `pulumi config set --secret`
        for key in list(config):
            if config[key].startswith(PLACEHOLDER_PREFIX) and key.split(":", 1)[1] not in spec["secrets"]:
                del config[key]
    for key, value in (spec.get("plaintext") or {}).items():
        config[key] = value
        secret_keys = [k for k in secret_keys if k != key]
    return spec["base"], config, frozenset(secret_keys), spec


OK = sorted(FIXTURES.glob("*.ok.yaml"))
ERRORS = sorted(FIXTURES.glob("*.error.yaml"))


@pytest.mark.parametrize("path", OK, ids=[p.name for p in OK])
def test_valid_settings(path: Path, tmp_path: Path) -> None:
    stack, config, secret_keys, _ = fixture_config(path, tmp_path)
    settings = parse_settings(stack, config, secret_keys)
    assert settings.environment == stack


@pytest.mark.parametrize("path", ERRORS, ids=[p.name for p in ERRORS])
def test_invalid_settings_fail_with_a_message_naming_key_and_fix(path: Path, tmp_path: Path) -> None:
    stack, config, secret_keys, spec = fixture_config(path, tmp_path)
    with pytest.raises(SettingsError) as caught:
        parse_settings(stack, config, secret_keys)
    message = str(caught.value)
    assert spec["expect"] in message
    for line in message.splitlines():
        # Every line names a full config key first, so `pulumi config set` can fix it (a key in an
        # unknown namespace is named as the stack file spells it).
        assert line.startswith((f"{PROJECT}:", "aws:", *(f"{key}:" for key in config))), line
    for value in (spec.get("plaintext") or {}).values():
        assert value not in message, "a secret value leaked into the error message"


def test_every_validated_setting_has_an_error_fixture() -> None:
    """The corpus covers each validator of the model (a new validator needs a fixture)."""
    covered = " ".join(yaml.safe_load(p.read_text())["expect"] for p in ERRORS)
    for key in [
        "network.vpcCidr",
        "network.availabilityZones",
        "network.natGateways",
        "network.interfaceEndpoints",
        "cluster.publicAccessCidrs",
        "cluster.adminRoleArns",
        "cluster.logRetentionDays",
        "cluster.autoscaler.imageTag",
        "cluster.autoscaler.chartVersion",
        "cluster.privateEndpointAccess",
        "cluster.privateEndpointAccess.cidrs",
        "nodeGroups.user.desiredSize",
        "nodeGroups.core.minSize",
        "encryption.keyDeletionWindowDays",
        "data.retainOnDestroy",
        "cost.budget.monthlyLimitUsd",
        "cluster.kubernetesVersion",
        "cluster.addonVersions",
        "cost.budget.alertPercentages",
        "cost.budget.enabled",
        "jupyterhub.github.allowedOrganizations",
        "jupyterhub.github.adminTeams",
        "jupyterhub.oidc",
        "jupyterhub.oidc.allowedGroups",
        "jupyterhub.oidc.adminGroups",
        "jupyterhub.oidc.scopes",
        "jupyterhub.oidc.usernameClaim",
        "jupyterhub.oidc.userinfoUrl",
        "jupyterhub.oidc.tokenUrl",
        "jupyterhub.valuesOverrides",
        "jupyterhub.userServers.profiles",
        "jupyterhub.userServers.shmSize",
        "gpus",
        "nodeGroups.gpu.instanceTypes",
        "sharedDataWriter",
        "data.backup.vaultLock",
        "data.backup.schedule",
        "nodeGroups.amiRelease",
        "jupyterhub.chartVersion",
        "jupyterhub.https.contactEmail",
        "jupyterhub.https.secretName",
        "jupyterhub.https.mode",
        "jupyterhub.https.acmCertificateArn",
        "jupyterhub.subdomainHost",
        "jupyterhub.loadBalancerSourceRanges",
        "jupyterhub.userServers.resources.memoryGuarantee",
        "jupyterhub.userServers.image.tag",
        "data.bucket.breakGlassRoleArns",
        "registry.repositoryName",
        "oauthClientSecret",
        "environment",
        "aws:region",
        "department.homeUsageAlarm.percent",
    ]:
        assert key in covered, f"no error fixture for {key}"


def test_secret_values_are_secret_str() -> None:
    config, secret_keys = load_stack_config("dev")
    settings = parse_settings("dev", config, frozenset(secret_keys))
    assert settings.secrets.oauth_client_secret is not None
    assert PLACEHOLDER_PREFIX not in repr(settings)
    assert PLACEHOLDER_PREFIX not in str(settings.model_dump())


def test_settings_reference_is_generated_from_the_model() -> None:
    from maintenance import settings_doc

    assert settings_doc.main(["--check"]) == 0, "docs/settings.md is stale: run python -m maintenance.settings_doc"


def _without_pins(stack: str) -> dict[str, Any]:
    """The stack file without a version pin: no Kubernetes version, AMI release, add-on or chart version."""
    config = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
    cluster, nodes, hub = config["jhub-eks:cluster"], config["jhub-eks:nodeGroups"], config["jhub-eks:jupyterhub"]
    for section, key in [(cluster, "kubernetesVersion"), (cluster, "addonVersions"), (cluster, "autoscaler"),
                         (nodes, "amiRelease"), (nodes.get("gpu") or {}, "devicePluginChartVersion"),
                         (hub, "chartVersion")]:  # fmt: skip
        section.pop(key, None)
    return config


def _parse(stack: str, config: dict[str, Any], tmp_path: Path) -> Any:
    stack_file = tmp_path / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    loaded, secret_keys = load_stack_config(stack, stack_file)
    return parse_settings(stack, loaded, frozenset(secret_keys))


def test_prod_pins_every_version_it_runs_and_dev_may_follow(tmp_path: Path) -> None:
    from settings import ADDON_VERSIONS

    with pytest.raises(SettingsError) as caught:
        _parse("prod", _without_pins("prod"), tmp_path)
    keys = [line.split(": ", 1)[0].removeprefix(f"{PROJECT}:") for line in str(caught.value).splitlines()]
    assert sorted(keys) == sorted(
        [
            "cluster.kubernetesVersion",
            "nodeGroups.amiRelease",
            *(f"cluster.addonVersions.{addon}" for addon in ADDON_VERSIONS["installed"]),
            "jupyterhub.chartVersion",
            "cluster.autoscaler.chartVersion",
            "nodeGroups.gpu.devicePluginChartVersion",
        ]
    )
    # Written in the stack file, even at today's default value, is pinned: prod as committed passes.
    assert _parse("prod", yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())["config"], tmp_path)
    # dev follows AWS and the program's defaults.
    settings = _parse("dev", _without_pins("dev"), tmp_path)
    assert settings.node_groups.ami_release == "latest" and not settings.cluster.addon_versions
