"""The security guide's checklist, and the hardening rules the program relies on, as executable rules.

One implementation serves both places that run them: the CrossGuard policy pack (`policies/__main__.py`,
every `pulumi preview`/`up` with `--policy-pack policies`) and the offline plan (`./plan`), which prints
the checklist and exits non-zero when a rule fails. Rules read resources as the engine shows them
(type token, camelCase properties); a value not known yet (first preview) is not a violation.

Each violation says what is wrong and which stack setting fixes it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from settings import opening_traits

EKS_CLUSTER = "aws:eks/cluster:Cluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
CONTROL_PLANE_LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}
# The EKS release calendar (release, end of standard and of extended support per version).
KUBERNETES_VERSIONS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "eks" / "kubernetes-versions.json").read_text()
)


UNKNOWN = "<unknown>"
"""A value the engine does not know yet: in a preview, whatever the provider computes (ids, ARNs,
policies built from them). The pack adapter and the offline plan both put this marker there; a rule
never reads it as a violation (the update checks the real value)."""


def _known(value: Any) -> bool:
    return value != UNKNOWN


@dataclass(frozen=True)
class Resource:
    """What a rule sees of a resource (the policy pack and the offline plan both build these)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    parent: str = ""
    dependencies: Sequence[str] = ()


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    checklist_item: str
    description: str
    check: Callable[[Sequence[Resource]], list[Violation]] = field(repr=False)
    advisory: bool = False
    """Reported (WARN; CrossGuard advisory) without failing the plan or the update."""


