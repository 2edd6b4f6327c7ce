"""Run the real Pulumi program offline under Pulumi's mocks and record what it declares.

No Pulumi CLI, provider plugin, cloud account or network is used: the program's resource
registrations go to a mock monitor that records type, name, parent, inputs (secrets redacted) and
dependencies. The offline plan (``offline_plan/plan.py``) and the tests both run the program through here.
"""

from __future__ import annotations

import hashlib
import json
import re
import runpy
import sys
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime.rpc import UNKNOWN as _UNKNOWN_SENTINEL  # how the SDK sends an unknown value

from policies.checklist import (
    KUBERNETES_VERSIONS,  # the EKS release calendar (data/eks/)
    UNKNOWN,  # the rules' marker for a value the engine does not know yet
)

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
PROJECT = "jhub-eks"
ACCOUNT_ID = "123456789012"
# The region's GuardDuty detector as bootstrap/ leaves it (the environment stacks read it).
BOOTSTRAP_DETECTOR: dict[str, Any] = {
    "id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "tags": {"managed-by": "jhub-eks-bootstrap"},
}

# Who runs the program by default: the CI deploy role of bootstrap/ (github_oidc.CI_ROLE_PREFIX), in
# the stack's account (the account of its admin roles).
DEFAULT_CALLER_ROLE = "ci-jhub-eks-deploy"


def default_caller(config: dict[str, Any]) -> str:
    """The CI deploy role's session ARN in the account the stack's admin roles belong to."""
    try:
        admins = json.loads(config.get(f"{PROJECT}:cluster", "{}")).get("adminRoleArns") or []
        account = str(admins[0]).split(":")[4]
    except (ValueError, AttributeError, TypeError, IndexError, KeyError):
        account = ACCOUNT_ID  # no or a malformed cluster setting: the settings check reports it

    return f"arn:aws:sts::{account}:assumed-role/{DEFAULT_CALLER_ROLE}/GitHubActions"


SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's wire signature of a secret value
SIG_KEY = "4dabf18193072939515e22adb298388d"
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
REDACTED = "[secret]"

# Secrets the stack file cannot hold in plain text: the plan runs with these placeholders.
PLACEHOLDER_PREFIX = "offline-placeholder-"


class PlanError(Exception):
    """The program stopped (e.g. invalid settings); ``declared`` resources were registered before."""

    def __init__(self, message: str, declared: int) -> None:
        super().__init__(message)
        self.declared = declared


@dataclass
class Recorded:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    secret_inputs: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    provider: str = ""
    id: str = ""
    """Physical id the mock provider returned (stands in for the real one in references)."""
    arn: str = ""
    """ARN the mock provider returned, where the type has one."""
    retain_on_delete: bool = False
    protect: bool = False
    import_id: str = ""
    """The `import` option: the id of an existing cloud resource the engine adopts."""
    additional_secret_outputs: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the engine shows of the resource after the step, and so what a stack policy receives as
    its properties: a custom resource's state (its inputs and what the provider computed, which is
    unknown in a preview of a create); a component's registered outputs only."""
    synthesized: bool = False
    """Registered by a packaged component's own provider (pulumi-eks), modelled here: mocks do not
    run a remote component's code."""


