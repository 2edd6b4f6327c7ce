"""The EKS control plane: audit logging into a log group we own, KMS envelope encryption of secrets,
private endpoint, OIDC provider for IRSA, access entries, and the VPC CNI with network policies."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.irsa import irsa_role
from components.log_groups import adopt_if_present
from components.network_policies import KUBERNETES_SERVICE_CIDR
from components.tagging import version_source_tag
from components.trust import service_trust_policy

# Every control-plane log type EKS offers; the audit log is what an incident review needs.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

# Tag on the EKS cluster naming the principal EKS made cluster admin when it created the cluster.
CREATOR_TAG = "jhub-eks/cluster-creator"


def principal_of(caller_arn: str) -> str:
    """The IAM principal behind an STS caller ARN: an assumed-role session's role, else the ARN.

    An STS ARN carries the role's name but not its path; principals are compared by account and
    name (`same_principal`), so no iam:GetRole is needed to find the path."""
    session = re.match(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/.+$", caller_arn)
    if session:
        partition, account, role = session.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    return caller_arn


def same_principal(first: str, second: str) -> bool:
    """Whether two IAM ARNs name the same user or role: names are unique per account whatever the
    path, and case-insensitive (IAM refuses two roles whose names differ only in case)."""

    def identity(arn: str) -> tuple[str, str, str]:
        parts = arn.split(":", 5)
        if len(parts) < 6:
            return (arn, "", "")
        kind, _, rest = parts[5].partition("/")
        return (parts[4], kind, rest.rsplit("/", 1)[-1].lower())

    return identity(first) == identity(second)


def control_plane_log_group_name(cluster_name: str) -> str:
    """The name EKS writes control-plane logs to; creating it first keeps it encrypted and expiring."""
    return f"/aws/eks/{cluster_name}/cluster"


def vpc_cni_configuration() -> dict[str, object]:
    """VPC CNI add-on values: the network policy agent enforces every Kubernetes NetworkPolicy.

    Without it, the NetworkPolicies the JupyterHub chart creates are accepted and silently ignored.
    `strict`: a new pod starts denied until its policies are programmed (`standard`, the default,
    starts it open). The add-on schema has the key under `env` with enum [standard, strict] (schema of
    v1.18.x quoted in amazon-vpc-cni-k8s#3059); every pod not on the host network then needs a policy
    (components/network_policies.py).
    """
    return {
        "enableNetworkPolicy": "true",
        "env": {"NETWORK_POLICY_ENFORCING_MODE": "strict"},
        "nodeAgent": {"enablePolicyEventLogs": "true"},
    }


@dataclass(frozen=True)
class ClusterArgs:
    cluster_name: str
    kubernetes_version: str
    partition: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    admin_role_arns: list[str]
    # The principal EKS grants cluster-admin at creation (`cluster_creator`); no entry is declared for
    # it, since EKS refuses a second entry for a principal (ResourceInUseException).
    creator_arn: str | None = None
    endpoint_public_access: bool = False
    public_access_cidrs: list[str] = field(default_factory=list)
    # Sources admitted to the private endpoint on 443 (the runner that deploys, VPN networks).
    private_endpoint_security_group_ids: list[str] = field(default_factory=list)
    private_endpoint_cidrs: list[str] = field(default_factory=list)
    deletion_protection: bool = False
    addon_versions: Mapping[str, str] = field(default_factory=dict)
    """EKS add-on name -> version (vpc-cni, eks-pod-identity-agent, kube-proxy here); unset: EKS picks."""
    version_sources: Mapping[str, str] = field(default_factory=dict)
    """EKS add-on name -> where its version came from (preflight.Facts.version_sources), tagged on the add-on."""
    existing_log_groups: frozenset[str] = frozenset()
    """Log groups that exist now (components/log_groups.py): the control-plane group is adopted."""
    retain_logs_on_destroy: bool = False
    """Keep the control-plane (audit) log group when the stack is destroyed."""
    tags: dict[str, str] | None = None


class Cluster(pulumi.ComponentResource):
    """``pulumi_eks.Cluster`` with the hardening this platform relies on, plus the add-ons that must
    exist before any node joins (VPC CNI with IRSA and policy enforcement, Pod Identity agent)."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    control_plane_role_arn: pulumi.Output[str]
    control_plane_log_group_name: pulumi.Output[str]
    provider: k8s.Provider
    pre_node_addons: list[aws.eks.Addon]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags or {}

        log_group_name = control_plane_log_group_name(args.cluster_name)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=log_group_name,
            kms_key_id=args.logs_key_arn,
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_logs_on_destroy),
                adopt_if_present(log_group_name, args.existing_log_groups),
            ),
        )

        service_role = aws.iam.Role(
            f"{name}-control-plane",
            description=f"EKS control plane of {args.cluster_name}",
            assume_role_policy=json.dumps(
                service_trust_policy("eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"])
            ),
            tags=tags,
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-control-plane-eks",
            role=service_role.name,
            policy_arn=f"arn:{args.partition}:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )
        # Envelope encryption of secrets: the control plane uses the secrets key and nothing else.
        secrets_key_use = aws.iam.RolePolicy(
            f"{name}-control-plane-secrets-key",
            role=service_role.id,
            policy=pulumi.Output.from_input(args.secrets_key_arn).apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants"],
                                "Resource": arn,
                            },
                            {
                                "Effect": "Allow",
                                "Action": "kms:CreateGrant",
                                "Resource": arn,
                                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )

        access_entries = {
            f"admin-{index}": eks.AccessEntryArgs(
                principal_arn=arn,
                access_policies={
                    "cluster-admin": eks.AccessPolicyAssociationArgs(
                        policy_arn=CLUSTER_ADMIN_POLICY,
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )
            for index, arn in enumerate(args.admin_role_arns)
            if not (args.creator_arn and same_principal(arn, args.creator_arn))
        }
        # Recorded on the cluster, so every later run, by whoever, leaves out the same principal.
        creator_tags = {CREATOR_TAG: args.creator_arn} if args.creator_arn else {}

        cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            node_associate_public_ip_address=False,
            service_role=service_role,
            # Access: IAM access entries only (no aws-auth ConfigMap to drift).
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            endpoint_private_access=True,
            endpoint_public_access=args.endpoint_public_access,
            public_access_cidrs=args.public_access_cidrs if args.endpoint_public_access else None,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config_key_arn=args.secrets_key_arn,
            # Fixed, so NetworkPolicies can name the API's ClusterIP (components/network_policies.py).
            kubernetes_service_ip_address_range=KUBERNETES_SERVICE_CIDR,
            create_oidc_provider=True,
            deletion_protection=args.deletion_protection,
            cluster_tags=creator_tags,
            # Node groups are managed here (components/node_groups.py) through our own launch template.
            skip_default_node_group=True,
            skip_default_security_groups=True,
            # The VPC CNI and CoreDNS add-ons are declared below / after the nodes, with their settings.
            use_default_vpc_cni=True,
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            # pulumi-eks installs kube-proxy; its version is explicit (else it reads the most recent at each up).
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(version=args.addon_versions.get("kube-proxy")),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, cluster_policy, secrets_key_use]),
        )

        # With the default security groups skipped, the control plane's network interfaces carry only
        # the security group EKS creates, which admits its own members (the nodes). Whatever deploys
        # or administers the cluster through the private endpoint is admitted here, on 443 only.
        api_sources: list[tuple[str, dict[str, str]]] = [
            (f"sg-{group}", {"referenced_security_group_id": group})
            for group in args.private_endpoint_security_group_ids
        ] + [(f"cidr-{cidr}", {"cidr_ipv4": cidr}) for cidr in args.private_endpoint_cidrs]
        api_rules = []
        for key, source in api_sources:
            api_rule = aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-from-{key.replace('/', '-')}",
                security_group_id=cluster.cluster_security_group_id,
                description="Kubernetes API (private endpoint) from a deploy/admin source",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
                **source,
            )
            api_rules.append(api_rule)

        # Everything that needs the running control plane depends on the cluster component.
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[cluster])

        vpc_cni_role = irsa_role(
            f"{name}-vpc-cni",
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            namespace="kube-system",
            service_account="aws-node",
            managed_policy_arns=[f"arn:{args.partition}:iam::aws:policy/AmazonEKS_CNI_Policy"],
            tags=tags,
            parent=self,
        )
        vpc_cni = aws.eks.Addon(
            f"{name}-vpc-cni",
            cluster_name=args.cluster_name,
            addon_name="vpc-cni",
            addon_version=args.addon_versions.get("vpc-cni"),
            service_account_role_arn=vpc_cni_role.arn,
            configuration_values=json.dumps(vpc_cni_configuration()),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags={**tags, **version_source_tag(args.version_sources.get("vpc-cni"))},
            opts=after_cluster,
        )
        # EKS Pod Identity agent: credentials for pods through pod identity associations.
        pod_identity_agent = aws.eks.Addon(
            f"{name}-pod-identity-agent",
            cluster_name=args.cluster_name,
            addon_name="eks-pod-identity-agent",
            addon_version=args.addon_versions.get("eks-pod-identity-agent"),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags={**tags, **version_source_tag(args.version_sources.get("eks-pod-identity-agent"))},
            opts=after_cluster,
        )

        # The name is known up front; deriving it from the cluster's URN carries the dependency, so
        # whatever uses the name waits for the control plane.
        self.cluster_name = cluster.urn.apply(lambda _: args.cluster_name)
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig_json)
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_issuer = cluster.oidc_issuer
        # The security group EKS attaches to the control plane and to managed nodes.
        self.cluster_security_group_id = cluster.cluster_security_group_id
        # The Kubernetes cloud provider runs as this role (load balancers and their rules).
        self.control_plane_role_arn = service_role.arn
        self.control_plane_log_group_name = log_group.name
        self.pre_node_addons = [vpc_cni, pod_identity_agent]
        # The provider connects once and, if the API is unreachable then, gives up on every Kubernetes
        # resource of the run: with a private-only endpoint it waits for the rules that admit us.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=api_rules),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer": self.oidc_issuer,
            }
        )
