"""Container logs to CloudWatch: the `amazon-cloudwatch-observability` add-on (Fluent Bit and the
CloudWatch agent) with its own IRSA role, into log groups created first so they are KMS-encrypted
and expire (the add-on would otherwise create them unencrypted and never-expiring)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.irsa import irsa_role
from components.log_groups import adopt_if_present
from components.network_policies import allow_all_in_namespace, declare
from components.tagging import version_source_tag

NAMESPACE = "amazon-cloudwatch"
SERVICE_ACCOUNT = "cloudwatch-agent"
LOG_GROUP_KINDS = ("application", "dataplane", "host", "performance")


def container_log_group_name(cluster_name: str, kind: str = "application") -> str:
    return f"/aws/containerinsights/{cluster_name}/{kind}"


@dataclass(frozen=True)
class ContainerLogsArgs:
    cluster_name: str
    cluster_ready: pulumi.Input[str]
    partition: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    retention_days: int
    addon_version: str | None = None
    """The add-on's version (unset: EKS picks its default at creation and never moves it)."""
    addon_version_source: str | None = None
    """Where the version came from (preflight.Facts.version_sources), tagged on the add-on."""
    provider: k8s.Provider | None = None
    """With it, the add-on's namespace and its NetworkPolicy are declared before the add-on."""
    wait_for: Sequence[pulumi.Resource] = ()
    existing_log_groups: frozenset[str] = frozenset()
    """Log groups that exist now (components/log_groups.py): ours among them are adopted."""
    tags: dict[str, str] | None = None


class ContainerLogs(pulumi.ComponentResource):
    application_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: ContainerLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:ContainerLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags or {}
        groups = {
            kind: aws.cloudwatch.LogGroup(
                f"{name}-containers-{kind}",
                name=container_log_group_name(args.cluster_name, kind),
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.retention_days,
                tags=tags,
                opts=pulumi.ResourceOptions.merge(
                    child,
                    adopt_if_present(container_log_group_name(args.cluster_name, kind), args.existing_log_groups),
                ),
            )
            for kind in LOG_GROUP_KINDS
        }
        role = irsa_role(
            f"{name}-cloudwatch-agent",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer=args.oidc_issuer,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            # The AWS managed policy documented for the add-on (logs, metrics, EC2 tags).
            managed_policy_arns=[f"arn:{args.partition}:iam::aws:policy/CloudWatchAgentServerPolicy"],
            tags=tags,
            parent=self,
        )
        covered: list[pulumi.Resource] = []
        if args.provider is not None:
            # The add-on's controller (its webhook) is no host-network pod: under strict enforcement it
            # needs a policy before it starts, so its namespace exists first to hold the policy. A
            # Patch (server-side apply) creates the namespace or adopts the add-on's, and never
            # deletes it; a plain Namespace fails with AlreadyExists on a cluster that has it
            # (pulumi-kubernetes 4.29+, #2926). The add-on installs into an existing namespace.
            namespace = k8s.core.v1.NamespacePatch(
                f"{name}-cloudwatch-ns",
                metadata=k8s.meta.v1.ObjectMetaPatchArgs(name=NAMESPACE),
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
            )
            covered = [
                namespace,
                declare(
                    f"{name}-cloudwatch-pods",
                    allow_all_in_namespace(NAMESPACE),
                    pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace]),
                ),
            ]
        aws.eks.Addon(
            f"{name}-cloudwatch-observability",
            cluster_name=args.cluster_ready,
            addon_name="amazon-cloudwatch-observability",
            addon_version=args.addon_version,
            service_account_role_arn=role.arn,
            configuration_values=json.dumps({"containerLogs": {"enabled": True}}),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags={**tags, **version_source_tag(args.addon_version_source)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*groups.values(), *covered, *args.wait_for]),
        )
        self.application_log_group_name = groups["application"].name
        self.register_outputs({"application_log_group_name": self.application_log_group_name})
