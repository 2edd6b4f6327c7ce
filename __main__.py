"""Pulumi program: read and validate the stack settings, then compose the components."""

import re

import pulumi
import pulumi_aws as aws

from components.alarms import SecurityAlarms, SecurityAlarmsArgs, Threshold, platform_role_arns
from components.alerts import AlertTopic, AlertTopicArgs
from components.audit_trail import AuditTrail, AuditTrailArgs
from components.backups import BACKUP_TAG, Backups, BackupsArgs
from components.budget import StackBudget, StackBudgetArgs
from components.cluster import (
    CREATOR_TAG,
    Cluster,
    ClusterArgs,
    cluster_creator,
    existing_cluster,
    principal_of,
    same_principal,
    version_step_problem,
)
from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.dashboard import OperationsDashboard, OperationsDashboardArgs
from components.encryption import Encryption, EncryptionArgs
from components.gpu_device_plugin import GpuDevicePlugin, GpuDevicePluginArgs
from components.guardduty import ThreatDetection, ThreatDetectionArgs, account_detector
from components.identity import UserIdentity, UserIdentityArgs
from components.jupyterhub import JupyterHub, JupyterHubArgs
from components.jupyterhub_values import CURATOR_SERVICE_ACCOUNT, USER_SERVICE_ACCOUNT, choose_user_image
from components.log_groups import existing_log_groups
from components.log_shipping import ContainerLogs, ContainerLogsArgs, container_log_group_name
from components.network import Network, NetworkArgs
from components.node_groups import (
    NVIDIA_AMI,
    STANDARD_AMI,
    GpuPoolSpec,
    NodeGroups,
    NodeGroupsArgs,
    NodeGroupSpec,
    ami_release_parameter,
)
from components.registry import Registry, RegistryArgs, image_tag_pushed
from components.storage import UserDataBucket, UserDataBucketArgs
from components.tagging import base_tags, tag_every_resource
from settings import ADDON_VERSIONS, PROJECT, AlarmSettings, NodeGroupSettings, SettingsError, load_settings

try:
    settings = load_settings()
except SettingsError as error:
    # One readable message, no traceback (RunError is reported by the engine as-is).
    raise pulumi.RunError(f"invalid stack settings:\n{error}") from None

name = f"jhub-{settings.stack}"
# Cost allocation tags on every AWS resource, with the component that declared it (components/tagging.py).
# The stack tag is the resource prefix (jhub-dev), unique in an account that other projects share.
tags = base_tags(PROJECT, name, settings.environment)
tag_every_resource(tags)
# One sts:GetCallerIdentity: the account, and who runs this (see the access entries below).
caller_identity = aws.get_caller_identity()
account_id = caller_identity.account_id

encryption = Encryption(
    name,
    EncryptionArgs(
        name_prefix=name,
        partition=settings.partition,
        region=settings.region,
        account_id=account_id,
        deletion_window_days=settings.encryption.key_deletion_window_days,
        retain_on_destroy=settings.data.retain_on_destroy,
        tags=tags,
    ),
)

network = Network(
    name,
    NetworkArgs(
        cluster_name=settings.cluster.name,
        vpc_cidr=settings.network.vpc_cidr,
        availability_zones=settings.network.availability_zones,
        nat_gateways=settings.network.nat_gateways,
        region=settings.region,
        interface_endpoints=settings.network.interface_endpoints,
        flow_log_retention_days=settings.network.flow_logs.retention_days,
        flow_log_traffic_type=settings.network.flow_logs.traffic_type,
        logs_key_arn=encryption.logs_key_arn,
        account_id=account_id,
        partition=settings.partition,
        tags=tags,
    ),
)

# EKS makes the identity that creates the cluster an admin through an access entry of its own, and
# refuses a second entry for it: the creator (this run's role on the first deploy, the cluster's tag
# afterwards) gets no entry from the program, whoever runs later.
caller = principal_of(caller_identity.arn)
existing = existing_cluster(settings.cluster.name)
step_problem = version_step_problem(existing, settings.cluster.kubernetes_version)
if step_problem:
    raise pulumi.RunError(f"{PROJECT}:cluster.kubernetesVersion: {step_problem}")
