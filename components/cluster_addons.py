"""Add-ons that need running nodes: CoreDNS, the EBS CSI driver with an encrypted default
StorageClass, and cluster-autoscaler — each AWS caller with its own IRSA role."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.irsa import irsa_role
from components.network_policies import allow_all_in_namespace, declare
from components.tagging import component_tags, version_source_tag

AUTOSCALER_NAMESPACE = "kube-system"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
STORAGE_CLASS_NAME = "gp3-encrypted"


def autoscaler_policy(partition: str, region: str, account_id: str, cluster_name: str) -> dict[str, Any]:
    """Least privilege for cluster-autoscaler (its AWS README): it may resize only the ASGs EKS tagged
    as owned by this cluster; everything else is read-only discovery."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ResizeOnlyThisClustersGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": (
                    f"arn:{partition}:autoscaling:{region}:{account_id}:autoScalingGroup:*:autoScalingGroupName/*"
                ),
                "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
            },
            {
                "Sid": "Discover",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                "Resource": "*",
            },
            {
                # Labels and taints of managed node groups, so the user group can scale from zero.
                "Sid": "ReadThisClustersNodeGroups",
                "Effect": "Allow",
                "Action": "eks:DescribeNodegroup",
                "Resource": f"arn:{partition}:eks:{region}:{account_id}:nodegroup/{cluster_name}/*/*",
            },
        ],
    }


def ebs_csi_key_policy(volume_key_arn: str) -> dict[str, Any]:
    """The EBS CSI driver creates volumes encrypted with the customer key (AmazonEBSCSIDriverPolicy
    grants no KMS rights)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": volume_key_arn,
            },
            {
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": volume_key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ],
    }


def autoscaler_values(cluster_name: str, region: str, role_arn: str, image_tag: str) -> dict[str, Any]:
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {"repository": "registry.k8s.io/autoscaling/cluster-autoscaler", "tag": image_tag},
        "rbac": {
            "serviceAccount": {
                "create": True,
                "name": AUTOSCALER_SERVICE_ACCOUNT,
                "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            }
        },
        "extraArgs": {
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            "skip-nodes-with-system-pods": False,
        },
        # Runs on core nodes only, never next to user servers.
        "nodeSelector": {"node-purpose": "core"},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
    }


@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster_name: pulumi.Input[str]
    partition: str
    region: str
    account_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    volume_key_arn: pulumi.Input[str]
    provider: k8s.Provider
    retain_volumes: bool
    """Retain user volumes when their claim (or the stack) is deleted."""
    autoscaler_chart_version: str
    autoscaler_image_tag: str
    wait_for: Sequence[pulumi.Resource] = ()
    """Resources the in-cluster add-ons need running first (the core node group)."""
    volume_tags: dict[str, str] | None = None
    """Tags on every volume the storage class creates (the backup selection's, components/backups.py)."""
    tags: dict[str, str] | None = None
    addon_versions: Mapping[str, str] = field(default_factory=dict)
    """EKS add-on name -> version (coredns, aws-ebs-csi-driver here); unset: EKS picks."""
    version_sources: Mapping[str, str] = field(default_factory=dict)
    """EKS add-on name -> where its version came from (preflight.Facts.version_sources), tagged on the add-on."""


class ClusterAddons(pulumi.ComponentResource):
    storage_class_name: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:ClusterAddons", name, None, opts)
        # Strict policy enforcement denies a pod no policy selects: kube-system's pods (CoreDNS, the
        # EBS CSI controller and node pods, cluster-autoscaler, the self-managed CoreDNS EKS installs)
        # are covered before any node can run them. Needs only the API server, not nodes.
        system_policy = declare(
            f"{name}-kube-system-pods",
            allow_all_in_namespace("kube-system"),
            pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.system_policy = system_policy
        waits = [*args.wait_for, system_policy]
        after_nodes = pulumi.ResourceOptions(parent=self, depends_on=waits)
        k8s_child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=waits)
        tags = args.tags or {}
        cluster_name = pulumi.Output.from_input(args.cluster_name)

        # CoreDNS only after nodes exist: created earlier it stays DEGRADED and times out.
        coredns = aws.eks.Addon(
            f"{name}-coredns",
            cluster_name=cluster_name,
            addon_name="coredns",
            addon_version=args.addon_versions.get("coredns"),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            configuration_values=json.dumps({"nodeSelector": {"node-purpose": "core"}}),
            tags={**tags, **version_source_tag(args.version_sources.get("coredns"))},
            opts=after_nodes,
        )

        ebs_role = irsa_role(
            f"{name}-ebs-csi",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer=args.oidc_issuer,
            namespace="kube-system",
            service_account=EBS_CSI_SERVICE_ACCOUNT,
            managed_policy_arns=[f"arn:{args.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
            inline_policy=pulumi.Output.from_input(args.volume_key_arn).apply(
                lambda arn: json.dumps(ebs_csi_key_policy(arn))
            ),
            tags=tags,
            parent=self,
        )
        ebs_csi = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=cluster_name,
            addon_name="aws-ebs-csi-driver",
            addon_version=args.addon_versions.get("aws-ebs-csi-driver"),
            service_account_role_arn=ebs_role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags={**tags, **version_source_tag(args.version_sources.get("aws-ebs-csi-driver"))},
            opts=after_nodes,
        )
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-{STORAGE_CLASS_NAME}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS_NAME,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            # Parameters are immutable: changing them replaces the class (same name: deleted first);
            # existing volumes are unaffected, and keep the tags they were created with.
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": args.volume_key_arn,
                # The EBS CSI driver tags each volume it creates with these (docs/tagging.md).
                **{
                    f"tagSpecification_{index}": f"{key}={value}"
                    for index, (key, value) in enumerate(
                        sorted({**component_tags(tags, "jhub:aws:ClusterAddons"), **(args.volume_tags or {})}.items()),
                        start=1,
                    )
                },
            },
            reclaim_policy="Retain" if args.retain_volumes else "Delete",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=pulumi.ResourceOptions.merge(k8s_child, pulumi.ResourceOptions(depends_on=[ebs_csi, *waits])),
        )

        autoscaler_role = irsa_role(
            f"{name}-cluster-autoscaler",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer=args.oidc_issuer,
            namespace=AUTOSCALER_NAMESPACE,
            service_account=AUTOSCALER_SERVICE_ACCOUNT,
            inline_policy=pulumi.Output.all(args.account_id, cluster_name).apply(
                lambda v: json.dumps(autoscaler_policy(args.partition, args.region, v[0], v[1]))
            ),
            tags=tags,
            parent=self,
        )
        k8s.helm.v3.Release(
            f"{name}-cluster-autoscaler",
            name="cluster-autoscaler",
            chart="cluster-autoscaler",
            version=args.autoscaler_chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://kubernetes.github.io/autoscaler"),
            namespace=AUTOSCALER_NAMESPACE,
            values=pulumi.Output.all(cluster_name, autoscaler_role.arn).apply(
                lambda v: autoscaler_values(v[0], args.region, v[1], args.autoscaler_image_tag)
            ),
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            opts=k8s_child,
        )

        self.storage_class_name = storage_class.metadata.apply(lambda m: m.name or STORAGE_CLASS_NAME)
        # What workloads with volumes need (DNS, the CSI driver, the class), without the autoscaler's
        # release: a release that waits on this component as a whole waits on the autoscaler too.
        self.volume_workload_prerequisites: list[pulumi.Resource] = [system_policy, coredns, ebs_csi, storage_class]
        self.register_outputs({"storage_class_name": self.storage_class_name})