@dataclass
class Read:
    """A `Resource.get` the program makes: the engine reads the object by `id`, or skips the read
    in a preview while the id is unknown."""

    type: str
    name: str
    id: str
    dependencies: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    stack: str
    resources: list[Recorded]
    outputs: dict[str, Any]
    secret_outputs: list[str]
    reads: list[Read] = field(default_factory=list)

    def component_of(self, resource: Recorded) -> str:
        """The type name of the nearest component of the program's own (`jhub:`) above a resource
        (`jhub:aws:NodeGroups` -> `NodeGroups`), or "" for a resource outside every component."""
        node = self._by_urn.get(resource.parent)
        while node is not None:
            if node.type.startswith("jhub:"):
                return node.type.rsplit(":", 1)[-1]
            node = self._by_urn.get(node.parent)
        return ""

    @cached_property
    def _by_urn(self) -> dict[str, Recorded]:
        return {r.urn: r for r in self.resources}

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name_part: str = "") -> Recorded:
        found = [r for r in self.of_type(type_) if name_part in r.name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} named *{name_part}*, found {[r.name for r in found]}")
        return found[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [asdict(r) for r in self.resources],
            "outputs": self.outputs,
            "secretOutputs": self.secret_outputs,
            "reads": [asdict(r) for r in self.reads],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Inventory:
        return cls(
            stack=data["stack"],
            resources=[Recorded(**r) for r in data["resources"]],
            outputs=data["outputs"],
            secret_outputs=data["secretOutputs"],
            reads=[Read(**r) for r in data.get("reads", [])],
        )


# ---- Stack file -> Pulumi config ----------------------------------------------------------------


class _StackFileLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; the Pulumi CLI (Go yaml.v3) refuses the file with
    'mapping key "<key>" already defined at line <n>'. A key written twice (a prod setting pasted
    below dev's) would otherwise plan one value and deploy none."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"mapping key {key!r} already defined at line {seen[key]}; keep one of the two",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_stack_file(path: Path, stack: str | None = None) -> dict[str, Any]:
    """The stack file's YAML; raises SettingsError (one message, no traceback) when there is no such
    stack, the YAML does not parse (with the file, line and column) or its `config` is not a mapping."""
    from settings import SettingsError

    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS.glob("Pulumi.*.yaml"))
        what = f"no stack named {stack!r}" if stack else f"no stack file {path}"
        raise SettingsError(
            f"{what}: the stacks are {', '.join(known)} (stacks/Pulumi.<stack>.yaml), or pass --stack-file"
        )
    try:
        document = yaml.load(path.read_text(), Loader=_StackFileLoader) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise SettingsError(f"{where}: the stack file is not valid YAML ({problem}); fix it at that line") from None
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise SettingsError(f"{path}: a stack file is a mapping with a `config:` mapping of keys to values")
    for key in document.get("config") or {}:
        if not isinstance(key, str):  # YAML reads `123:` as a number and `yes:` as true
            raise SettingsError(
                f"{path}: config key {key!r} is not a setting's name; keys are <namespace>:<key>, "
                "such as jhub-eks:cluster or aws:region"
            )
    return document


def load_stack_config(
    stack: str, stack_file: Path | None = None, project: str = PROJECT
) -> tuple[dict[str, str], list[str]]:
    """Read ``stacks/Pulumi.<stack>.yaml`` into Pulumi's flat config map and its secret keys.

    Values are passed the way the Pulumi engine passes them: scalars as strings, objects and lists
    as JSON. ``secure:`` values cannot be decrypted offline; they, and the required secrets that are
    set only with ``pulumi config set --secret``, get placeholders marked secret.
    """
    from settings import SECRET_KEYS

    path = stack_file or STACKS / f"Pulumi.{stack}.yaml"
    document = read_stack_file(path, stack if stack_file is None else None)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full_key] = PLACEHOLDER_PREFIX + full_key.split(":", 1)[1]
            secret_keys.append(full_key)
        elif isinstance(value, (dict, list)):
            config[full_key] = json.dumps(value)
        elif value is None:
            config[full_key] = ""  # `key:` with nothing after it: an empty value, as the Pulumi CLI reads it
        elif isinstance(value, bool):
            config[full_key] = "true" if value else "false"
        else:
            config[full_key] = str(value)
    for key in SECRET_KEYS if project == PROJECT else ():
        full_key = f"{PROJECT}:{key}"
        if full_key not in config:
            config[full_key] = PLACEHOLDER_PREFIX + key
            secret_keys.append(full_key)
    return config, secret_keys


def secrets_not_in_stack_file(stack: str, stack_file: Path | None = None) -> list[str]:
    """The required secrets the stack file holds no `secure:` value for: the plan runs with placeholders, but
    `pulumi up` stops until each is set (`pulumi config set --secret` writes it into the file, encrypted)."""
    from settings import SECRET_KEYS

    keys = set(read_stack_file(stack_file or STACKS / f"Pulumi.{stack}.yaml").get("config") or {})
    return [key for key in SECRET_KEYS if key not in keys and f"{PROJECT}:{key}" not in keys]


# ---- Mocks --------------------------------------------------------------------------------------