creator = cluster_creator(existing, caller)
if creator is None:
    pulumi.log.warn(
        f"cluster {settings.cluster.name} exists without the {CREATOR_TAG} tag: if one of cluster.adminRoleArns "
        "created it, EKS already has its access entry and `up` fails with ResourceInUseException; tag the cluster "
        f"with that role's ARN (aws eks tag-resource --resource-arn <cluster arn> --tags {CREATOR_TAG}=<role arn>)"
    )
elif not re.fullmatch(r"[\w.:/=+@ -]{1,256}", creator):
    raise pulumi.RunError(
        f"the creating principal {creator} cannot be recorded as an EKS tag value; deploy with a role"
    )
if not any(same_principal(caller, p) for p in [*settings.cluster.admin_role_arns, *([creator] if creator else [])]):
    pulumi.log.warn(
        f"{caller} (running this) has no access entry on cluster {settings.cluster.name}: it can neither preview nor "
        "update the Kubernetes resources; add it to cluster.adminRoleArns, or run with an admin role"
    )

bucket_managers = [
    *settings.cluster.admin_role_arns,
    *settings.data.bucket.manager_role_arns,
    *settings.data.bucket.break_glass_role_arns,
]
if settings.data.bucket.require_vpc_endpoint and not any(same_principal(caller, r) for r in bucket_managers):
    pulumi.log.warn(
        f"{caller} (running this) is not among the user bucket's managers: outside the VPC, S3 refuses it "
        "HeadBucket, so `pulumi refresh` and bucket updates fail with 403; add it to data.bucket.managerRoleArns"
    )


def addon_version(addon: str) -> str:
    """The pinned version, or EKS's default for the cluster's Kubernetes version (kube-proxy: the most
    recent, as pulumi-eks installed it), read at each `up`: add-ons follow the control plane."""
    pinned = settings.cluster.addon_versions.get(addon)
    if pinned:
        return pinned
    return aws.eks.get_addon_version(
        addon_name=addon, kubernetes_version=settings.cluster.kubernetes_version, most_recent=addon == "kube-proxy"
    ).version


addon_versions = {addon: addon_version(addon) for addon in ADDON_VERSIONS["installed"]}


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
        creator_arn=creator,
        endpoint_public_access=settings.cluster.endpoint_public_access,
        public_access_cidrs=settings.cluster.public_access_cidrs,
        private_endpoint_security_group_ids=settings.cluster.private_endpoint_access.security_group_ids,
        private_endpoint_cidrs=settings.cluster.private_endpoint_access.cidrs,
        deletion_protection=settings.cluster.deletion_protection,
        addon_versions=addon_versions,
        existing_log_groups=existing_log_groups(f"/aws/eks/{settings.cluster.name}/"),
        retain_logs_on_destroy=settings.data.retain_on_destroy,
        tags=tags,
    ),
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


ami_release_sources: dict[str, dict[str, str]] = {}


def ami_release(ami_type: str) -> str:
    """The pinned release, or the one AWS recommends now (its public SSM parameter); both recorded
    with their source in the `node_ami_releases` output."""
    if settings.node_groups.ami_release != "latest":
        release, source = settings.node_groups.ami_release, f"{PROJECT}:nodeGroups.amiRelease (pinned)"
    else:
        parameter = ami_release_parameter(ami_type, settings.cluster.kubernetes_version)
        release, source = aws.ssm.get_parameter(name=parameter).value, f"SSM {parameter}"
    ami_release_sources[ami_type] = {"release": release, "source": source}
    return release


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
            nodes=node_group_spec(settings.node_groups.gpu),
            advertised_gpus=settings.node_groups.gpu.advertised_gpus_per_node,
            accelerator=settings.node_groups.gpu.accelerator,
        )
        if settings.node_groups.gpu
        else None,
        ami_releases={
            ami_type: ami_release(ami_type)
            for ami_type in [STANDARD_AMI, *([NVIDIA_AMI] if settings.node_groups.gpu else [])]
        },
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
        account_id=account_id,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        volume_key_arn=encryption.user_data_key_arn,
        provider=cluster.provider,
        retain_volumes=settings.data.retain_on_destroy,
        volume_tags={BACKUP_TAG: name} if settings.data.backup.enabled else None,
        addon_versions=addon_versions,
        autoscaler_chart_version=settings.cluster.autoscaler.chart_version,
        autoscaler_image_tag=settings.cluster.autoscaler.image,
        wait_for=node_groups.core,
        tags=tags,
    ),
)