def _of_type(resources: Iterable[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def _json(document: Any) -> dict[str, Any] | None:
    if isinstance(document, dict):
        return document
    if isinstance(document, str) and document.startswith("{"):
        try:
            loaded = json.loads(document)
        except json.JSONDecodeError:
            return None
        return loaded if isinstance(loaded, dict) else None
    return None


def _statements(document: Any) -> list[dict[str, Any]]:
    policy = _json(document)
    if not policy:
        return []
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _hub_values(resources: Sequence[Resource]) -> list[tuple[Resource, dict[str, Any]]]:
    return [
        (r, r.props.get("values") or {})
        for r in _of_type(resources, RELEASE)
        if r.props.get("chart") == "jupyterhub" and isinstance(r.props.get("values"), dict)
    ]


def _get(values: Mapping[str, Any], path: str) -> Any:
    current: Any = values
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _clusters(resources: Sequence[Resource]) -> list[Resource]:
    """The EKS clusters as the engine shows them: the `aws:eks/cluster:Cluster` resources (pulumi-eks
    registers one as a child of its `eks:index:Cluster` component). A stack policy receives the
    component's registered outputs only, and those carry no log types, endpoint or version."""
    return _of_type(resources, EKS_CLUSTER)


# ---- The guide's checklist -----------------------------------------------------------------------


# hub.config section of each authenticator the program configures (oauthenticator entry points).
AUTHENTICATOR_SECTIONS = {"github": "GitHubOAuthenticator", "generic-oauth": "GenericOAuthenticator"}


def _login_rules(config: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    authenticator = _get(config, "JupyterHub.authenticator_class")
    section = AUTHENTICATOR_SECTIONS.get(str(authenticator), "")
    return authenticator, (config.get(section) or {}) if section else {}


def oauth_with_allow_rule(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for release, values in _hub_values(resources):
        config = _get(values, "hub.config") or {}
        authenticator, rules = _login_rules(config)
        if authenticator not in AUTHENTICATOR_SECTIONS:
            violations.append(
                Violation(
                    f"JupyterHub uses authenticator {authenticator!r}; set jupyterhub.auth to github or oidc",
                    release.urn,
                )
            )
            continue
        groups = (rules.get("allowed_groups") or []) + (rules.get("admin_groups") or [])
        allow = (
            (rules.get("allowed_organizations") or [])
            + (_get(config, "Authenticator.allowed_users") or [])
            + (groups if rules.get("manage_groups") else [])
        )
        if not allow:
            violations.append(
                Violation(
                    "the login has no allow rule (organizations, teams or groups); set "
                    "jupyterhub.github.allowedOrganizations or jupyterhub.oidc.allowedGroups",
                    release.urn,
                )
            )
        opened = opening_traits(config)
        if opened:
            violations.append(
                Violation(f"{opened} let users in without the allow rules; remove it from valuesOverrides", release.urn)
            )
    return violations


def admins_defined(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for release, values in _hub_values(resources):
        config = _get(values, "hub.config") or {}
        _, rules = _login_rules(config)
        if not (_get(config, "Authenticator.admin_users") or rules.get("admin_groups")):
            violations.append(
                Violation(
                    "no JupyterHub admins; set jupyterhub.github.adminUsers/adminTeams or jupyterhub.oidc.adminGroups",
                    release.urn,
                )
            )
    return violations


def https_enabled(resources: Sequence[Resource]) -> list[Violation]:
    return [
        Violation(
            "the hub is served over plain HTTP; set jupyterhub.https.mode to acm, letsencrypt or secret", release.urn
        )
        for release, values in _hub_values(resources)
        if _get(values, "proxy.https.enabled") is not True
    ]


def _denies_all_in(resource: Resource, namespace: Any) -> bool:
    """A default deny: a NetworkPolicy selecting every pod of the namespace, isolating both
    directions and allowing nothing (a system namespace's allow-all policy also selects every pod).
    The namespace may be unknown in a first preview; then any namespace may be it."""
    return (
        resource.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
        and (_get(resource.props, "metadata.namespace") == namespace or not _known(namespace))
        and _get(resource.props, "spec.podSelector") == {}
        and set(_get(resource.props, "spec.policyTypes") or []) == {"Ingress", "Egress"}
        and not _get(resource.props, "spec.ingress")
        and not _get(resource.props, "spec.egress")
    )


def _open_egress(policy: Resource) -> bool:
    """An egress rule to every address (0.0.0.0/0 with no private or link-local exception, or no
    `to` at all): the internet and the VPC, the metadata service included."""
    for rule in _get(policy.props, "spec.egress") or []:
        peers = rule.get("to") if isinstance(rule, Mapping) else None
        if not peers:
            return True
        for peer in peers:
            block = peer.get("ipBlock") if isinstance(peer, Mapping) else None
            if block and block.get("cidr") == "0.0.0.0/0" and not block.get("except"):
                return True
    return False


def network_policies_enforced(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for release, values in _hub_values(resources):
        namespace = release.props.get("namespace")
        if not any(_denies_all_in(r, namespace) for r in resources):
            violations.append(
                Violation("no default-deny NetworkPolicy in the hub's namespace (components/hub_network_policies.py)")
            )
        for path in ("hub", "proxy.chp", "proxy.traefik", "singleuser"):
            if _get(values, f"{path}.networkPolicy.enabled") is True:
                violations.append(
                    Violation(
                        f"{path}.networkPolicy is on: the chart's policy would add rules next to the program's, "
                        "unseen in a preview; remove it from jupyterhub.valuesOverrides",
                        release.urn,
                    )
                )
        for policy in _of_type(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy"):
            if _get(policy.props, "metadata.namespace") in (namespace, UNKNOWN) and _open_egress(policy):
                violations.append(
                    Violation(
                        f"NetworkPolicy {policy.name} allows egress to every address (the VPC and the metadata "
                        "service included); list the destinations",
                        policy.urn,
                    )
                )
    cni = [r for r in _of_type(resources, "aws:eks/addon:Addon") if r.props.get("addonName") == "vpc-cni"]
    configurations = [_json(r.props.get("configurationValues")) or {} for r in cni]
    enforcing = any(c.get("enableNetworkPolicy") == "true" for c in configurations)
    strict = any(_get(c, "env.NETWORK_POLICY_ENFORCING_MODE") == "strict" for c in configurations)
    if _hub_values(resources) and not enforcing:
        violations.append(
            Violation(
                "no VPC CNI add-on with enableNetworkPolicy: every NetworkPolicy would be ignored "
                "(components/cluster.py)"
            )
        )
    elif _hub_values(resources) and not strict:
        violations.append(
            Violation(
                "the VPC CNI enforces in `standard` mode: a new pod is open until its policies are programmed; "
                "set env.NETWORK_POLICY_ENFORCING_MODE strict (components/cluster.py)"
            )
        )
    return violations


def _access_log_target(bucket: Resource, resources: Sequence[Resource]) -> bool:
    """Whether S3 delivers server access logs into `bucket` (a BucketLogging names it as its
    target; while the target's name is not known yet, any BucketLogging that waits for it)."""
    names = {bucket.props.get("bucket"), bucket.props.get("id")} - {None, UNKNOWN}
    for logging in _of_type(resources, "aws:s3/bucketLogging:BucketLogging"):
        target = logging.props.get("targetBucket")
        if target in names or (not _known(target) and bucket.urn in logging.dependencies):
            return True
    return False


def s3_buckets_protected(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for bucket in _of_type(resources, "aws:s3/bucket:Bucket"):
        # Matched by dependency, not by name: the bucket's name is not known at the first preview.
        def attached(type_: str, _urn: str = bucket.urn) -> list[Resource]:
            return [r for r in _of_type(resources, type_) if _urn in r.dependencies]

        encryption = attached("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        algorithms = {
            _get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
            for r in encryption
            for rule in _as_list(r.props.get("rules"))
        }
        kms = bool(algorithms & {"aws:kms", "aws:kms:dsse"})
        # S3 delivers server access logs only into SSE-S3 (AES256) buckets: there, SSE-S3 it is.
        log_target = "AES256" in algorithms and _access_log_target(bucket, resources)
        if not (kms or log_target):
            violations.append(
                Violation(
                    f"bucket {bucket.name} has no SSE-KMS default encryption (SSE-S3 only on a server access "
                    "log target, the one encryption S3 delivers logs into)",
                    bucket.urn,
                )
            )
        blocks = attached("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        if not any(all(r.props.get(k) is True for k in keys) for r in blocks):
            violations.append(Violation(f"bucket {bucket.name} lacks all four public-access blocks", bucket.urn))
        policies = attached("aws:s3/bucketPolicy:BucketPolicy")
        denies_plain_http = any(
            s.get("Effect") == "Deny" and _get(s, "Condition.Bool.aws:SecureTransport") == "false"
            for r in policies
            for s in _statements(r.props.get("policy"))
        )
        known = all(_known(r.props.get("policy")) for r in policies)
        if known and not denies_plain_http:
            violations.append(Violation(f"bucket {bucket.name} accepts requests without TLS", bucket.urn))
    return violations


def least_privilege_iam(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for policy in _of_type(resources, "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
        for statement in _statements(policy.props.get("policy")):
            actions = _as_list(statement.get("Action"))
            if (
                statement.get("Effect") == "Allow"
                and "*" in _as_list(statement.get("Resource"))
                and any(a == "*" or a.endswith(":*") for a in actions)
            ):
                violations.append(Violation(f"{policy.name} allows {actions} on every resource", policy.urn))
    for role in _of_type(resources, "aws:iam/role:Role"):
        for statement in _statements(role.props.get("assumeRolePolicy")):
            if statement.get("Action") != "sts:AssumeRoleWithWebIdentity":
                continue
            equals = _get(statement, "Condition.StringEquals") or {}
            subjects = [v for k, v in equals.items() if k.endswith(":sub")]
            audiences = [v for k, v in equals.items() if k.endswith(":aud")]
            if "StringLike" in (statement.get("Condition") or {}) or not subjects or any("*" in s for s in subjects):
                violations.append(Violation(f"{role.name}: IRSA trust is not pinned to one service account", role.urn))
            if audiences != ["sts.amazonaws.com"]:
                violations.append(
                    Violation(f"{role.name}: IRSA trust does not require audience sts.amazonaws.com", role.urn)
                )
    return violations


def control_plane_audit_logging(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for cluster in _clusters(resources):
        log_types = cluster.props.get("enabledClusterLogTypes")
        if not _known(log_types):
            continue
        enabled = set(log_types or [])
        missing = CONTROL_PLANE_LOG_TYPES - enabled
        if missing:
            violations.append(
                Violation(f"control-plane log types off: {sorted(missing)} (components/cluster.py)", cluster.urn)
            )
    if not _clusters(resources):
        violations.append(Violation("no EKS cluster found to check"))
    return violations


def alarms_present(resources: Sequence[Resource]) -> list[Violation]:
    alarms = _of_type(resources, "aws:cloudwatch/metricAlarm:MetricAlarm")
    filters = " ".join(
        str(r.props.get("pattern")) for r in _of_type(resources, "aws:cloudwatch/logMetricFilter:LogMetricFilter")
    )
    rules = " ".join(
        str(r.props.get("eventPattern")) for r in _of_type(resources, "aws:cloudwatch/eventRule:EventRule")
    )
    violations = []
    # A pattern built from values not known yet (security group ids in a first preview) is checked
    # at the update.
    pending = UNKNOWN in filters or UNKNOWN in rules
    wanted = {
        "failed Kubernetes API authentications": "access denied" in filters,
        "failed JupyterHub logins": "not allowed" in filters,
        "user bucket 4xx responses": any(a.props.get("metricName") == "4xxErrors" for a in alarms),
        "security-group changes": "AuthorizeSecurityGroupIngress" in rules,
        "GuardDuty findings": "aws.guardduty" in rules,
    }
    wanted = {what: present or pending for what, present in wanted.items()}
    for what, present in wanted.items():
        if not present:
            violations.append(Violation(f"no alarm for {what} (components/alarms.py, detection settings)"))
    for alarm in alarms:
        if not alarm.props.get("alarmActions"):
            violations.append(Violation(f"alarm {alarm.name} notifies nobody", alarm.urn))
    return violations


def image_scanning(resources: Sequence[Resource]) -> list[Violation]:
    return [
        Violation(f"repository {r.name} does not scan on push (components/registry.py)", r.urn)
        for r in _of_type(resources, "aws:ecr/repository:Repository")
        if _get(r.props, "imageScanningConfiguration.scanOnPush") is not True
    ]


def today() -> date:
    """The date the support windows are judged on (tests pin it)."""
    return date.today()


def _support_window(version: str) -> dict[str, str] | None:
    return KUBERNETES_VERSIONS["versions"].get(version)


def support_phase(version: str) -> str:
    """`standard`, `extended` (billed extra per cluster hour) or `unknown`, judged on today()."""
    window = _support_window(version)
    if window is None:
        return "unknown"
    return "extended" if today() > date.fromisoformat(window["endOfStandardSupport"]) else "standard"


def supported_kubernetes(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for cluster in _clusters(resources):
        version = str(cluster.props.get("version") or "")
        if version == UNKNOWN:
            continue
        window = _support_window(version)
        if window is None:
            violations.append(
                Violation(
                    f"Kubernetes {version!r} is not in the EKS release calendar the checklist carries "
                    "(data/eks/kubernetes-versions.json); use a version in standard support",
                    cluster.urn,
                )
            )
        elif support_phase(version) == "extended":
            violations.append(
                Violation(
                    f"Kubernetes {version} left EKS standard support on {window['endOfStandardSupport']} (extended "
                    "support costs extra per cluster hour and ends in an automatic upgrade); raise "
                    "cluster.kubernetesVersion",
                    cluster.urn,
                )
            )
    return violations


def kubernetes_support_ending(resources: Sequence[Resource]) -> list[Violation]:
    """Advisory: the version leaves standard support within the warning window."""
    violations = []
    warn = timedelta(days=int(KUBERNETES_VERSIONS["warnDaysBefore"]))
    for cluster in _clusters(resources):
        version = str(cluster.props.get("version") or "")
        window = _support_window(version)
        if window is None:
            continue
        end = date.fromisoformat(window["endOfStandardSupport"])
        if today() <= end <= today() + warn:
            violations.append(
                Violation(
                    f"Kubernetes {version} leaves EKS standard support on {end}; plan the upgrade "
                    "(cluster.kubernetesVersion, then the autoscaler chart of that minor)",
                    cluster.urn,
                )
            )
    return violations


# ---- Hardening the program relies on -------------------------------------------------------------

POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"


def namespaces_enforce_restricted(resources: Sequence[Resource]) -> list[Violation]:
    """Advisory: a namespace the program creates enforces less than Pod Security `restricted`."""
    violations = []
    for namespace in _of_type(resources, "kubernetes:core/v1:Namespace"):
        metadata = namespace.props.get("metadata") or {}
        labels = (metadata.get("labels") if isinstance(metadata, Mapping) else None) or {}
        level = labels.get(POD_SECURITY_ENFORCE) if isinstance(labels, Mapping) else UNKNOWN
        if level in ("restricted", UNKNOWN):
            continue
        violations.append(
            Violation(
                f"namespace {metadata.get('name')} enforces Pod Security {level or 'privileged (no label)'!r}, not "
                "'restricted': a pod may run "
                "as root or keep capabilities; set jupyterhub.podSecurity: restricted",
                namespace.urn,
            )
        )
    return violations


ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ENVIRONMENT_TAG = "environment"  # a cost tag of every AWS resource (components/tagging.py)
VERSION_SOURCE_TAG = "jhub-eks/version-source"
"""Where the program took an add-on's version or a node group's AMI release from, as a tag on it: PINNED
(the stack file) or the lookup made at that run (preflight.py: `eks-default`, `eks-most-recent`,
`ssm-recommended`). The engine sees a concrete version either way; only this tells a pin from a lookup."""
PINNED = "stack-file"
PULUMI_EKS_CLUSTER = "eks:index:Cluster"
# What each versioned type calls its version, what happens without one, and the setting that pins it.
VERSIONED = {
    ADDON: ("addonVersion", "EKS installs its default at creation, which no preview shows"),
    NODE_GROUP: ("releaseVersion", "EKS starts it on the newest AMI release, which no preview shows"),
    RELEASE: ("version", "Helm installs the repository's newest chart at every `up`"),
}


def _type_in_urn(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>` -> `<type>`."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def _inside_pulumi_eks(resource: Resource) -> bool:
    """Declared by pulumi-eks's component (its kube-proxy add-on), tagged with the component's tags only: out
    of the program's reach. Its pin is the settings' check (cluster.addonVersions.kube-proxy in prod)."""
    return _type_in_urn(resource.parent) == PULUMI_EKS_CLUSTER


def versions_pinned(resources: Sequence[Resource]) -> list[Violation]:
    """Every add-on, node group and Helm release names its version; in prod, every add-on's version and node
    group's release comes from the stack file. (Dev may follow AWS: the program reads the version at each `up`,
    so it is explicit there too, and the preview shows a change. A prod chart version left to the program's
    default is the settings' check: the engine sees a version either way.)"""
    violations = []
    for resource in resources:
        if resource.type not in VERSIONED:
            continue
        key, without = VERSIONED[resource.type]
        what = resource.props.get("addonName") or resource.props.get("chart") or resource.name
        version = resource.props.get(key)
        if not version:
            violations.append(Violation(f"{what} has no {key}: {without}; declare it with a version", resource.urn))
            continue
        tags = resource.props.get("tags")
        if not isinstance(tags, Mapping) or tags.get(ENVIRONMENT_TAG) != "prod" or resource.type == RELEASE:
            continue
        source = tags.get(VERSION_SOURCE_TAG)
        if source == PINNED or not _known(source) or _inside_pulumi_eks(resource):
            continue
        setting = f"cluster.addonVersions.{what}" if resource.type == ADDON else "nodeGroups.amiRelease"
        violations.append(
            Violation(
                f"prod's {what} runs {version}, read at this run ({source or 'no ' + VERSION_SOURCE_TAG + ' tag'}), "
                f"not pinned: a later `up` moves it unreviewed; pin {setting} in the stack file",
                resource.urn,
            )
        )
    return violations


def imds_hop_limit_1(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for template in _of_type(resources, "aws:ec2/launchTemplate:LaunchTemplate"):
        metadata = template.props.get("metadataOptions") or {}
        if metadata.get("httpTokens") != "required" or metadata.get("httpPutResponseHopLimit") != 1:
            violations.append(
                Violation(
                    f"{template.name}: nodes must require IMDSv2 with hop limit 1 (components/node_groups.py)",
                    template.urn,
                )
            )
    return violations


def kms_rotation(resources: Sequence[Resource]) -> list[Violation]:
    return [
        Violation(f"KMS key {r.name} does not rotate (components/encryption.py)", r.urn)
        for r in _of_type(resources, "aws:kms/key:Key")
        if r.props.get("enableKeyRotation") is not True
    ]


def api_not_open_to_world(resources: Sequence[Resource]) -> list[Violation]:
    violations = []
    for cluster in _clusters(resources):
        vpc = cluster.props.get("vpcConfig") or {}
        public = vpc.get("endpointPublicAccess") if isinstance(vpc, Mapping) else UNKNOWN
        cidrs = (vpc.get("publicAccessCidrs") if isinstance(vpc, Mapping) else None) or []
        if public is not True or not _known(cidrs):
            continue
        if not cidrs or any(ipaddress.ip_network(c, strict=False).prefixlen == 0 for c in cidrs):
            violations.append(
                Violation(
                    "the Kubernetes API is open to the whole internet; set cluster.publicAccessCidrs "
                    "or cluster.endpointPublicAccess: false",
                    cluster.urn,
                )
            )
    return violations


def databases_private_encrypted_kept(resources: Sequence[Resource]) -> list[Violation]:
    """The hub's database on RDS (components/hub_database.py): encrypted with a customer key, not publicly
    accessible, with automated backups and deletion protection."""
    violations = []
    for instance in _of_type(resources, "aws:rds/instance:Instance"):
        props = instance.props
        problems = []
        if props.get("storageEncrypted") is not True or not props.get("kmsKeyId"):
            problems.append("storage not encrypted with the program's key")
        if props.get("publiclyAccessible") is True:
            problems.append("publicly accessible")
        retention = props.get("backupRetentionPeriod")
        if _known(retention) and not (isinstance(retention, int | float) and retention >= 1):
            problems.append("no automated backups")
        if props.get("deletionProtection") is not True:
            problems.append("no deletion protection")
        if problems:
            violations.append(
                Violation(
                    f"RDS instance {instance.name}: {', '.join(problems)}; the hub database must be private, "
                    "encrypted and kept (hubDatabase settings, components/hub_database.py)",
                    instance.urn,
                )
            )
    return violations


RULES: list[Rule] = [
    Rule(
        "oauth-allow-rule",
        "GitHub OAuth configured with organization restrictions (or OpenID Connect with groups)",
        "Login only through OAuth with an allow rule.",
        oauth_with_allow_rule,
    ),
    Rule(
        "admins-defined",
        "Admin users defined",
        "JupyterHub has at least one admin.",
        admins_defined,
    ),
    Rule(
        "https-enabled",
        "HTTPS enabled with valid certificates",
        "The hub is served over HTTPS.",
        https_enabled,
    ),
    Rule(
        "network-policies-enforced",
        "Network policies enabled",
        "The hub namespace has a default deny and the program's own policies (the chart's off), none with an "
        "egress to every address, and the VPC CNI enforces them in strict mode.",
        network_policies_enforced,
    ),
    Rule(
        "s3-encryption-tls-public-block",
        "S3 bucket encryption enabled",
        "Every bucket: SSE-KMS (a server access log target: SSE-S3, all S3 delivers into), TLS-only policy, "
        "all public-access blocks.",
        s3_buckets_protected,
    ),
    Rule(
        "least-privilege-iam",
        "IAM roles follow least privilege",
        "No wildcard actions on every resource; IRSA trust pinned to one service account.",
        least_privilege_iam,
    ),
    Rule(
        "control-plane-audit-logging",
        "Audit logging enabled",
        "All five EKS control-plane log types are on.",
        control_plane_audit_logging,
    ),
    Rule(
        "alarms-present",
        "Monitoring alerts configured",
        "The guide's alarms and the GuardDuty rule exist and notify someone.",
        alarms_present,
    ),
    Rule(
        "image-scanning",
        "Image scanning enabled",
        "Every ECR repository scans on push.",
        image_scanning,
    ),
    Rule(
        "supported-kubernetes",
        "Regular security updates applied",
        "The cluster runs a Kubernetes version in EKS standard support (data/eks/kubernetes-versions.json).",
        supported_kubernetes,
    ),
    Rule(
        "kubernetes-support-ending",
        "Regular security updates applied (upgrade ahead)",
        "Warns while the cluster's Kubernetes version has under 90 days of standard support left.",
        kubernetes_support_ending,
        advisory=True,
    ),
    Rule(
        "pod-security-restricted",
        "(hardening) Pod Security restricted enforced",
        "Every namespace the program creates enforces Pod Security restricted (warns when a setting lowers it).",
        namespaces_enforce_restricted,
        advisory=True,
    ),
    Rule(
        "versions-pinned",
        "Regular security updates applied (reviewed versions)",
        "Every EKS add-on, node group and Helm release names its version; in prod each add-on's version and node "
        f"group's AMI release comes from the stack file (tag {VERSION_SOURCE_TAG}: {PINNED}), not a lookup at `up`.",
        versions_pinned,
    ),
    Rule(
        "imds-hop-limit-1",
        "(hardening) IMDSv2 with hop limit 1",
        "Pods cannot reach node credentials.",
        imds_hop_limit_1,
    ),
    Rule(
        "kms-rotation",
        "(hardening) KMS key rotation",
        "Every customer-managed key rotates.",
        kms_rotation,
    ),
    Rule(
        "database-private-encrypted",
        "(hardening) hub database private, encrypted and kept",
        "An RDS hub database is encrypted with the program's key, not publicly accessible, backed up and "
        "protected from deletion.",
        databases_private_encrypted_kept,
    ),
    Rule(
        "api-not-open-to-world",
        "(hardening) no world-open API endpoint",
        "A public API endpoint is limited to CIDRs.",
        api_not_open_to_world,
    ),
]


def evaluate(resources: Sequence[Resource]) -> dict[str, list[Violation]]:
    """Run every rule; returns rule id -> violations (empty list: passed)."""
    return {rule.id: rule.check(resources) for rule in RULES}
