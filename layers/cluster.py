"""Cluster: the EKS control plane, its node groups and the add-ons the workloads run on."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.backups import BACKUP_TAG
from components.cluster import Cluster, ClusterArgs
from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.gpu_device_plugin import GpuDevicePlugin, GpuDevicePluginArgs
from components.node_groups import GpuPoolSpec, NodeGroups, NodeGroupsArgs, NodeGroupSpec
from layers.foundation import Foundation
from preflight import Facts
from settings import NodeGroupSettings, Settings


@dataclass(frozen=True)
class ClusterLayer:
    cluster: Cluster
    node_groups: NodeGroups
    addons: ClusterAddons

    @property
    def hub_prerequisites(self) -> list[pulumi.Resource]:
        """What the hub's release needs running first: every node group (its pods and the user pods
        land there), DNS, the CSI driver and the storage class; not the autoscaler's release, which
        runs in parallel instead of on the first deploy's critical path."""
        groups = self.node_groups
        return [*groups.core, *groups.user, *groups.gpu, *self.addons.volume_workload_prerequisites]


def dask_worker_spec(settings: Settings) -> NodeGroupSpec | None:
    """Dask Gateway's worker pool: Spot, from zero (the autoscaler starts nodes for pending workers)."""
    dask = settings.dask_gateway
    if not dask.enabled:
        return None
    nodes = dask.worker_nodes
    return NodeGroupSpec(
        instance_types=nodes.instance_types,
        capacity_type=nodes.capacity_type,
        min_size=0,
        max_size=nodes.max_size,
        desired_size=0,
        disk_size_gib=nodes.disk_size_gib,
    )


def node_group_spec(group: NodeGroupSettings) -> NodeGroupSpec:
    return NodeGroupSpec(
        instance_types=group.instance_types,
        capacity_type=group.capacity_type,
        min_size=group.min_size,
        max_size=group.max_size,
        desired_size=group.desired_size,
        disk_size_gib=group.disk_size_gib,
    )


def declare_cluster(
    name: str, settings: Settings, facts: Facts, foundation: Foundation, tags: dict[str, str]
) -> ClusterLayer:
    encryption, network = foundation.encryption, foundation.network
    cluster = Cluster(
        name,
        ClusterArgs(
            cluster_name=settings.cluster.name,
            kubernetes_version=settings.cluster.kubernetes_version,
            partition=settings.partition,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            secrets_key_arn=encryption.secrets_key_arn,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=settings.cluster.log_retention_days,
            admin_role_arns=settings.cluster.admin_role_arns,
            creator_arn=facts.cluster_creator,
            endpoint_public_access=settings.cluster.endpoint_public_access,
            public_access_cidrs=settings.cluster.public_access_cidrs,
            private_endpoint_security_group_ids=settings.cluster.private_endpoint_access.security_group_ids,
            private_endpoint_cidrs=settings.cluster.private_endpoint_access.cidrs,
            deletion_protection=settings.cluster.deletion_protection,
            addon_versions=facts.addon_versions,
            version_sources=facts.version_sources,
            existing_log_groups=facts.existing_log_groups,
            retain_logs_on_destroy=settings.data.retain_on_destroy,
            tags=tags,
        ),
    )
    gpu = settings.node_groups.gpu
    node_groups = NodeGroups(
        name,
        NodeGroupsArgs(
            cluster_name=cluster.cluster_name,
            kubernetes_version=settings.cluster.kubernetes_version,
            partition=settings.partition,
            availability_zones=settings.network.availability_zones,
            private_subnet_ids=network.private_subnet_ids,
            volume_key_arn=encryption.user_data_key_arn,
            core=node_group_spec(settings.node_groups.core),
            user=node_group_spec(settings.node_groups.user),
            gpu=GpuPoolSpec(
                nodes=node_group_spec(gpu), advertised_gpus=gpu.advertised_gpus_per_node, accelerator=gpu.accelerator
            )
            if gpu
            else None,
            dask_worker=dask_worker_spec(settings),
            ami_releases={ami_type: found.release for ami_type, found in facts.ami_releases.items()},
            version_sources=facts.version_sources,
            # Nodes join only once the CNI (with IRSA and policy enforcement) is in place.
            wait_for=[*cluster.pre_node_addons, *network.node_egress_ready],
            tags=tags,
        ),
    )
    addons = ClusterAddons(
        name,
        ClusterAddonsArgs(
            cluster_name=cluster.cluster_name,
            partition=settings.partition,
            region=settings.region,
            account_id=facts.account_id,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            volume_key_arn=encryption.user_data_key_arn,
            provider=cluster.provider,
            retain_volumes=settings.data.retain_on_destroy,
            volume_tags={BACKUP_TAG: name} if settings.data.backup.enabled else None,
            addon_versions=facts.addon_versions,
            version_sources=facts.version_sources,
            autoscaler_chart_version=settings.cluster.autoscaler.chart_version,
            autoscaler_image_tag=settings.cluster.autoscaler.image,
            wait_for=node_groups.core,
            tags=tags,
        ),
    )
    if gpu is not None:
        GpuDevicePlugin(
            name,
            GpuDevicePluginArgs(
                provider=cluster.provider,
                chart_version=gpu.device_plugin_chart_version,
                time_slicing_replicas=gpu.time_slicing_replicas,
                # After the core nodes, as the other releases (the API answers, kube-system is ready).
                wait_for=[addons.system_policy, *node_groups.core],
            ),
        )
    return ClusterLayer(cluster=cluster, node_groups=node_groups, addons=addons)