bucket_settings = settings.data.bucket
user_data = UserDataBucket(
    name,
    UserDataBucketArgs(
        name_prefix=name,
        key_arn=encryption.user_data_key_arn,
        retain_on_destroy=settings.data.retain_on_destroy,
        noncurrent_version_days=bucket_settings.noncurrent_version_days,
        abort_multipart_days=bucket_settings.abort_multipart_days,
        vpc_endpoint_id=network.s3_endpoint_id if bucket_settings.require_vpc_endpoint else None,
        break_glass_role_arns=bucket_settings.break_glass_role_arns,
        manager_role_arns=[*settings.cluster.admin_role_arns, *bucket_settings.manager_role_arns],
        tags=tags,
    ),
)

user_identity = UserIdentity(
    name,
    UserIdentityArgs(
        cluster_name=settings.cluster.name,
        cluster_ready=cluster.cluster_name,
        partition=settings.partition,
        region=settings.region,
        account_id=account_id,
        bucket_arn=user_data.bucket_arn,
        key_arn=encryption.user_data_key_arn,
        namespace=settings.jupyterhub.namespace,
        service_account=USER_SERVICE_ACCOUNT,
        curator_service_account=CURATOR_SERVICE_ACCOUNT if settings.jupyterhub.user_servers.has_curators else None,
        tags=tags,
    ),
)

if settings.node_groups.gpu is not None:
    GpuDevicePlugin(
        name,
        GpuDevicePluginArgs(
            provider=cluster.provider,
            chart_version=settings.node_groups.gpu.device_plugin_chart_version,
            time_slicing_replicas=settings.node_groups.gpu.time_slicing_replicas,
            # After the core nodes, as the other releases (the API answers, kube-system is ready).
            wait_for=[addons.system_policy, *node_groups.core],
        ),
    )

if settings.data.backup.enabled:
    backup = settings.data.backup
    backups = Backups(
        name,
        BackupsArgs(
            stack=name,
            partition=settings.partition,
            vault_key_arn=encryption.user_data_key_arn,
            schedule=backup.schedule,
            retention_days=backup.retention_days,
            lock=backup.vault_lock,
            lock_changeable_for_days=backup.lock_changeable_for_days,
            retain_on_destroy=settings.data.retain_on_destroy,
            tags=tags,
        ),
    )
    pulumi.export("backup_vault", backups.vault_name)
    pulumi.export("backup_role_arn", backups.role_arn)

# Per stack: dev and prod may share an account, and destroying dev must not touch prod's images.
registry_repository_name = f"{name}/{settings.registry.repository_name}"
registry = Registry(
    name,
    RegistryArgs(
        repository_name=registry_repository_name,
        key_arn=encryption.user_data_key_arn,
        node_role_arn=node_groups.node_role_arn,
        admin_role_arns=settings.cluster.admin_role_arns,
        keep_last_images=settings.registry.keep_last_images,
        untagged_expire_days=settings.registry.untagged_expire_days,
        delete_images_on_destroy=not settings.data.retain_on_destroy,
        tags=tags,
    ),
)

# The user image: from this stack's registry once the configured tag is pushed. The first `up`
# creates the repository empty, so until then user servers run the chart's public sample image
# (push, then `pulumi up` again switches them; see README "First deploy").
user_image = choose_user_image(
    settings.jupyterhub.user_servers.image,
    chart_version=settings.jupyterhub.chart_version,
    registry_url=registry.repository_url,
    tag_pushed=image_tag_pushed(registry_repository_name, settings.jupyterhub.user_servers.image.tag)
    if settings.jupyterhub.user_servers.image.from_registry
    else False,
)
if user_image.warning:
    pulumi.log.warn(user_image.warning)
