"""The offline plan: run the program for a stack under mocks and show what it would declare.

    python -m offline_plan.plan [STACK] [--stack-file PATH] [--out PATH]

Prints the planned resources grouped by component with the security settings that matter, and
writes the full inventory (type, name, parent, inputs, dependencies; secrets redacted) as JSON.
Exits 2 with the settings error message when the stack settings are invalid, and when a Helm release's
values are refused by its chart's values schema (Helm would refuse them at install, so the stack cannot be
deployed: a settings error, typically `jupyterhub.valuesOverrides`); exits 3 when the security checklist fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from components.cluster import CREATOR_TAG
from offline_plan.access import render_access
from offline_plan.capacity import capacity_cost, render_capacity, render_capacity_cost
from offline_plan.chart_values import HELM_INSTALLS, ChartDataError, ReleaseValues, SchemaProblem, release_values
from offline_plan.cost import CostReport, estimate, load_prices
from offline_plan.cost import render as render_cost
from offline_plan.department import render_department
from offline_plan.deploy_graph import render_longest_chain
from offline_plan.environments import environment_lines
from offline_plan.mock_engine import (
    BOOTSTRAP_DETECTOR,
    ROOT,
    Inventory,
    PlanError,
    Recorded,
    load_stack_config,
    run,
    secrets_not_in_stack_file,
)
from offline_plan.reachability import reachability
from offline_plan.reachability import render as render_reachability
from policies.checklist import RULES, Resource, Violation, evaluate, support_phase
from settings import Settings, SettingsError, parse_settings

Summary = Callable[[dict[str, Any]], str]


def _policy_summary(document: Any) -> str:
    try:
        policy = json.loads(document) if isinstance(document, str) else document
    except json.JSONDecodeError:
        return "policy: <unparsed>"
    parts = []
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal", {})
        who = ",".join(f"{k}={v}" for k, v in principal.items()) if isinstance(principal, dict) else str(principal)
        conditions = ";".join(f"{op}:{sorted(c)}" for op, c in statement.get("Condition", {}).items())
        label = statement.get("Sid") or statement.get("Action")
        parts.append(f"[{statement['Effect']} {label} {who} {conditions}]".replace("  ", " "))
    return " ".join(parts)


def _widget_titles(body: Any) -> str:
    """A dashboard's widget titles; its body waits on other resources' outputs in a first preview."""
    try:
        return "; ".join(w["properties"]["title"] for w in json.loads(body)["widgets"])
    except (TypeError, ValueError, KeyError):
        return "widgets known once the bucket and alarms exist (a first preview)"


def _event_selector(selector: dict[str, Any]) -> str:
    """One advanced event selector in words: its category, then each other condition."""
    words = {"equals": "=", "startsWiths": "starts with", "endsWiths": "ends with", "notEquals": "!="}
    words |= {"notStartsWiths": "does not start with", "notEndsWiths": "does not end with"}
    parts: list[str] = []
    for condition in selector.get("fieldSelectors", []):
        for operator, values in condition.items():
            if operator == "field" or not values:
                continue
            if condition["field"] == "eventCategory" and operator == "equals":
                parts.insert(0, "/".join(values) + " events")
            else:
                parts.append(f"{condition['field']} {words.get(operator, operator)} {' or '.join(values)}")
    return ", ".join(parts)


def _trail_summary(i: dict[str, Any]) -> str:
    selectors = i.get("advancedEventSelectors") or []
    records = "; ".join(_event_selector(s) for s in selectors) if selectors else "management events (the default)"
    if selectors and not any("Management events" in _event_selector(s) for s in selectors):
        records += "; NO management events (another trail records them)"
    return (
        f"{i.get('name')} multi-region={i.get('isMultiRegionTrail')} validation={i.get('enableLogFileValidation')} "
        f"kms={'yes' if i.get('kmsKeyId') else 'NO'}; records: {records}"
    )


def _lifecycle_summary(i: dict[str, Any]) -> str:
    rules = []
    for rule in i.get("rules", []):
        actions = []
        if (rule.get("expiration") or {}).get("days"):
            actions.append(f"objects expire after {rule['expiration']['days']}d")
        if (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays"):
            actions.append(f"non-current versions after {rule['noncurrentVersionExpiration']['noncurrentDays']}d")
        if (rule.get("abortIncompleteMultipartUpload") or {}).get("daysAfterInitiation"):
            days = rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]
            actions.append(f"incomplete uploads aborted after {days}d")
        rules.append(f"{rule.get('id')} ({rule.get('status')}): {', '.join(actions) or 'no action'}")
    return "; ".join(rules)


SUMMARIES: dict[str, Summary] = {
    "aws:kms/key:Key": lambda i: (
        f"rotation={i.get('enableKeyRotation')} every {i.get('rotationPeriodInDays')}d, "
        f"deletion window={i.get('deletionWindowInDays')}d; {_policy_summary(i.get('policy', '{}'))}"
    ),
    "aws:kms/alias:Alias": lambda i: str(i.get("name")),
    "aws:cloudwatch/logGroup:LogGroup": lambda i: (
        f"{i.get('name')} kms={'yes' if i.get('kmsKeyId') else 'NO'} retention={i.get('retentionInDays')}d"
    ),
    "aws:cloudtrail/trail:Trail": _trail_summary,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _lifecycle_summary,
    "aws:s3/bucketPolicy:BucketPolicy": lambda i: _policy_summary(i.get("policy", "{}")),
    "aws:s3/bucketLogging:BucketLogging": lambda i: (
        f"server access logs of {i.get('bucket')} -> {i.get('targetBucket')}/{i.get('targetPrefix')}"
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": lambda i: "; ".join(
        f"{r['applyServerSideEncryptionByDefault'].get('sseAlgorithm')}"
        + (" customer key" if r["applyServerSideEncryptionByDefault"].get("kmsMasterKeyId") else "")
        + (" bucket keys" if r.get("bucketKeyEnabled") else "")
        for r in i.get("rules", [])
    ),
    "aws:ec2/vpc:Vpc": lambda i: f"cidr={i.get('cidrBlock')} dns={i.get('enableDnsHostnames')}",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": lambda i: (
        f"ingress rules={len(i.get('ingress', []))} egress rules={len(i.get('egress', []))}"
    ),
    "aws:ec2/subnet:Subnet": lambda i: (
        f"{i.get('availabilityZone')} {i.get('cidrBlock')} public-ip-on-launch={i.get('mapPublicIpOnLaunch')} "
        f"lb-role={[k for k in i.get('tags', {}) if k.startswith('kubernetes.io/role/')]}"
    ),
    "aws:ec2/route:Route": lambda i: (
        f"{i.get('destinationCidrBlock')} -> {'NAT' if i.get('natGatewayId') else 'IGW' if i.get('gatewayId') else '?'}"
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda i: (
        f"{i.get('serviceName')} {i.get('vpcEndpointType')} private-dns={i.get('privateDnsEnabled', False)}"
    ),
    "aws:ec2/securityGroup:SecurityGroup": lambda i: (
        "ingress "
        + ", ".join(
            f"{r.get('protocol')}/{r.get('fromPort')}-{r.get('toPort')} from {r.get('cidrBlocks')}"
            for r in i.get("ingress", [])
        )
    ),
    "aws:ec2/flowLog:FlowLog": lambda i: f"traffic={i.get('trafficType')} -> {i.get('logDestinationType')}",
    "aws:iam/role:Role": lambda i: "trust " + _policy_summary(i.get("assumeRolePolicy", "{}")),
    "aws:iam/rolePolicy:RolePolicy": lambda i: _policy_summary(i.get("policy", "{}")),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": lambda i: str(i.get("policyArn")),
    "eks:index:Cluster": lambda i: (
        f"k8s {i.get('version')}, logs={i.get('enabledClusterLogTypes')}, "
        f"secrets-kms={'yes' if i.get('encryptionConfigKeyArn') else 'NO'}, "
        f"private-endpoint={i.get('endpointPrivateAccess')}, public-endpoint={i.get('endpointPublicAccess')} "
        f"{i.get('publicAccessCidrs', '')}, auth={i.get('authenticationMode')}, oidc={i.get('createOidcProvider')}, "
        f"admins={[e.get('principalArn') for e in i.get('accessEntries', {}).values()]}, "
        f"deletion-protection={i.get('deletionProtection')}, "
        f"kube-proxy {(i.get('kubeProxyAddonOptions') or {}).get('version', '(most recent at each up)')}"
    ),
    "aws:eks/addon:Addon": lambda i: (
        f"{i.get('addonName')} {i.get('addonVersion', '(EKS default at creation)')} "
        f"irsa={'yes' if i.get('serviceAccountRoleArn') else 'no'} "
        f"config={i.get('configurationValues', '{}')}"
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": lambda i: (
        f"IMDS tokens={i['metadataOptions'].get('httpTokens')} "
        f"hop-limit={i['metadataOptions'].get('httpPutResponseHopLimit')}, "
        f"root volume {i['blockDeviceMappings'][0]['ebs'].get('volumeType')} "
        f"encrypted={i['blockDeviceMappings'][0]['ebs'].get('encrypted')} "
        f"kms={'customer key' if i['blockDeviceMappings'][0]['ebs'].get('kmsKeyId') else 'NONE'}, "
        f"ssh key={i.get('keyName', 'none')}"
    ),
    "aws:eks/nodeGroup:NodeGroup": lambda i: (
        f"{i.get('instanceTypes')} {i.get('capacityType')} size {i['scalingConfig']['minSize']}.."
        f"{i['scalingConfig']['maxSize']} labels={i.get('labels')} taints={i.get('taints', [])} "
        f"subnets={len(i.get('subnetIds', []))} private, AMI release {i.get('releaseVersion')}"
    ),
    "aws:backup/vault:Vault": lambda i: (
        f"{i.get('name')} kms={'customer key' if i.get('kmsKeyArn') else 'AWS-owned'} "
        f"force-destroy={i.get('forceDestroy')}"
    ),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": lambda i: (
        f"min retention {i.get('minRetentionDays')}d, "
        + (
            f"compliance mode (lock fixed after {i['changeableForDays']}d)"
            if i.get("changeableForDays")
            else "governance mode"
        )
    ),
    "aws:backup/plan:Plan": lambda i: "; ".join(
        f"{r.get('ruleName')} {r.get('schedule')} keep {r.get('lifecycle', {}).get('deleteAfter')}d" for r in i["rules"]
    ),
    "aws:backup/selection:Selection": lambda i: (
        f"resources={i.get('resources')} AND "
        + " AND ".join(f"{c['key']}={c['value']}" for group in i.get("conditions", []) for c in group["stringEquals"])
    ),
    "aws:cloudwatch/dashboard:Dashboard": lambda i: (
        f"{i.get('dashboardName')}: {_widget_titles(i.get('dashboardBody'))}"
    ),
    "aws:budgets/budget:Budget": lambda i: (
        f"{i.get('limitAmount')} {i.get('limitUnit')} per month of "
        f"{[v for f in i.get('costFilters', []) for v in f['values']]}; alerts "
        + ", ".join(f"{n['notificationType']} > {n['threshold']:g}%" for n in i.get("notifications", []))
        + " -> alert topic"
    ),
    "kubernetes:storage.k8s.io/v1:StorageClass": lambda i: (
        f"{i['metadata']['name']} {i.get('provisioner')} {i.get('parameters')} reclaim={i.get('reclaimPolicy')}"
    ),
    "kubernetes:core/v1:Namespace": lambda i: (
        f"{i['metadata']['name']} pod-security enforce="
        f"{(i['metadata'].get('labels') or {}).get('pod-security.kubernetes.io/enforce', 'none (privileged)')}"
    ),
    "random:index/randomId:RandomId": lambda i: f"{i.get('byteLength')} random bytes, keepers={i.get('keepers')}",
    "aws:route53/record:Record": lambda i: f"{i.get('name')} {i.get('type')} -> {i.get('records')}",
    "aws:acm/certificate:Certificate": lambda i: (
        f"{i.get('domainName')} +{i.get('subjectAlternativeNames', [])} validation={i.get('validationMethod')}"
    ),
    "aws:rds/instance:Instance": lambda i: (
        f"{i.get('engine')} {i.get('engineVersion')} {i.get('instanceClass')} multi-az={i.get('multiAz')} "
        f"encrypted={i.get('storageEncrypted')} kms={'customer key' if i.get('kmsKeyId') else 'NONE'} "
        f"public={i.get('publiclyAccessible')} backups={i.get('backupRetentionPeriod')}d "
        f"deletion-protection={i.get('deletionProtection')}"
    ),
    "kubernetes:helm.sh/v3:Release": lambda i: (
        f"chart {i.get('chart')} {i.get('version')} in {i.get('namespace')} atomic={i.get('atomic')}"
    ),
    "kubernetes:helm.sh/v4:Chart": lambda i: f"chart {i.get('chart')} {i.get('version')} in {i.get('namespace')}",
}


def _component_of(resource: Recorded, by_urn: dict[str, Recorded]) -> str:
    """The top-level component a resource belongs to (its ancestor right under the stack)."""
    current = resource
    while current.parent in by_urn and by_urn[current.parent].type != "pulumi:pulumi:Stack":
        current = by_urn[current.parent]
    return f"{current.type} {current.name}" if current is not resource or not resource.custom else "(stack)"


def render(inventory: Inventory) -> str:
    by_urn = {r.urn: r for r in inventory.resources}
    groups: dict[str, list[Recorded]] = defaultdict(list)
    for resource in inventory.resources:
        if resource.type.startswith("jhub:") or resource.type == "pulumi:pulumi:Stack":
            continue
        groups[_component_of(resource, by_urn)].append(resource)
    # Resources as the summary counts them: a package's component (eks:index:Cluster, a helm.sh/v4 Chart) is
    # listed under its component but is no resource of its own (the header said 176, the summary 175).
    declared = sum(1 for group in groups.values() for resource in group if resource.custom)
    lines = [f"Offline plan for stack '{inventory.stack}': {declared} resources"]
    for component in sorted(groups):
        lines.append("")
        lines.append(f"== {component} ({len(groups[component])})")
        for resource in sorted(groups[component], key=lambda r: (r.type, r.name)):
            summary = SUMMARIES.get(resource.type)
            detail = summary(resource.inputs) if summary else ""
            short_type = resource.type.split(":")[-1] if resource.type.count(":") >= 2 else resource.type
            lines.append(f"  {short_type:<24} {resource.name}")
            if detail:
                lines.append(f"      {detail}")
            if resource.secret_inputs:
                lines.append(f"      secret inputs (redacted): {resource.secret_inputs}")
    lines.append("")
    lines.append("Stack outputs:")
    for key, value in inventory.outputs.items():
        marker = " (secret)" if key in inventory.secret_outputs else ""
        lines.append(f"  {key}{marker}: {json.dumps(value)}")
    return "\n".join(lines)


def checklist_view(inventory: Inventory) -> list[Resource]:
    """The stack as the engine hands it to a stack policy: each resource's outputs (a component's
    registered outputs only; unknowns in a preview), its parent and direct dependencies."""
    return [Resource(r.type, r.name, r.urn, r.outputs, r.parent, r.dependencies) for r in inventory.resources]


Results = dict[str, list[Violation]]
"""Rule id -> its violations (policies.checklist.evaluate over checklist_view), computed once per plan."""


def render_checklist(stack: str, results: Results) -> tuple[str, bool]:
    """The security checklist for the stack (the policy pack's rules); and whether all passed."""
    lines = [f"Security checklist for '{stack}' (mandatory; the same rules as policies/):"]
    for rule in RULES:
        violations = results[rule.id]
        status = "PASS" if not violations else ("WARN" if rule.advisory else "FAIL")
        lines.append(f"  [{status}] {rule.checklist_item} ({rule.id})")
        lines += [f"         - {v.message}" for v in violations]
    return "\n".join(lines), all(not results[rule.id] for rule in RULES if not rule.advisory)


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def write_values_files(inventory: Inventory, folder: Path) -> list[Path]:
    """The values each Helm release receives, exactly as recorded (secret leaves redacted)."""
    paths = []
    for release in (r for kind in HELM_INSTALLS for r in inventory.of_type(kind)):
        path = folder / f"values-{inventory.stack}-{release.inputs.get('name', release.name)}.yaml"
        path.write_text(yaml.safe_dump(release.inputs.get("values", {}), sort_keys=True))
        paths.append(path)
    return paths


def _set_by_overrides(problem: SchemaProblem, overrides: Any) -> str:
    """' (set by <stack key>)' when the stack's valuesOverrides hold the refused value, else ''."""
    node = overrides
    for key in problem.keys:
        if not isinstance(node, dict) or key not in node:
            return ""
        node = node[key]
    dotted = ".".join(str(k) for k in problem.keys)
    return f" (set by jhub-eks:jupyterhub.valuesOverrides{'.' + dotted if dotted else ''})"


def check_release_values(inventory: Inventory, settings: Settings) -> tuple[list[ReleaseValues], str | None]:
    """Each release's values against its chart version's schema; and the error that stops the plan, if any."""
    try:
        checked = [release_values(release) for kind in HELM_INSTALLS for release in inventory.of_type(kind)]
    except ChartDataError as error:
        return [], str(error)
    refused = [c for c in checked if c.problems]
    if not refused:
        return checked, None
    lines = []
    for check in refused:
        overrides = settings.jupyterhub.values_overrides if check.chart.name == "jupyterhub" else {}
        schema = check.chart.folder.relative_to(ROOT) / "values.schema.json"
        lines.append(
            f"Helm would refuse the values of release '{check.release}': chart {check.chart.label}'s values "
            f"schema ({schema}) does not accept them:"
        )
        lines += [f"  {p.path}: {p.message}{_set_by_overrides(p, overrides)}" for p in check.problems]
    return checked, "\n".join(lines)


def render_release_values(checked: list[ReleaseValues]) -> str:
    lines = ["Helm values (each release's, over its chart's defaults, as Helm checks them at install):"]
    lines += [f"  {check.release}: {check.summary}" for check in checked]
    return "\n".join(lines)


def fit_to_terminal(text: str, width: int) -> str:
    """Wrap lines wider than the terminal at spaces, continuing under their own indent plus four: a label
    is never cut (a single word longer than the line stays whole)."""
    fitted = []
    for line in text.splitlines():
        if width <= 0 or len(line) <= width:
            fitted.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        fitted += textwrap.wrap(
            line.strip(),
            width=width,
            initial_indent=indent,
            subsequent_indent=indent + "    ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    return "\n".join(fitted)


def failing_rules(results: Results) -> list[str]:
    """One line per violation of a mandatory rule: the rule and what fixes it (the message names the key)."""
    return [f"{rule.id}: {v.message}" for rule in RULES if not rule.advisory for v in results[rule.id]]


def render_summary(inventory: Inventory, cost: CostReport, results: Results, access: str, artifacts: list[Path]) -> str:
    """One screen at the end of every run: what is declared, what it costs, who gets in, the checklist."""
    counts: dict[str, int] = defaultdict(int)
    for resource in inventory.resources:
        if resource.custom and resource.type != "pulumi:pulumi:Stack":
            counts[inventory.component_of(resource) or "(stack)"] += 1
    failed = [r.id for r in RULES if results[r.id] and not r.advisory]
    warned = [r.id for r in RULES if results[r.id] and r.advisory]
    checklist = f"{len(RULES) - len(failed) - len(warned)} of {len(RULES)} rules pass"
    checklist += f"; FAIL: {', '.join(failed)}" if failed else ""
    checklist += f"; WARN: {', '.join(warned)}" if warned else ""
    unpriced = cost.unpriced()
    partial = f" (PARTIAL: {len(unpriced)} items unpriced)" if unpriced else ""
    login = next((line.strip() for line in access.splitlines() if "may log in:" in line), "")
    lines = [
        f"Summary of '{inventory.stack}' ({cost.region}):",
        f"  resources: {sum(counts.values())} in {len(counts)} components ("
        + ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        + ")",
        f"  monthly cost: {cost.total('min'):,.2f} USD fixed at the minimum node sizes, "
        f"{cost.total('desired'):,.2f} at the desired sizes{partial}",
        f"  {login or 'login: unknown in this preview'}",
        f"  checklist: {checklist}",
        f"  artifacts: {', '.join(str(_shown(path)) for path in artifacts)}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", nargs="?", default="dev")
    parser.add_argument("--stack-file", type=Path, help="stack file to use instead of stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="inventory JSON path (default build/plan-<stack>.json)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary line")
    parser.add_argument(
        "--pushed-image",
        action="append",
        default=[],
        metavar="REPOSITORY:TAG",
        help="plan as if this image were in ECR (default: the first deploy, no repository exists yet)",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="model the first `pulumi preview` of a new stack: provider-computed values unknown",
    )
    parser.add_argument(
        "--caller",
        metavar="ARN",
        help="who runs `pulumi up` (sts:GetCallerIdentity ARN; default: the CI deploy role of the stack's account)",
    )
    parser.add_argument(
        "--existing-cluster",
        action="append",
        default=[],
        metavar="NAME[=CREATOR_ARN][@VERSION]",
        help="plan as if this EKS cluster existed, created by CREATOR_ARN, running Kubernetes VERSION "
        "(default: the first deploy)",
    )
    parser.add_argument(
        "--existing-log-group",
        action="append",
        default=[],
        metavar="NAME",
        help="plan as if this log group existed (e.g. re-created by EKS after a destroy)",
    )
    parser.add_argument(
        "--no-guardduty-detector",
        action="store_true",
        help="plan as if the region had no GuardDuty detector (bootstrap/ not run)",
    )
    parser.add_argument(
        "--no-reachability",
        action="store_true",
        help="skip the NetworkPolicy analyzer (for callers that analyze the inventory themselves)",
    )
    args = parser.parse_args(argv)
    clusters: dict[str, dict[str, str]] = {}
    cluster_versions: dict[str, str] = {}
    for entry in args.existing_cluster:
        entry, _, version = entry.partition("@")
        name, _, creator = entry.partition("=")
        clusters[name] = {CREATOR_TAG: creator} if creator else {}
        if version:
            cluster_versions[name] = version
    ecr_images: dict[str, list[str]] = {}
    for image in args.pushed_image:
        repository, _, tag = image.rpartition(":")
        ecr_images.setdefault(repository, []).append(tag)

    try:
        inventory = run(
            args.stack,
            args.stack_file,
            ecr_images=ecr_images,
            preview=args.preview,
            caller_arn=args.caller,
            clusters=clusters,
            cluster_versions=cluster_versions,
            log_groups=args.existing_log_group,
            detector=None if args.no_guardduty_detector else BOOTSTRAP_DETECTOR,
        )
    except PlanError as error:
        print(f"error: {error}\n({error.declared} resources were declared before the error)", file=sys.stderr)
        return 2
    except SettingsError as error:  # the stack file itself: missing, not YAML
        print(f"error: {error}", file=sys.stderr)
        return 2
    config, secret_keys = load_stack_config(args.stack, args.stack_file)
    settings = parse_settings(args.stack, config, frozenset(secret_keys))
    checked_values, refused = check_release_values(inventory, settings)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    out = args.out or ROOT / "build" / f"plan-{args.stack}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(inventory.to_json(), indent=1, sort_keys=True))
    values_files = write_values_files(inventory, out.parent)
    table = "" if args.no_reachability else render_reachability(reachability(inventory), inventory.stack)
    reachability_file = out.parent / f"reachability-{inventory.stack}.txt"
    if table:
        reachability_file.write_text(table + "\n")
    # The terminal's width (120 when it has none, as in CI); JHUB_EKS_PLAN_WIDTH overrides it, 0: no wrapping.
    width = int(os.environ.get("JHUB_EKS_PLAN_WIDTH") or shutil.get_terminal_size((120, 40)).columns)

    def show(block: str = "") -> None:
        print(fit_to_terminal(block, width))

    text = render(inventory)
    show(text.splitlines()[0] if args.quiet else text)
    cost = estimate(inventory, load_prices(settings.region), support_phase, settings.cost.active_hours_per_month)
    cost_file = out.parent / f"cost-{inventory.stack}.json"
    cost_file.write_text(json.dumps(cost.to_json(), indent=1) + "\n")
    if not args.quiet:
        show()
        show(render_cost(cost))
        show()
        show(render_capacity(settings))
        show()
        show(render_capacity_cost(settings, capacity_cost(settings, cost, load_prices(settings.region)), cost))
    budget = settings.cost.budget
    if budget.enabled and budget.monthly_limit_usd is not None and budget.monthly_limit_usd < cost.total("min"):
        show(
            f"[WARN] cost.budget.monthlyLimitUsd {budget.monthly_limit_usd:,.0f} is below the stack's fixed monthly "
            f"cost ({cost.total('min'):,.0f} at the minimum node sizes): the budget alerts every month"
        )
    results = evaluate(checklist_view(inventory))
    checklist, passed = render_checklist(inventory.stack, results)
    access = render_access(inventory)
    show()
    show(render_longest_chain(inventory))
    show()
    show(render_release_values(checked_values))
    show()
    show(checklist)
    if not args.quiet:
        show()
        show(access)
        show()
        show("\n".join(environment_lines(settings)))
        show(render_department(inventory))
    if table and not args.quiet:
        show()
        show(table)
    artifacts = [out, cost_file, *([reachability_file] if table else []), *values_files]
    show()
    show(render_summary(inventory, cost, results, access, artifacts))
    if unset := secrets_not_in_stack_file(args.stack, args.stack_file):
        show(
            f"  secrets not in the stack file: {', '.join(unset)} (planned with placeholders; `pulumi up` stops "
            f"until each is set: pulumi config set --secret {unset[0]} <value>)"
        )
    if not passed:
        failures = "\n".join(f"  - {line}" for line in failing_rules(results))
        print(fit_to_terminal(f"error: the security checklist failed:\n{failures}", width), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
