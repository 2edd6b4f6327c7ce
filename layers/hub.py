"""Hub: the users' data, their identity in AWS, the image registry, and the JupyterHub release."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.dask_gateway import DaskGateway, DaskGatewayArgs
from components.dask_gateway_values import hub_values as dask_hub_values
from components.dask_gateway_values import worker_image
from components.environment_prepuller import GpuEnvironmentPuller, GpuEnvironmentPullerArgs
from components.hub_database import HubDatabase, HubDatabaseArgs
from components.identity import UserIdentity, UserIdentityArgs
from components.jupyterhub import RELEASE_NAME, JupyterHub, JupyterHubArgs
from components.jupyterhub_values import (
    CURATOR_SERVICE_ACCOUNT,
    GPU_TAINT,
    NODE_POOL_LABEL,
    USER_SERVICE_ACCOUNT,
    USER_TOLERATIONS,
    HubDatabaseValues,
    UserImage,
    UserImageChoice,
    choose_user_image,
    environment_image,
    hub_image_reference,
)
from components.network import plan_subnets
from components.registry import Registry, RegistryArgs, inspector_role_arn
from components.storage import UserDataBucket, UserDataBucketArgs
from components.warm_capacity import WarmCapacity, WarmCapacityArgs
from layers.cluster import ClusterLayer
from layers.foundation import Foundation
from preflight import Facts, registry_repository_name
from settings import Settings
from settings.capacity import default_resources
from settings.environments import ENVIRONMENT_CI_ROLE_NAMES


@dataclass(frozen=True)
class HubLayer:
    user_data: UserDataBucket
    user_identity: UserIdentity
    registry: Registry
    jupyterhub: JupyterHub
    dask_gateway: DaskGateway | None = None


def declare_hub(
    name: str, settings: Settings, facts: Facts, foundation: Foundation, cluster: ClusterLayer, tags: dict[str, str]
) -> HubLayer:
    encryption, network, hub = foundation.encryption, foundation.network, settings.jupyterhub
    bucket = settings.data.bucket
    user_data = UserDataBucket(
        name,
        UserDataBucketArgs(
            name_prefix=name,
            key_arn=encryption.user_data_key_arn,
            retain_on_destroy=settings.data.retain_on_destroy,
            noncurrent_version_days=bucket.noncurrent_version_days,
            abort_multipart_days=bucket.abort_multipart_days,
            vpc_endpoint_id=network.s3_endpoint_id if bucket.require_vpc_endpoint else None,
            break_glass_role_arns=bucket.break_glass_role_arns,
            manager_role_arns=[*settings.cluster.admin_role_arns, *bucket.manager_role_arns],
            tags=tags,
        ),
    )
    user_identity = UserIdentity(
        name,
        UserIdentityArgs(
            cluster_name=settings.cluster.name,
            cluster_ready=cluster.cluster.cluster_name,
            partition=settings.partition,
            region=settings.region,
            account_id=facts.account_id,
            bucket_arn=user_data.bucket_arn,
            key_arn=encryption.user_data_key_arn,
            namespace=hub.namespace,
            service_account=USER_SERVICE_ACCOUNT,
            curator_service_account=CURATOR_SERVICE_ACCOUNT if hub.user_servers.has_curators else None,
            tags=tags,
        ),
    )
    registry = Registry(
        name,
        RegistryArgs(
            repository_name=registry_repository_name(settings),
            key_arn=encryption.user_data_key_arn,
            node_role_arn=cluster.node_groups.node_role_arn,
            admin_role_arns=settings.cluster.admin_role_arns,
            keep_last_images=settings.registry.keep_last_images,
            untagged_expire_days=settings.registry.untagged_expire_days,
            delete_images_on_destroy=not settings.data.retain_on_destroy,
            ci_role_arns=[
                f"arn:{settings.partition}:iam::{facts.account_id}:role/{role}" for role in ENVIRONMENT_CI_ROLE_NAMES
            ],
            scanner_role_arns=[inspector_role_arn(settings.partition, facts.account_id)],
            tags=tags,
        ),
    )

    # The user image: from this stack's registry once the configured tag is pushed. The first `up`
    # creates the repository empty, so until then user servers run the chart's public sample image
    # (push, then `pulumi up` again switches them; see docs/profiles-and-gpus.md, "User image").
    # An environment pinned by digest (settings/environments.py) replaces the image by tag.
    environment_images = {
        environment_name: environment_image(pin.repository, pin.tag, pin.digest)
        for environment_name, pin in settings.environments.items()
    }
    if (default_environment := hub.user_servers.environment) is not None:
        pinned = environment_images[default_environment]
        user_image = UserImageChoice(pinned.name, pinned.tag)
    else:
        user_image = choose_user_image(
            hub.user_servers.image,
            chart_version=hub.chart_version,
            registry_url=registry.repository_url,
            tag_pushed=facts.image_pushed(hub.user_servers.image.tag),
        )
    if user_image.warning:
        pulumi.log.warn(user_image.warning)
    # Profiles with their own tag in this stack's registry, the same way (each falls back on its own).
    profile_images: dict[str, tuple[pulumi.Input[str], str]] = {}
    for profile in hub.user_servers.profiles:
        if profile.environment is not None:
            pinned = environment_images[profile.environment]
            profile_images[profile.slug] = (pinned.name, pinned.tag)
            continue
        if profile.image is None or not profile.image.from_registry:
            continue
        choice = choose_user_image(
            profile.image,
            chart_version=hub.chart_version,
            registry_url=registry.repository_url,
            tag_pushed=facts.image_pushed(profile.image.tag),
        )
        if choice.warning:
            pulumi.log.warn(f"profile {profile.slug!r}: {choice.warning}")
        profile_images[profile.slug] = (choice.repository, choice.tag or profile.image.tag)

    # Pre-pulled on each pool's nodes: the CPU user pool's profile environments besides the default one (the
    # chart's puller), the GPU pool's (the program's own puller; components/environment_prepuller.py).
    prepull: dict[str, dict[str, UserImage]] = {"user": {}, "gpu": {}}
    for profile in hub.user_servers.profiles:
        environment_name = profile.environment or default_environment
        if environment_name is None or (profile.node_pool == "user" and environment_name == default_environment):
            continue
        prepull[profile.node_pool][environment_name] = environment_images[environment_name]
    # Scale-out: Dask Gateway, its schedulers and workers running the users' own image: each server's own
    # environment by default, any environment the stack's servers run by choice (when the default server runs one).
    dask_environments: dict[str, str] = {}
    if default_environment is not None:
        for environment_name in {default_environment, *(p.environment for p in hub.user_servers.profiles)}:
            if environment_name is not None:
                image = environment_images[environment_name]
                dask_environments[environment_name] = f"{image.name}:{image.tag}"
    dask_gateway = None
    hub_side_values: dict[str, Any] | None = None
    if settings.dask_gateway.enabled:
        scheme = "http" if hub.https.mode == "none" else "https"
        dask_gateway = DaskGateway(
            f"{name}-dask",
            DaskGatewayArgs(
                dask=settings.dask_gateway,
                hub_namespace=hub.namespace,
                worker_image=pulumi.Output.concat(
                    user_image.repository or hub.user_servers.image.name,
                    ":",
                    user_image.tag or hub.user_servers.image.tag,
                ).apply(worker_image),
                provider=cluster.cluster.provider,
                core_node_selector={"node-purpose": "core"},
                vpc_cidr=settings.network.vpc_cidr,
                depends_on=cluster.hub_prerequisites,
                hub_public_url=f"{scheme}://{hub.domain}",
                environments=dask_environments,
                default_environment=default_environment,
            ),
        )
        hub_side_values = dask_hub_values(
            settings.dask_gateway,
            api_token=dask_gateway.hub_api_token,
            public_url=f"{scheme}://{hub.domain}",
            environments=dask_environments,
            default_environment=default_environment,
        )

    assert settings.secrets.oauth_client_id and settings.secrets.oauth_client_secret  # validated: required
    database = None
    if settings.hub_database.engine == "postgres":
        database = HubDatabase(
            name,
            HubDatabaseArgs(
                name_prefix=name,
                settings=settings.hub_database,
                vpc_id=foundation.network.vpc_id,
                private_subnet_ids=foundation.network.private_subnet_ids,
                node_security_group_id=cluster.cluster.cluster_security_group_id,
                key_arn=foundation.encryption.user_data_key_arn,
                retain_on_destroy=settings.data.retain_on_destroy,
                tags=tags,
            ),
        )
    jupyterhub = JupyterHub(
        name,
        JupyterHubArgs(
            hub=hub,
            storage_class=cluster.addons.storage_class_name,
            oauth_client_id=pulumi.Output.secret(settings.secrets.oauth_client_id.get_secret_value()),
            oauth_client_secret=pulumi.Output.secret(settings.secrets.oauth_client_secret.get_secret_value()),
            provider=cluster.cluster.provider,
            user_bucket=user_data.bucket_name,
            region=settings.region,
            user_image_repository=user_image.repository,
            user_image_tag=user_image.tag,
            profile_images=profile_images,
            prepull_images=prepull["user"],
            lockdown=settings.incident.lockdown,
            vpc_cidr=settings.network.vpc_cidr,
            kubernetes_version=settings.cluster.kubernetes_version,
            department=settings.department,
            release_depends_on=cluster.hub_prerequisites,
            tags=tags,
            capacity=settings.capacity_plan,
            database=HubDatabaseValues(database.url, database.password) if database else None,
            database_cidrs=[
                subnet.private_cidr
                for subnet in plan_subnets(settings.network.vpc_cidr, settings.network.availability_zones)
            ]
            if database
            else [],
            extra_values=hub_side_values,
            dask_namespace=settings.dask_gateway.namespace if settings.dask_gateway.enabled else None,
        ),
    )
    if prepull["gpu"] and settings.node_groups.gpu is not None:
        GpuEnvironmentPuller(
            name,
            GpuEnvironmentPullerArgs(
                namespace=jupyterhub.namespace,
                images={env: f"{image.name}:{image.tag}" for env, image in prepull["gpu"].items()},
                node_selector={NODE_POOL_LABEL: "gpu"},
                tolerations=[*USER_TOLERATIONS, {**GPU_TAINT, "operator": "Equal"}],
                provider=cluster.cluster.provider,
            ),
        )
    if settings.capacity.warm.servers_per_zone:
        warm = default_resources(hub.user_servers)
        WarmCapacity(
            name,
            WarmCapacityArgs(
                namespace=hub.namespace,
                release=RELEASE_NAME,
                zones=settings.network.availability_zones,
                servers_per_zone=settings.capacity.warm.servers_per_zone,
                cpu=warm.cpu_guarantee,
                memory=warm.memory_guarantee,
                provider=cluster.cluster.provider,
                depends_on=[jupyterhub.release],
                schedule=settings.capacity.warm.schedule,
                scaler_image=hub_image_reference(hub.chart_version),
                vpc_cidr=settings.network.vpc_cidr,
                lockdown=settings.incident.lockdown,
            ),
        )
    return HubLayer(
        user_data=user_data,
        user_identity=user_identity,
        registry=registry,
        jupyterhub=jupyterhub,
        dask_gateway=dask_gateway,
    )
