"""The JupyterHub release: every stack's values validate against the chart's own schema, and each
security setting the guides ask for is present with the right value."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import hub_config
from components.hub_network_policies import PRIVATE_AND_LINK_LOCAL
from components.jupyterhub_values import (
    USER_CONTAINER_SECURITY_CONTEXT,
    USER_POD_SECURITY_CONTEXT,
    build_values,
    kubespawner_memory,
    redacted_secrets,
)
from offline_plan.chart_values import chart_data, schema_problems
from offline_plan.mock_engine import REDACTED, STACKS, UNKNOWN, Inventory
from settings import JupyterHubSettings
from tests.conftest import run_plan
from tests.pod_security import restricted_violations

# The chart's schema and defaults travel with the repository (data/charts/, with their source).
CHART_VERSION = JupyterHubSettings.model_fields["chart_version"].default
CHART = chart_data("jupyterhub", CHART_VERSION)
DEFAULTS = CHART.defaults
RELEASE = "kubernetes:helm.sh/v3:Release"


def schema_errors(values: dict[str, Any]) -> list[str]:
    """Validate as Helm does, with the plan's own check (offline_plan/chart_values.py)."""
    return [f"{p.path}: {p.message}" for p in schema_problems(CHART, values)]


def hub_values(plan: Inventory) -> dict[str, Any]:
    release = next(r for r in plan.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub")
    return release.inputs["values"]


def hub_settings(plan: Inventory) -> dict[str, Any]:
    return yaml.safe_load((STACKS / f"Pulumi.{plan.stack}.yaml").read_text())["config"]["jhub-eks:jupyterhub"]


# ---- The schema check, and that it bites ---------------------------------------------------------


def test_release_values_validate_against_the_chart_schema(plan: Inventory) -> None:
    assert schema_errors(hub_values(plan)) == []


@pytest.mark.parametrize(
    ("old_key", "values"),
    [
        ("singleuser.cloudMetadata.enabled", {"singleuser": {"cloudMetadata": {"enabled": True}}}),
        ("proxy.networkPolicy", {"proxy": {"networkPolicy": {"enabled": True}}}),
        ("singleuser.containerSecurityContext", {"singleuser": {"containerSecurityContext": {}}}),
    ],
)
def test_schema_check_rejects_keys_of_the_old_guides(old_key: str, values: dict[str, Any]) -> None:
    errors = schema_errors(values)
    assert errors and any(old_key.rsplit(".", 1)[-1] in e for e in errors)


@pytest.mark.parametrize("mode", ["letsencrypt", "secret", "acm", "none"])
def test_every_https_mode_renders_valid_values(mode: str) -> None:
    https = {
        "letsencrypt": {"mode": "letsencrypt", "contactEmail": "ops@example.org"},
        "secret": {"mode": "secret", "secretName": "hub-tls"},
        "acm": {"mode": "acm", "acmCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
        "none": {"mode": "none"},
    }[mode]
    hub = JupyterHubSettings.model_validate({"domain": "hub.example.org", "https": https})
    values = build_values(
        hub, storage_class="gp3-encrypted", secrets=redacted_secrets(), certificate_arn=https.get("acmCertificateArn")
    )
    assert schema_errors(values) == []
    service, tls = values["proxy"]["service"], values["proxy"]["https"]
    if mode == "none":
        assert tls == {"enabled": False}
        assert values["hub"]["config"]["GitHubOAuthenticator"]["oauth_callback_url"].startswith("http://")
    else:
        assert tls["enabled"] is True
    if mode == "acm":
        assert tls["type"] == "offload"
        annotations = service["annotations"]
        assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == https["acmCertificateArn"]
        assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "https"
    # Only the ports the mode needs: port 80 stays for Let's Encrypt's challenge and for plain HTTP.
    assert service["disableHttpPort"] is (mode in ("secret", "acm"))


def test_values_overrides_merge_last_and_are_schema_checked() -> None:
    hub = JupyterHubSettings.model_validate(
        {
            "domain": "hub.example.org",
            "https": {"mode": "none"},
            "valuesOverrides": {"singleuser": {"startTimeout": 600}, "hub": {"nodeSelector": {"a": "b"}}},
        }
    )
    values = build_values(hub, storage_class="gp3-encrypted", secrets=redacted_secrets())
    assert values["singleuser"]["startTimeout"] == 600
    assert values["singleuser"]["cloudMetadata"] == {"blockWithIptables": False}  # siblings kept
    bad = JupyterHubSettings.model_validate(
        {"domain": "hub.example.org", "https": {"mode": "none"}, "valuesOverrides": {"singleuser": {"uid": "root"}}}
    )
    assert schema_errors(build_values(bad, storage_class="x", secrets=redacted_secrets()))


# ---- Authentication ------------------------------------------------------------------------------


AUTH_SECTIONS = {"github": "GitHubOAuthenticator", "oidc": "GenericOAuthenticator"}


def test_login_values_follow_the_stack_settings(plan: Inventory) -> None:
    """What the settings say goes to the authenticator's section (who is let in and who is admin is
    tested with the real classes in tests/test_login.py)."""
    config = hub_values(plan)["hub"]["config"]
    settings = hub_settings(plan)
    auth = settings.get("auth", "github")
    section = AUTH_SECTIONS[auth]
    assert config["JupyterHub"]["authenticator_class"] == {"github": "github", "oidc": "generic-oauth"}[auth]
    rules = config[section]
    assert rules["oauth_callback_url"] == f"https://{settings['domain']}/hub/oauth_callback"
    assert rules["manage_groups"] is True and rules["enable_auth_state"] is True
    assert "allow_all" not in rules and "admin_users" not in config["JupyterHub"]
    if auth == "github":
        assert rules["allowed_organizations"] == settings["github"]["allowedOrganizations"]
        assert rules["scope"] == ["read:org"] and rules["populate_teams_in_auth_state"] is True
        assert config["Authenticator"]["admin_users"] == settings["github"]["adminUsers"]
        assert hub_values(plan)["hub"]["extraConfig"]["10-github-teams"] == hub_config.source("github_teams")
    else:
        oidc = settings["oidc"]
        assert rules["allowed_groups"] == oidc["allowedGroups"] and rules["admin_groups"] == oidc["adminGroups"]
        assert rules["token_url"] == oidc["tokenUrl"] and rules["userdata_url"] == oidc["userinfoUrl"]
        assert rules["auth_state_groups_key"] == f"oauth_user.{oidc['groupsClaim']}"
        assert "Authenticator" not in config


def test_hub_secrets_are_pulumi_secrets_and_generated_by_pulumi(plan: Inventory) -> None:
    release = next(r for r in plan.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub")
    expected = {
        "values.hub.config.JupyterHub.cookie_secret",
        "values.hub.config.ConfigurableHTTPProxy.auth_token",
        "values.hub.config.CryptKeeper.keys[0]",
    }
    section = AUTH_SECTIONS[hub_settings(plan).get("auth", "github")]
    expected |= {f"values.hub.config.{section}.client_id", f"values.hub.config.{section}.client_secret"}
    assert expected <= set(release.secret_inputs)
    config = release.inputs["values"]["hub"]["config"]
    assert config["JupyterHub"]["cookie_secret"] == REDACTED
    # The hub's own (the Dask Gateway's service token is tests/test_dask_gateway.py's; the hub database's final
    # snapshot suffix, no secret, tests/test_hub_database.py's).
    generated = [
        r
        for r in plan.of_type("random:index/randomId:RandomId")
        if "-dask-" not in r.name and "-final-snapshot" not in r.name
    ]
    assert len(generated) == 3
    for random_id in generated:
        assert random_id.inputs["byteLength"] == 32
        assert "hex" in random_id.additional_secret_outputs
        assert random_id.inputs["keepers"] == {"generation": str(hub_settings(plan).get("secretsGeneration", 1))}


# ---- HTTPS and the load balancer -----------------------------------------------------------------


def test_https_on_and_load_balancer_limited_to_source_ranges(plan: Inventory) -> None:
    values = hub_values(plan)
    settings = hub_settings(plan)
    assert values["proxy"]["https"]["enabled"] is True
    ranges = values["proxy"]["service"]["loadBalancerSourceRanges"]
    assert ranges == settings["loadBalancerSourceRanges"] and ranges


def test_prod_certificate_and_dns_are_created_in_route53(plans: dict[str, Inventory]) -> None:
    prod = plans["prod"]
    certificate = prod.one("aws:acm/certificate:Certificate")
    assert certificate.inputs["validationMethod"] == "DNS"
    assert certificate.inputs["subjectAlternativeNames"] == ["*.hub.example.org"]  # subdomainHost: wildcard
    annotations = hub_values(prod)["proxy"]["service"]["annotations"]
    validation = prod.one("aws:acm/certificateValidation:CertificateValidation")
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == validation.inputs["certificateArn"]
    names = {r.inputs["name"] for r in prod.of_type("aws:route53/record:Record") if r.inputs["type"] == "CNAME"}
    assert {"hub.example.org", "*.hub.example.org"} <= names
    assert hub_values(prod)["hub"]["config"]["JupyterHub"]["subdomain_host"] == "https://hub.example.org"


# ---- Network policies ----------------------------------------------------------------------------


def _namespace_policies(plan: Inventory) -> dict[str, dict[str, Any]]:
    namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace").inputs["metadata"]["name"]
    return {
        p.inputs["metadata"]["name"]: p.inputs["spec"]
        for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"].get("namespace") == namespace
    }


def test_the_charts_policies_are_off_and_the_programs_are_declared(plan: Inventory) -> None:
    values = hub_values(plan)
    for path in (("hub",), ("proxy", "chp"), ("proxy", "traefik"), ("singleuser",)):
        node: Any = values
        for key in path:
            node = node[key]
        assert node["networkPolicy"] == {"enabled": False}, path
    policies = _namespace_policies(plan)
    assert {"default-deny", "proxy", "hub", "user-servers", "user-scheduler"} <= set(policies)
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, spec in policies.items():
        for rule in spec.get("egress", []):
            assert rule.get("ports"), f"{name}: an egress rule without ports allows every port"


def test_user_servers_reach_only_dns_and_web_ports_on_public_addresses(plan: Inventory) -> None:
    egress = _namespace_policies(plan)["user-servers"]["egress"]
    public_rules = [r for r in egress if r["to"][0].get("ipBlock", {}).get("cidr") == "0.0.0.0/0"]
    (rule,) = public_rules
    (target,) = rule["to"]
    excluded = [ipaddress.IPv4Network(c) for c in target["ipBlock"]["except"]]
    for address in ("169.254.169.254", "10.50.3.4", "172.20.0.10", "192.168.1.1"):
        assert any(ipaddress.IPv4Address(address) in net for net in excluded), address
    ports = {(p["port"], p["protocol"]) for p in rule["ports"]}
    extra = {
        (p["port"], p.get("protocol", "TCP"))
        for p in hub_settings(plan).get("userServers", {}).get("extraEgressPorts", [])
    }
    assert ports == {(80, "TCP"), (443, "TCP")} | extra
    assert set(target["ipBlock"]["except"]) == set(PRIVATE_AND_LINK_LOCAL)
    # Besides: the hub's port, cluster DNS and the Pod Identity agent; no other address range.
    others = [r for r in egress if r is not rule]
    blocks = [peer["ipBlock"]["cidr"] for r in others for peer in r["to"] if "ipBlock" in peer]
    assert blocks in ([], ["169.254.170.23/32"])


def test_no_privileged_iptables_init_container_because_policies_are_enforced(plan: Inventory) -> None:
    assert hub_values(plan)["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    cni = next(a for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "vpc-cni")
    assert json.loads(cni.inputs["configurationValues"])["enableNetworkPolicy"] == "true"
    for template in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1


# ---- User pods -----------------------------------------------------------------------------------


def test_user_pods_meet_pod_security_restricted_without_api_credentials(plan: Inventory) -> None:
    spawner = hub_values(plan)["hub"]["config"]["KubeSpawner"]
    assert restricted_violations(spawner["pod_security_context"], spawner["container_security_context"]) == []
    assert spawner["automount_service_account_token"] is False
    assert hub_values(plan)["singleuser"]["allowPrivilegeEscalation"] is False


def test_restricted_checker_bites() -> None:
    assert restricted_violations({}, {}) != []
    root = {**USER_CONTAINER_SECURITY_CONTEXT, "runAsUser": 0}
    assert "runAsUser must not be 0" in restricted_violations(USER_POD_SECURITY_CONTEXT, root)
    escalating = {**USER_CONTAINER_SECURITY_CONTEXT, "allowPrivilegeEscalation": True}
    assert restricted_violations(USER_POD_SECURITY_CONTEXT, escalating)
    net_admin = {**USER_CONTAINER_SECURITY_CONTEXT, "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}
    assert restricted_violations(USER_POD_SECURITY_CONTEXT, net_admin)


def test_user_pods_resources_storage_scheduling_and_culling(plan: Inventory) -> None:
    values = hub_values(plan)
    user = hub_settings(plan).get("userServers", {})
    singleuser = values["singleuser"]
    resources = user.get("resources", {})
    assert singleuser["cpu"] == {"guarantee": resources["cpuGuarantee"], "limit": resources["cpuLimit"]}
    # KubeSpawner's form of the settings' Kubernetes quantities (4Gi -> 4G: its G is 1024^3).
    assert singleuser["memory"] == {
        "guarantee": kubespawner_memory(resources["memoryGuarantee"]),
        "limit": kubespawner_memory(resources["memoryLimit"]),
    }
    storage_class = plan.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs["metadata"]["name"]
    assert singleuser["storage"]["type"] == "dynamic"
    assert singleuser["storage"]["dynamic"]["storageClass"] == storage_class
    assert values["scheduling"]["userPods"]["nodeAffinity"]["matchNodePurpose"] == "require"
    assert values["scheduling"]["corePods"]["nodeAffinity"]["matchNodePurpose"] == "require"
    for core in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        if core.inputs["labels"]["node-purpose"] == "core":
            assert core.inputs["labels"]["hub.jupyter.org/node-purpose"] == "core"
    # The chart's default user toleration matches the user node group's taint.
    assert DEFAULTS["scheduling"]["userPods"]["tolerations"][0]["key"] == "hub.jupyter.org/dedicated"
    assert values["cull"]["enabled"] is True
    assert values["cull"]["timeout"] == user.get("idleTimeoutSeconds", 3600)


def test_slim_hub_image_pinned_to_the_chart(plan: Inventory) -> None:
    values = hub_values(plan)
    assert values["hub"]["image"] == {"name": "quay.io/jupyterhub/k8s-hub-slim", "tag": "4.4.0"}
    release = next(r for r in plan.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub")
    assert release.inputs["version"] == "4.4.0"
    assert release.inputs["repositoryOpts"]["repo"] == "https://hub.jupyter.org/helm-chart/"
    assert release.inputs["atomic"] is True and release.inputs["cleanupOnFail"] is True
    assert values["singleuser"]["image"]["tag"] != "latest"


def test_namespace_enforces_restricted(plan: Inventory) -> None:
    namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    release = next(r for r in plan.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub")
    assert release.inputs["namespace"] == namespace.inputs["metadata"]["name"]


def test_release_installs_after_nodes_and_addons(plan: Inventory) -> None:
    release = next(r for r in plan.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub")
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        if group.inputs["labels"].get("node-purpose") == "dask-worker":
            continue  # the Dask workers' pool, from zero: the hub needs none of its nodes
        assert group.urn in release.dependencies, group.name


# ---- The first deploy does not wait on an image that cannot exist yet ----------------------------

# `userServers.image` by tag from the stack's registry: the migration path (dev only; prod refuses a tag).
DEV_REPOSITORY = "jhub-dev/jupyter-user"


def _values_by_tag(tmp_path: Path, *pushed: str) -> tuple[dict[str, Any], str]:
    document = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    user = document["config"]["jhub-eks:jupyterhub"]["userServers"]
    del user["environment"]
    user["image"] = {"fromRegistry": True, "tag": "2026.11.1"}
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    out = tmp_path / "dev.json"
    result = run_plan("dev", out, stack_file, *(arg for image in pushed for arg in ("--pushed-image", image)))
    assert result.returncode == 0, result.stderr
    plan = Inventory.from_json(json.loads(out.read_text()))
    return hub_values(plan), result.stdout + result.stderr


def test_first_prod_deploy_runs_the_public_images_pinned_by_digest_and_no_install_hook_pulls(
    plans: dict[str, Inventory],
) -> None:
    # The first `up` creates the ECR repository empty: prod's pins name public docker-stacks images by
    # digest until the promotion writes its own (settings/environments.py).
    values = hub_values(plans["prod"])
    image = values["singleuser"]["image"]
    assert f"{image['name']}:{image['tag']}".startswith("quay.io/jupyter/scipy-notebook@sha256:")
    assert ".dkr.ecr." not in json.dumps(values)
    # The chart's pre-install/pre-upgrade hook would hold an atomic release on an image pull.
    assert values["prePuller"]["hook"]["enabled"] is False
    assert schema_errors(values) == []


def test_first_deploy_by_tag_runs_a_pullable_image(tmp_path: Path) -> None:
    values, output = _values_by_tag(tmp_path)
    image = values["singleuser"]["image"]
    assert (image["name"], image["tag"]) == ("quay.io/jupyterhub/k8s-singleuser-sample", CHART_VERSION)
    assert ".dkr.ecr." not in json.dumps(values)
    assert "is not in this stack's ECR repository yet" in output


def test_a_tag_switches_to_the_registry_image_once_pushed(tmp_path: Path) -> None:
    values, output = _values_by_tag(tmp_path, f"{DEV_REPOSITORY}:2026.11.1")
    image = values["singleuser"]["image"]
    assert image["name"].endswith(f".dkr.ecr.eu-west-1.amazonaws.com/{DEV_REPOSITORY}")
    assert image["tag"] == "2026.11.1"
    assert "not in this stack's ECR repository" not in output


def test_another_pushed_tag_does_not_count(tmp_path: Path) -> None:
    values, _ = _values_by_tag(tmp_path, f"{DEV_REPOSITORY}:2026.10.1")
    assert ".dkr.ecr." not in values["singleuser"]["image"]["name"]


def test_repositories_are_per_stack(plan: Inventory) -> None:
    # dev and prod may share an account: one repository name each, so destroying dev keeps prod's.
    (repository,) = plan.of_type("aws:ecr/repository:Repository")
    assert repository.inputs["name"] == f"jhub-{plan.stack}/jupyter-user"


# ---- Sessions behave as under HTTPS although TLS ends before the hub ------------------------------


@pytest.mark.parametrize("mode", ["letsencrypt", "secret", "acm"])
def test_cookies_are_secure_and_hsts_is_sent_when_tls_ends_before_the_hub(mode: str) -> None:
    # The hub sees plain HTTP from CHP (X-Forwarded-Proto: http), so without these JupyterHub 5.5
    # sets no cookie Secure: public_url (hub cookies), cookie_options (every hub cookie, the hub's
    # _xsrf, and user servers' HubOAuth cookies), and the user server's own _xsrf kwargs.
    https = {
        "letsencrypt": {"mode": "letsencrypt", "contactEmail": "ops@example.org"},
        "secret": {"mode": "secret", "secretName": "hub-tls"},
        "acm": {"mode": "acm", "acmCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
    }[mode]
    hub = JupyterHubSettings.model_validate({"domain": "hub.example.org", "https": https})
    values = build_values(hub, storage_class="gp3", secrets=redacted_secrets(), certificate_arn="arn:cert")
    jupyterhub = values["hub"]["config"]["JupyterHub"]
    assert jupyterhub["public_url"] == "https://hub.example.org/"
    tornado = jupyterhub["tornado_settings"]
    assert tornado["cookie_options"] == {"secure": True}
    assert tornado["headers"]["Strict-Transport-Security"].startswith("max-age=")
    assert tornado["slow_spawn_timeout"] == 0  # the chart's own setting, replaced with the dict
    (user_xsrf,) = values["singleuser"]["extraFiles"].values()
    assert user_xsrf["mountPath"].endswith("/jupyter_server_config.json")
    assert user_xsrf["data"]["ServerApp"]["tornado_settings"]["xsrf_cookie_kwargs"] == {"secure": True}
    # Secure cookies are never sent over plain HTTP: a port-80 login would loop. Only Let's Encrypt
    # keeps port 80 (ACME and the redirect, served by traefik).
    assert values["proxy"]["service"]["disableHttpPort"] is (mode != "letsencrypt")
    assert schema_errors(values) == []


def test_plain_http_dev_hub_does_not_claim_secure_cookies() -> None:
    hub = JupyterHubSettings.model_validate({"domain": "hub.example.org", "https": {"mode": "none"}})
    values = build_values(hub, storage_class="gp3", secrets=redacted_secrets())
    assert "public_url" not in values["hub"]["config"]["JupyterHub"]
    assert values["singleuser"]["extraFiles"] == {}


# ---- The load balancer's name is read only once the release exists -------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_before_the_release_exists_does_not_read_the_proxy_service(tmp_path: Path, stack: str) -> None:
    # A preview of a stack whose release is not installed (the first one, or after a failed first
    # `up`): the engine reads a `.get` whose id is known, and fails with "not found"; it skips the
    # read while the id is unknown. The id must therefore come from the release's own status.
    out = tmp_path / "preview.json"
    result = run_plan(stack, out, None, "--preview")
    assert result.returncode == 0, result.stderr
    preview = Inventory.from_json(json.loads(out.read_text()))
    (read,) = [r for r in preview.reads if r.type == "kubernetes:core/v1:Service"]
    assert read.id == UNKNOWN


def test_after_install_the_proxy_service_is_read_in_the_release_namespace(plan: Inventory) -> None:
    (read,) = [r for r in plan.reads if r.type == "kubernetes:core/v1:Service"]
    namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace").inputs["metadata"]["name"]
    assert read.id == f"{namespace}/proxy-public"
    release = next(r for r in plan.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub")
    assert release.urn in read.dependencies