# Profiles with their own tag in this stack's registry, the same way (each falls back on its own).
profile_images = {}
for profile in settings.jupyterhub.user_servers.profiles:
    if profile.image is None or not profile.image.from_registry:
        continue
    choice = choose_user_image(
        profile.image,
        chart_version=settings.jupyterhub.chart_version,
        registry_url=registry.repository_url,
        tag_pushed=image_tag_pushed(registry_repository_name, profile.image.tag),
    )
    if choice.warning:
        pulumi.log.warn(f"profile {profile.slug!r}: {choice.warning}")
    profile_images[profile.slug] = (choice.repository, choice.tag or profile.image.tag)

assert settings.secrets.oauth_client_id and settings.secrets.oauth_client_secret  # validated: required
jupyterhub = JupyterHub(
    name,
    JupyterHubArgs(
        hub=settings.jupyterhub,
        storage_class=addons.storage_class_name,
        oauth_client_id=pulumi.Output.secret(settings.secrets.oauth_client_id.get_secret_value()),
        oauth_client_secret=pulumi.Output.secret(settings.secrets.oauth_client_secret.get_secret_value()),
        provider=cluster.provider,
        user_bucket=user_data.bucket_name,
        region=settings.region,
        user_image_repository=user_image.repository,
        user_image_tag=user_image.tag,
        profile_images=profile_images,
        lockdown=settings.incident.lockdown,
        vpc_cidr=settings.network.vpc_cidr,
        kubernetes_version=settings.cluster.kubernetes_version,
        release_depends_on=[*node_groups.core, *node_groups.user, *node_groups.gpu, addons],
        tags=tags,
    ),
)

# ---- Detection and response ------------------------------------------------------------------------
detection = settings.detection
alerts = AlertTopic(
    name,
    AlertTopicArgs(
        key_arn=encryption.alerts_key_arn,
        account_id=account_id,
        emails=detection.alert_emails,
        https_endpoints=detection.alert_https_endpoints,
        tags=tags,
    ),
)
if detection.guard_duty.mode == "account":
    detector_id = account_detector()
    if detector_id is None:
        raise pulumi.RunError(
            f"{PROJECT}:detection.guardDuty.mode: GuardDuty has no detector in {settings.region}; run the "
            "account-level stack first (bootstrap/, guardDuty: true) or enable GuardDuty for the organization"
        )
    threat_detection = ThreatDetection(
        name,
        ThreatDetectionArgs(
            detector_id=detector_id, alert_topic_arn=alerts.topic_arn, provider=cluster.provider, tags=tags
        ),
    )
    pulumi.export("guardduty_detector_id", threat_detection.detector_id)
audit_trail = AuditTrail(
    name,
    AuditTrailArgs(
        trail_name=f"{name}-audit",
        partition=settings.partition,
        region=settings.region,
        account_id=account_id,
        logs_key_arn=encryption.logs_key_arn,
        log_retention_days=detection.trail_retention_days,
        retain_on_destroy=settings.data.retain_on_destroy,
        organization_trail_name=detection.organization_trail_name,
        tags=tags,
    ),
)
container_logs = ContainerLogs(
    name,
    ContainerLogsArgs(
        cluster_name=settings.cluster.name,
        cluster_ready=cluster.cluster_name,
        partition=settings.partition,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        logs_key_arn=encryption.logs_key_arn,
        retention_days=detection.container_log_retention_days,
        addon_version=addon_versions["amazon-cloudwatch-observability"],
        provider=cluster.provider,
        wait_for=node_groups.core,
        existing_log_groups=existing_log_groups(f"/aws/containerinsights/{settings.cluster.name}/"),
        tags=tags,
    ),
)


