"""Managed node groups through our own launch template: IMDSv2 with hop limit 1, encrypted gp3 root
volumes with the customer key, no SSH, private subnets only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.tagging import component_tags, version_source_tag
from components.trust import service_trust_policy
from settings import NVIDIA_AMI_TYPE, STANDARD_AMI_TYPE

USER_NODE_LABEL = ("hub.jupyter.org/node-purpose", "user")
USER_NODE_TAINT = ("hub.jupyter.org/dedicated", "user", "NO_SCHEDULE")
# GPU nodes: only pods that tolerate this run there (GPU profiles; the device plugin tolerates
# nvidia.com/gpu). cluster-autoscaler skips a taint without a value when it reads the node group.
GPU_NODE_TAINT = ("nvidia.com/gpu", "present", "NO_SCHEDULE")
# Dask Gateway's workers (Spot): only pods that tolerate this land there.
DASK_WORKER_POOL = "dask-worker"
DASK_WORKER_TAINT = ("jhub-eks/dedicated", "dask-worker", "NO_SCHEDULE")
GPU_RESOURCE = "nvidia.com/gpu"
# The NVIDIA device plugin chart's default affinity requires it (nodeadm sets it only from 1.35).
GPU_PRESENT_LABEL = ("nvidia.com/gpu.present", "true")
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
AUTOSCALER_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"
STANDARD_AMI = STANDARD_AMI_TYPE
NVIDIA_AMI = NVIDIA_AMI_TYPE


TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}

# Hop limit 1: the IMDSv2 token response cannot cross the extra network hop into a pod's network
# namespace, so pods cannot fetch the node role's credentials. (`enable_imd_sv2` in pulumi-eks uses
# hop limit 2, which lets every pod read them.)
IMDS_HOP_LIMIT = 1


@dataclass(frozen=True)
class NodeGroupSpec:
    instance_types: list[str]
    capacity_type: str
    min_size: int
    max_size: int
    desired_size: int
    disk_size_gib: int


@dataclass(frozen=True)
class GpuPoolSpec:
    nodes: NodeGroupSpec
    advertised_gpus: int
    """nvidia.com/gpu per node as the device plugin advertises it (GPUs x time-slicing replicas)."""
    accelerator: str | None


def scale_from_zero_tags(
    labels: dict[str, str], taints: list[tuple[str, str, str]], resources: dict[str, str]
) -> dict[str, str]:
    """What cluster-autoscaler (AWS, 1.33-1.35) reads from a group's ASG to build its node while it has none:
    `node-template/label/<key>`, `node-template/taint/<key>` (`value:Effect`), `node-template/resources/<name>`
    (cloudprovider/aws/README.md; aws_manager.go buildNodeFromTemplate)."""
    tags = {f"{AUTOSCALER_TEMPLATE}/label/{key}": value for key, value in labels.items()}
    tags |= {f"{AUTOSCALER_TEMPLATE}/taint/{key}": f"{value}:{TAINT_EFFECTS[effect]}" for key, value, effect in taints}
    tags |= {f"{AUTOSCALER_TEMPLATE}/resources/{name}": quantity for name, quantity in resources.items()}
    return tags


def _asg_name(resources: Sequence[aws.eks.outputs.NodeGroupResource] | None) -> str:
    """The Auto Scaling group EKS made for the node group (one per group)."""
    (resource,) = resources or []
    (asg,) = resource.autoscaling_groups or []
    return str(asg.name)


def spread(total: int, zones: int) -> list[int]:
    """`total` nodes over `zones` groups, the remainder on the first zones (3 over 2 -> [2, 1])."""
    return [total // zones + (1 if index < total % zones else 0) for index in range(zones)]


@dataclass(frozen=True)
class NodeGroupsArgs:
    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    partition: str
    availability_zones: Sequence[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    """One private subnet per zone, in the order of `availability_zones`."""
    volume_key_arn: pulumi.Input[str]
    core: NodeGroupSpec
    user: NodeGroupSpec
    gpu: GpuPoolSpec | None = None
    dask_worker: NodeGroupSpec | None = None
    """Dask Gateway's workers: Spot, tainted, from zero (daskGateway.workerNodes)."""
    ami_releases: dict[str, str] | None = None
    """The AMI release of the groups of each AMI type (e.g. AL2023_x86_64_STANDARD: 1.35.6-20260714)."""
    version_sources: dict[str, str] | None = None
    """AMI type -> where its release came from (preflight.Facts.version_sources), tagged on each group."""
    wait_for: Sequence[pulumi.Resource] = ()
    """Resources the node groups must wait for (the VPC CNI add-on). A component's own `depends_on`
    is not passed to its children, so the wait is declared on each node group."""
    tags: dict[str, str] | None = None