def _redact(value: Any, path: str, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            secrets.append(path or "<root>")
            return REDACTED
        return {k: _redact(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if value == _UNKNOWN_SENTINEL:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Struct carries every number as a double
    return value


def _arn_of(registration: Any) -> str:
    """The ARN in a mock registration's state ("" for the stack and ARN-less types)."""
    return str(registration.state.get("arn", "")) if registration is not None else ""


def _references_to_urns(struct: Any) -> None:
    """Replace every resource reference in a protobuf Struct by its URN string, in place."""
    for key in list(struct.fields):
        value = struct.fields[key]
        kind = value.WhichOneof("kind")
        if kind == "struct_value":
            fields = value.struct_value.fields
            if SIG_KEY in fields and fields[SIG_KEY].string_value == RESOURCE_REF_SIG:
                struct.fields[key].string_value = fields["urn"].string_value
            else:
                _references_to_urns(value.struct_value)
        elif kind == "list_value":
            for item in value.list_value.values:
                if item.WhichOneof("kind") != "struct_value":
                    continue
                fields = item.struct_value.fields
                if SIG_KEY in fields and fields[SIG_KEY].string_value == RESOURCE_REF_SIG:
                    item.string_value = fields["urn"].string_value
                else:
                    _references_to_urns(item.struct_value)


# /aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/x86_64/<standard|nvidia>/recommended/release_version
# (EKS user guide "Retrieve recommended Amazon Linux AMI IDs"; terraform-aws-eks uses the same names).
EKS_AMI_RELEASE_PARAMETER = re.compile(
    r"/aws/service/eks/optimized-ami/(?P<k8s>\d+\.\d+)/amazon-linux-2023/x86_64/(?P<variant>standard|nvidia)"
    r"/recommended/release_version"
)
AMI_RELEASE_DATE = "20251115"
"""The release the offline plan pretends AWS recommends today."""

# What the offline plan pretends `eks:DescribeAddonVersions` answers: EKS's default and most recent
# version of each add-on for a Kubernetes version (illustrative: public readings of 1.35's, 2026-10).
# EKS knows these add-on names (and many more); an unknown name or Kubernetes version is the
# provider's "empty result", as in a real account.
EKS_ADDON_VERSIONS: dict[str, tuple[str, str]] = {
    "vpc-cni": ("v1.22.4-eksbuild.3", "v1.23.2-eksbuild.1"),
    "eks-pod-identity-agent": ("v1.3.10-eksbuild.3", "v1.4.0-eksbuild.3"),
    "kube-proxy": ("v{k8s}.3-eksbuild.2", "v{k8s}.3-eksbuild.29"),
    "coredns": ("v1.13.2-eksbuild.31", "v1.14.6-eksbuild.4"),
    "aws-ebs-csi-driver": ("v1.57.1-eksbuild.1", "v1.64.0-eksbuild.1"),
    "amazon-cloudwatch-observability": ("v6.4.0-eksbuild.1", "v6.6.0-eksbuild.1"),
    "aws-guardduty-agent": ("v1.12.1-eksbuild.2", "v1.12.1-eksbuild.2"),
}


def _outputs_for(type_: str, name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    """Plausible provider outputs, so downstream code (ARN parsing, JSON policies) runs for real."""
    digest = hashlib.sha256(f"{type_}/{name}".encode()).hexdigest()[:12]
    service = type_.split(":")[1].split("/")[0] if type_.count(":") >= 2 else "mock"
    outputs: dict[str, Any] = {
        "arn": f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{type_.rsplit(':', 1)[-1].lower()}/{name}",
        "id": f"{name}-{digest}",
    }
    if type_.startswith("aws:") and "name" not in inputs:
        outputs["name"] = name  # auto-naming: the physical name defaults to the logical one
    if type_ == "aws:kms/key:Key":
        outputs["keyId"] = digest
        outputs["arn"] = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{digest}"
    elif type_ == "aws:iam/role:Role":
        outputs["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
        outputs["name"] = name
    elif type_ == "aws:cloudwatch/logGroup:LogGroup":
        outputs["arn"] = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{inputs.get('name', name)}"
    elif type_ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        outputs["arn"] = f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{inputs.get('name', name)}"
    elif type_ == "aws:sns/topic:Topic":
        # SNS topic ARNs end in the bare topic name (arn:aws:sns:<region>:<account>:<name>).
        outputs["arn"] = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{inputs.get('name', name)}"
    elif type_ == "aws:ec2/launchTemplate:LaunchTemplate":
        outputs["latestVersion"] = 1
    elif type_ == "random:index/randomId:RandomId":
        outputs["hex"] = hashlib.sha256(f"{type_}/{name}/hex".encode()).hexdigest()[: 2 * int(inputs["byteLength"])]
    elif type_ == "aws:eks/nodeGroup:NodeGroup":
        # EKS makes one Auto Scaling group per managed node group, named eks-<node group>-<uuid>.
        outputs["resources"] = [{"autoscalingGroups": [{"name": f"eks-{name}-{digest}"}]}]
    elif type_ == "eks:index:Cluster":
        issuer = f"oidc.eks.{region}.amazonaws.com/id/{digest.upper()}"
        outputs.update(
            kubeconfigJson=json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [], "users": []}),
            oidcProviderArn=f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer}",
            oidcProviderUrl=f"https://{issuer}",
            oidcIssuer=issuer,
            clusterSecurityGroupId=f"sg-{digest}",
        )
    elif type_ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name)}{digest}"
        outputs.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", id=bucket)
    elif type_ == "aws:ecr/repository:Repository":
        outputs["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{inputs.get('name', name)}"
        outputs["arn"] = f"arn:aws:ecr:{region}:{ACCOUNT_ID}:repository/{inputs.get('name', name)}"
    elif type_ == "aws:rds/instance:Instance":
        # RDS's endpoint: <identifier>.<12 characters of the account and region>.<region>.rds.amazonaws.com
        outputs["address"] = f"{inputs.get('identifier', name)}.{digest[:12]}.{region}.rds.amazonaws.com"
        outputs["arn"] = f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{inputs.get('identifier', name)}"
    elif type_ == "aws:acm/certificate:Certificate":
        domain = inputs.get("domainName", "example.org")
        outputs["arn"] = f"arn:aws:acm:{region}:{ACCOUNT_ID}:certificate/{digest}"
        outputs["domainValidationOptions"] = [
            {
                "domainName": name,
                "resourceRecordName": f"_{digest}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{digest}.acm-validations.aws.",
            }
            for name in [domain, *inputs.get("subjectAlternativeNames", [])]
        ]
    elif type_ == "aws:acm/certificateValidation:CertificateValidation":
        outputs["certificateArn"] = inputs.get("certificateArn", "")
    elif type_ == "aws:route53/record:Record":
        outputs["fqdn"] = str(inputs.get("name", name)).rstrip(".")
    elif type_ == "kubernetes:core/v1:Service":
        outputs.pop("arn")
        outputs["status"] = {"loadBalancer": {"ingress": [{"hostname": f"{digest}.elb.{region}.amazonaws.com"}]}}
    elif type_ == "kubernetes:helm.sh/v3:Release":
        outputs.pop("arn")
        outputs["status"] = {
            "name": inputs.get("name", name),
            "namespace": inputs.get("namespace"),
            "status": "deployed",
        }
    elif type_.startswith("kubernetes:"):
        outputs.pop("arn")
    return outputs


def _pulumi_eks_children(component: Recorded, region: str, preview: bool, make_urn: Any) -> list[Recorded]:
    """The `aws:eks/cluster:Cluster` that pulumi-eks 4.4.0's `Cluster` component registers as its
    child `<name>-eksCluster` (nodejs/eks/cluster.ts `createCore`), with its inputs mapped as that
    code maps them. A stack policy sees this resource's state; the component itself shows only its
    registered outputs, which carry no log types, endpoint or encryption settings."""
    inputs = component.inputs
    vpc_config: dict[str, Any] = {
        # With skipDefaultSecurityGroups pulumi-eks passes none: the ENIs get only EKS's own group.
        "securityGroupIds": None if inputs.get("skipDefaultSecurityGroups") else UNKNOWN,
        "subnetIds": inputs.get("privateSubnetIds", UNKNOWN),
        "endpointPrivateAccess": inputs.get("endpointPrivateAccess", False),
        "endpointPublicAccess": inputs.get("endpointPublicAccess", True),
    }
    if "publicAccessCidrs" in inputs:
        vpc_config["publicAccessCidrs"] = inputs["publicAccessCidrs"]
    cluster_inputs: dict[str, Any] = {
        "name": inputs.get("name", UNKNOWN),
        "version": inputs.get("version", UNKNOWN),
        "roleArn": UNKNOWN if preview else f"arn:aws:iam::{ACCOUNT_ID}:role/{component.name}-eksRole",
        "vpcConfig": vpc_config,
        "enabledClusterLogTypes": inputs.get("enabledClusterLogTypes", []),
        "accessConfig": {
            "authenticationMode": inputs.get("authenticationMode", "CONFIG_MAP"),
            # pulumi-eks does not expose it: EKS's default, the creator becomes cluster admin.
            "bootstrapClusterCreatorAdminPermissions": True,
        },
        # pulumi-eks tags the cluster with `clusterTags` and `tags` merged, `tags` winning (cluster.ts).
        "tags": {**inputs.get("clusterTags", {}), **inputs.get("tags", {})},
    }
    if "encryptionConfigKeyArn" in inputs:
        cluster_inputs["encryptionConfig"] = {
            "provider": {"keyArn": inputs["encryptionConfigKeyArn"]},
            "resources": ["secrets"],
        }
    if "deletionProtection" in inputs:
        cluster_inputs["deletionProtection"] = inputs["deletionProtection"]
    name = f"{component.name}-eksCluster"
    outputs = dict(cluster_inputs)
    if not preview:
        computed = _outputs_for("aws:eks/cluster:Cluster", name, cluster_inputs, region)
        outputs.update(arn=computed["arn"], id=str(cluster_inputs["name"]))
        # The security group EKS creates and attaches to the control plane's ENIs (computed).
        outputs["vpcConfig"] = {
            **vpc_config,
            "clusterSecurityGroupId": component.outputs.get("clusterSecurityGroupId", UNKNOWN),
        }
    urn = make_urn(component.urn, "aws:eks/cluster:Cluster", name)
    return [
        Recorded(
            type="aws:eks/cluster:Cluster",
            name=name,
            urn=urn,
            parent=component.urn,
            custom=True,
            inputs=cluster_inputs,
            outputs=outputs,
            id="" if preview else str(cluster_inputs["name"]),
            # It waits for what its inputs come from (subnets, keys, log group), as the component does.
            dependencies=list(component.dependencies),
            synthesized=True,
        )
    ]


def run(
    stack: str,
    stack_file: Path | None = None,
    config_override: dict[str, str] | None = None,
    program: Path = ROOT / "__main__.py",
    project: str = PROJECT,
    ecr_images: dict[str, list[str]] | None = None,
    preview: bool = False,
    caller_arn: str | None = None,
    clusters: dict[str, dict[str, str]] | None = None,
    cluster_versions: dict[str, str] | None = None,
    iam_roles: dict[str, dict[str, str]] | None = None,
    log_groups: list[str] | None = None,
    detector: dict[str, Any] | None = BOOTSTRAP_DETECTOR,
) -> Inventory:
    """Run a Pulumi program (the platform's ``__main__.py`` by default) for a stack under mocks;
    raise what the program raises.

    `ecr_images` models the account: repository name -> tags pushed. A repository not listed does
    not exist, and ecr:DescribeImages fails on it as AWS does (RepositoryNotFoundException), which is
    the state of the first deploy.

    `caller_arn` is who runs `pulumi up` (sts:GetCallerIdentity's ARN; by default the CI deploy role,
    `default_caller`).
    `clusters` models the EKS clusters that exist: name -> tags. A cluster not listed does not
    exist, and eks:DescribeCluster fails on it as the provider reports it ("couldn't find resource").

    `iam_roles` models the IAM roles the account has: name -> tags (iam:GetRole of another fails as
    the provider reports NoSuchEntity, "couldn't find resource"): by default a fresh account.

    `detector` models the region's GuardDuty detector (id, tags); None: the region has none, and the
    lookup fails as the provider reports it ("empty result").

    `log_groups` models the CloudWatch log groups that exist (logs:DescribeLogGroups): by default none.

    `preview` models the first `pulumi preview` of a new stack: a resource to be created has only
    its inputs; everything the provider computes (ids, ARNs, statuses) is unknown."""
    existing_images = ecr_images or {}
    existing_clusters = clusters or {}
    existing_roles = iam_roles or {}
    import pulumi
    from google.protobuf import json_format
    from pulumi.runtime import mocks
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    config, secret_keys = load_stack_config(stack, stack_file, project)
    config.update(config_override or {})
    caller = caller_arn or default_caller(config)
    region = config.get("aws:region", "us-east-1")
    recorded: list[Recorded] = []

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            if preview:
                return "", dict(args.inputs)  # absent from the state = unknown in a preview
            outputs = _outputs_for(args.typ, args.name, args.inputs, region)
            # A provider echoes the inputs it was given (a TopicPolicy's `arn` is its topic's ARN);
            # the mock computes only what the program did not set.
            state = {**{k: v for k, v in outputs.items() if k != "id"}, **args.inputs}
            return outputs["id"], state

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
            if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
                return {"accountId": ACCOUNT_ID, "arn": caller, "userId": "AROAOFFLINE:session"}, []
            if args.token == "aws:eks/getCluster:getCluster":
                cluster_name = str(args.args.get("name"))
                if cluster_name not in existing_clusters:
                    return {}, [("name", f"reading EKS Cluster ({cluster_name}): couldn't find resource")]
                found = {"name": cluster_name, "tags": existing_clusters[cluster_name]}
                if cluster_name in (cluster_versions or {}):
                    found["version"] = (cluster_versions or {})[cluster_name]
                return found, []
            if args.token == "aws:guardduty/getDetector:getDetector":
                if detector is None:
                    return {}, [("id", "reading this account's single GuardDuty Detector: empty result")]
                return {"id": detector["id"], "status": "ENABLED", "tags": detector.get("tags", {})}, []
            if args.token == "aws:cloudwatch/getLogGroups:getLogGroups":
                prefix = str(args.args.get("logGroupNamePrefix", ""))
                names = [g for g in log_groups or [] if g.startswith(prefix)]
                return {"logGroupNamePrefix": prefix, "logGroupNames": names, "arns": [], "id": prefix}, []
            if args.token == "aws:iam/getRole:getRole":
                role_name = str(args.args.get("name"))
                if role_name not in existing_roles:
                    return {}, [("name", f"reading IAM Role ({role_name}): couldn't find resource")]
                return {
                    "name": role_name,
                    "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}",
                    "tags": existing_roles[role_name],
                }, []
            if args.token == "aws:ecr/getImages:getImages":
                repository = str(args.args.get("repositoryName"))
                if repository not in existing_images:
                    return {}, [("repositoryName", f"RepositoryNotFoundException: {repository} does not exist")]
                tags = existing_images[repository]
                ids = [{"imageDigest": f"sha256:{i:064x}", "imageTag": t} for i, t in enumerate(tags)]
                return {"id": repository, "repositoryName": repository, "imageIds": ids}, []
            if args.token == "aws:ssm/getParameter:getParameter":
                # The public parameters AWS publishes for the EKS-optimized AMIs; any other name is
                # ParameterNotFound, as in a real account.
                name = str(args.args.get("name"))
                match = EKS_AMI_RELEASE_PARAMETER.fullmatch(name)
                if match is None:
                    return {}, [("name", f"reading SSM Parameter ({name}): ParameterNotFound")]
                value = f"{match['k8s']}.5-{AMI_RELEASE_DATE}"
                return {"id": name, "name": name, "type": "String", "value": value, "insecureValue": value}, []
            if args.token == "aws:eks/getAddonVersion:getAddonVersion":
                addon, k8s = str(args.args.get("addonName")), str(args.args.get("kubernetesVersion"))
                if addon not in EKS_ADDON_VERSIONS or k8s not in KUBERNETES_VERSIONS["versions"]:
                    return {}, [("addonName", f"reading EKS Add-On version info ({addon}, {k8s}): empty result")]
                default, latest = EKS_ADDON_VERSIONS[addon]
                version = (latest if args.args.get("mostRecent") else default).format(k8s=k8s)
                return {"id": addon, "addonName": addon, "kubernetesVersion": k8s, "version": version}, []
            if args.token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
                # Offline, every type is taken as offered in every zone: which are is the account's to say
                # at `pulumi up` (the pre-flight stops there on a type a zone does not offer).
                filters = {f["name"]: f["values"] for f in args.args.get("filters", [])}
                pairs = [(t, z) for t in filters.get("instance-type", []) for z in filters.get("location", [])]
                return {
                    "id": region,
                    "locationType": args.args.get("locationType"),
                    "instanceTypes": [t for t, _ in pairs],
                    "locations": [z for _, z in pairs],
                    "locationTypes": ["availability-zone"] * len(pairs),
                }, []
            if args.token == "aws:index/getPartition:getPartition":
                return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
            return {}, []

    class RecordingMonitor(mocks.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
            # Resource references arrive as URNs: deserializing them here (on the monitor's thread,
            # with its own event loop) would start lookups that race with the program's loop.
            _references_to_urns(request.object)
            response = super().RegisterResource(request)
            secrets: list[str] = []
            raw = json_format.MessageToDict(request.object)
            inputs = _redact(raw, "", secrets)
            if request.custom:
                # The provider's state echoes the inputs (kept in their redacted form here: the
                # engine marks a whole property secret, the policy SDK unwraps it) plus what it computed.
                state = _redact(json_format.MessageToDict(response.object), "", [])
                engine_view = {**state, **inputs}
            elif request.remote and not preview:
                # A packaged component's outputs are what its provider registers, not its inputs.
                computed = _outputs_for(request.type, request.name, raw, region)
                engine_view = {k: v for k, v in computed.items() if k not in ("id", "arn")}
            else:
                engine_view = {}  # a component shows what it registers (RegisterResourceOutputs)
            recorded.append(
                Recorded(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=inputs,
                    secret_inputs=secrets,
                    dependencies=sorted(set(request.dependencies)),
                    provider=request.provider,
                    id=response.id,
                    arn=_arn_of(self.resources.get(response.urn)),
                    retain_on_delete=bool(request.retainOnDelete),
                    import_id=request.importId,
                    protect=bool(request.protect),
                    additional_secret_outputs=sorted(request.additionalSecretOutputs),
                    outputs=engine_view,
                )
            )
            if request.type == "eks:index:Cluster":
                recorded.extend(_pulumi_eks_children(recorded[-1], region, preview, self.make_urn))
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
            _references_to_urns(request.outputs)
            for resource in recorded:
                if resource.urn == request.urn:
                    resource.outputs = _redact(json_format.MessageToDict(request.outputs), "", [])
            return super().RegisterResourceOutputs(request)

        def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
            reads.append(
                Read(
                    type=request.type,
                    name=request.name,
                    id=UNKNOWN if request.id == _UNKNOWN_SENTINEL else request.id,
                    dependencies=sorted(set(request.dependencies)),
                )
            )
            if request.id == _UNKNOWN_SENTINEL:
                # The engine skips a read whose id is unknown; the object's outputs stay unknown.
                return resource_pb2.ReadResourceResponse(urn=self.make_urn(request.parent, request.type, request.name))
            return super().ReadResource(request)

    reads: list[Read] = []
    monitor = RecordingMonitor(Mocks())
    mocks.set_mocks(Mocks(), project=project, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(config, secret_keys)

    try:

        def run_program() -> None:
            runpy.run_path(str(program), run_name="__pulumi_main__")

        _sync_await(run_pulumi_func(run_program))
    except pulumi.RunError as error:
        declared = [r for r in recorded if r.type != "pulumi:pulumi:Stack"]
        raise PlanError(str(error), len(declared)) from None

    stack_resource = runtime_settings.get_root_resource()
    outputs, secret_outputs = _stack_outputs(stack_resource)
    # The engine registers resources as their inputs resolve, in an order that varies from run to run:
    # by URN (and reads by type and name), two runs of one plan give the same inventory, byte for byte.
    return Inventory(
        stack=stack,
        resources=sorted(recorded, key=lambda r: r.urn),
        outputs=outputs,
        secret_outputs=secret_outputs,
        reads=sorted(reads, key=lambda r: (r.type, r.name)),
    )


def _stack_outputs(stack_resource: Any) -> tuple[dict[str, Any], list[str]]:
    import pulumi
    from pulumi.runtime.sync_await import _sync_await

    outputs: dict[str, Any] = {}
    secret: list[str] = []
    for key, value in (getattr(stack_resource, "outputs", None) or {}).items():
        output = pulumi.Output.from_input(value)
        is_secret = _sync_await(output.is_secret())
        if is_secret:
            secret.append(key)
            outputs[key] = REDACTED
        else:
            outputs[key] = _sync_await(output.future())
    return outputs, secret