def threshold(alarm: AlarmSettings) -> Threshold:
    return Threshold(alarm.threshold, alarm.period_seconds, alarm.evaluation_periods)


security_alarms = SecurityAlarms(
    name,
    SecurityAlarmsArgs(
        alert_topic_arn=alerts.topic_arn,
        control_plane_log_group=cluster.control_plane_log_group_name,
        container_log_group=container_logs.application_log_group_name,
        bucket_name=user_data.bucket_name,
        security_group_ids=[cluster.cluster_security_group_id, network.endpoint_security_group_id],
        vpc_id=network.vpc_id,
        platform_role_arns=pulumi.Output.all(account_id, cluster.control_plane_role_arn).apply(
            lambda v: platform_role_arns(settings.partition, v[0], v[1])
        ),
        kubernetes_auth_failures=threshold(detection.kubernetes_auth_failures),
        hub_login_failures=threshold(detection.hub_login_failures),
        s3_access_denied=threshold(detection.s3_access_denied),
        s3_anomaly_band=detection.s3_anomaly_band,
        tags=tags,
    ),
)

# ---- Operations ------------------------------------------------------------------------------------
event_rules: list[tuple[str, pulumi.Input[str]]] = []
if detection.guard_duty.mode == "account":
    event_rules.append(("GuardDuty findings", threat_detection.findings_rule_name))
event_rules += security_alarms.event_rules
dashboard = OperationsDashboard(
    name,
    OperationsDashboardArgs(
        dashboard_name=f"{name}-operations",
        region=settings.region,
        cluster_name=settings.cluster.name,
        namespace=settings.jupyterhub.namespace,
        bucket_name=user_data.bucket_name,
        performance_log_group=container_log_group_name(settings.cluster.name, "performance"),
        alarm_arns=security_alarms.alarm_arns,
        event_rules=event_rules,
        node_pools=["user", *(["gpu"] if settings.node_groups.gpu else [])],
        anomaly_band=detection.s3_anomaly_band,
    ),
)
pulumi.export("dashboard_url", dashboard.url)

budget = settings.cost.budget
if budget.enabled:
    assert budget.monthly_limit_usd is not None  # validated: required while the budget is on
    stack_budget = StackBudget(
        name,
        StackBudgetArgs(
            stack_tag=tags["stack"],
            monthly_limit_usd=budget.monthly_limit_usd,
            alert_percentages=budget.alert_percentages,
            forecast_percentage=budget.forecast_percentage,
            alert_topic_arn=alerts.topic_arn,
            tags=tags,
        ),
    )
    pulumi.export("budget", stack_budget.budget_name)

pulumi.export("alert_topic_arn", alerts.topic_arn)
pulumi.export("audit_trail", audit_trail.trail_name)
pulumi.export("vpc_id", network.vpc_id)
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("cluster_name", cluster.cluster_name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidc_provider_arn", cluster.oidc_provider_arn)
pulumi.export("node_role_arn", node_groups.node_role_arn)
pulumi.export("node_ami_releases", ami_release_sources)
pulumi.export("storage_class", addons.storage_class_name)
pulumi.export("jupyterhub_url", jupyterhub.url)
pulumi.export("user_data_bucket", user_data.bucket_name)
pulumi.export("user_servers_role_arn", user_identity.role_arn)
pulumi.export("user_image_repository", registry.repository_url)
pulumi.export(
    "user_image_push",
    registry.repository_url.apply(
        lambda url: (
            f"aws ecr get-login-password --region {settings.region} | docker login --username AWS "
            f"--password-stdin {url.split('/')[0]} && docker build -t {url}:<tag> . && docker push {url}:<tag> "
            "(tags are immutable: push a new tag, then set jupyterhub.userServers.image.tag)"
        )
    ),
)
pulumi.export("jupyterhub_load_balancer", jupyterhub.load_balancer_hostname)
pulumi.export(
    "kms_keys",
    {
        "k8s_secrets": encryption.secrets_key_arn,
        "logs": encryption.logs_key_arn,
        "user_data": encryption.user_data_key_arn,
    },
)