class NodeGroups(pulumi.ComponentResource):
    """The "core" groups (hub, proxy, system pods) and the "user" groups (user servers only), one
    group per availability zone each.

    Why per zone: a user's home volume and the hub's database volume are EBS volumes, which live in
    one zone, so their pods can only run there. cluster-autoscaler scales a node group whose nodes
    can take the pending pod; a group spread over all zones may add its node in any zone, and the
    pod stays Pending. With one group per zone it scales the group of the volume's zone (the AWS
    cloud provider's documented advice for EBS, with `balance-similar-node-groups` to keep zones
    even)."""

    node_role_arn: pulumi.Output[str]
    core: list[aws.eks.NodeGroup]
    user: list[aws.eks.NodeGroup]
    gpu: list[aws.eks.NodeGroup]
    dask_worker: list[aws.eks.NodeGroup]

    def __init__(self, name: str, args: NodeGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:NodeGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags or {}

        node_role = aws.iam.Role(
            f"{name}-node",
            description="EKS managed nodes: join the cluster and pull images; no CNI or SSM rights",
            assume_role_policy=json.dumps(service_trust_policy("ec2.amazonaws.com")),
            tags=tags,
            opts=child,
        )
        # The CNI policy sits on the aws-node IRSA role (components/cluster.py), not on the nodes.
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=node_role.name,
                policy_arn=f"arn:{args.partition}:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
        ]

        def groups(
            purpose: str,
            spec: NodeGroupSpec,
            labels: dict[str, str],
            taints: list[tuple[str, str, str]],
            ami_type: str = STANDARD_AMI,
            resources: dict[str, str] | None = None,
            scales_from_zero: bool = False,
        ) -> list[aws.eks.NodeGroup]:
            template = aws.ec2.LaunchTemplate(
                f"{name}-{purpose}",
                description=f"{purpose} nodes: IMDSv2 only (hop limit 1), encrypted gp3 root, no SSH key",
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    http_put_response_hop_limit=IMDS_HOP_LIMIT,
                    instance_metadata_tags="disabled",
                ),
                block_device_mappings=[
                    aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                        device_name="/dev/xvda",  # root device of the AL2023 EKS AMI
                        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                            volume_type="gp3",
                            volume_size=spec.disk_size_gib,
                            encrypted="true",
                            kms_key_id=args.volume_key_arn,
                            delete_on_termination="true",
                        ),
                    )
                ],
                monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(
                        resource_type=kind,
                        tags={**component_tags(tags, "jhub:aws:NodeGroups"), "node-purpose": purpose},
                    )
                    for kind in ("instance", "volume")
                ],
                update_default_version=True,
                tags=tags,
                opts=child,
            )
            zones = list(zip(args.availability_zones, args.private_subnet_ids, strict=True))
            minimums = spread(spec.min_size, len(zones))
            desired = spread(spec.desired_size, len(zones))
            return [
                node_group(
                    purpose,
                    zone,
                    subnet_id,
                    template,
                    spec,
                    minimums[index],
                    desired[index],
                    labels,
                    taints,
                    ami_type,
                    resources or {},
                    scales_from_zero,
                )
                for index, (zone, subnet_id) in enumerate(zones)
            ]

        def node_group(
            purpose: str,
            zone: str,
            subnet_id: pulumi.Input[str],
            template: aws.ec2.LaunchTemplate,
            spec: NodeGroupSpec,
            min_size: int,
            desired_size: int,
            labels: dict[str, str],
            taints: list[tuple[str, str, str]],
            ami_type: str,
            resources: dict[str, str],
            scales_from_zero: bool,
        ) -> aws.eks.NodeGroup:
            all_labels = {"node-purpose": purpose, **labels}
            template_tags = scale_from_zero_tags(all_labels, taints, resources) if scales_from_zero else {}
            group = aws.eks.NodeGroup(
                f"{name}-{purpose}-{zone}",
                cluster_name=args.cluster_name,
                node_group_name_prefix=f"{purpose}-{zone}-",
                node_role_arn=node_role.arn,
                subnet_ids=[subnet_id],
                ami_type=ami_type,
                version=args.kubernetes_version,
                # A new release rolls the group: a new node, then one old node drained (max_unavailable
                # 1 below); drains respect PodDisruptionBudgets (force_update_version off).
                release_version=(args.ami_releases or {}).get(ami_type),
                force_update_version=False,
                capacity_type=spec.capacity_type,
                instance_types=spec.instance_types,
                # maxSize is per zone: every user's volume may be in the same zone.
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=min_size, max_size=spec.max_size, desired_size=desired_size
                ),
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=template.id, version=template.latest_version.apply(str)
                ),
                labels=all_labels,
                taints=[aws.eks.NodeGroupTaintArgs(key=k, value=v, effect=e) for k, v, e in taints],
                tags={
                    **tags,
                    **version_source_tag((args.version_sources or {}).get(ami_type)),
                    # cluster-autoscaler auto-discovery (EKS also tags the ASG with these).
                    "k8s.io/cluster-autoscaler/enabled": "true",
                    # Read through eks:DescribeNodegroup while the group is at zero (autoscaler 1.28+).
                    **{k: v for k, v in template_tags.items() if "/resources/" in k},
                },
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[*attachments, *args.wait_for],
                    # The autoscaler owns the node count after the first deploy.
                    ignore_changes=["scalingConfig.desiredSize"],
                ),
            )
            # A node group's tags do not reach its Auto Scaling group (EKS user guide, "managed node
            # groups"). The autoscaler also merges labels and taints from eks:DescribeNodegroup (its
            # README has caveats on when); the ASG's own tags are read whenever it builds the node of
            # a group at zero, so the plan does not rest on that path alone.
            for key, value in template_tags.items():
                aws.autoscaling.Tag(
                    f"{name}-{purpose}-{zone}-{key.removeprefix(AUTOSCALER_TEMPLATE + '/').replace('/', '-')}",
                    autoscaling_group_name=group.resources.apply(_asg_name),
                    tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            return group

        # The chart's `scheduling.corePods.nodeAffinity.matchNodePurpose: require` looks for this label.
        self.core = groups("core", args.core, {"hub.jupyter.org/node-purpose": "core"}, [])
        label_key, label_value = USER_NODE_LABEL
        self.user = groups("user", args.user, {label_key: label_value}, [USER_NODE_TAINT], scales_from_zero=True)
        # GPU nodes are user nodes (the chart's user affinity and the user tolerations apply), with the
        # GPU taint on top; the NVIDIA AMI carries the driver and container toolkit.
        self.gpu = []
        if args.gpu is not None:
            gpu_labels = {label_key: label_value, GPU_PRESENT_LABEL[0]: GPU_PRESENT_LABEL[1]}
            if args.gpu.accelerator:
                gpu_labels[ACCELERATOR_LABEL] = args.gpu.accelerator
            self.gpu = groups(
                "gpu",
                args.gpu.nodes,
                gpu_labels,
                [USER_NODE_TAINT, GPU_NODE_TAINT],
                ami_type=NVIDIA_AMI,
                resources={GPU_RESOURCE: str(args.gpu.advertised_gpus)},
                scales_from_zero=True,
            )
        self.dask_worker = []
        if args.dask_worker is not None:
            self.dask_worker = groups(
                DASK_WORKER_POOL, args.dask_worker, {}, [DASK_WORKER_TAINT], scales_from_zero=True
            )
        self.node_role_arn = node_role.arn
        self.register_outputs(
            {
                "node_role_arn": self.node_role_arn,
                "core_node_groups": [group.arn for group in self.core],
                "user_node_groups": [group.arn for group in self.user],
                "gpu_node_groups": [group.arn for group in self.gpu],
            }
        )
