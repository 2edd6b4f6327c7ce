"""The Zero-to-JupyterHub Helm values, built from the validated settings by pure functions.

No Pulumi here: the values are plain data (secrets are passed in as opaque leaves), so the tests
validate every stack's values against the chart's own JSON schema, and the offline plan writes them,
secrets redacted, for a reviewer to read exactly what goes to Helm.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import hub_config
from catalog.instance_types import quantity
from components.department_values import with_department
from settings import ImageSettings, JupyterHubSettings
from settings.capacity import CapacityPlan
from settings.department import DepartmentSettings

# KubeSpawner reads memory with jupyterhub's ByteSpecification: K, M, G, T are powers of 1024, a number
# is bytes, and Kubernetes' Ki/Mi/Gi are refused. The settings take Kubernetes quantities.
KUBESPAWNER_UNITS = {"T": 1024**4, "G": 1024**3, "M": 1024**2, "K": 1024}


def kubespawner_memory(memory: str) -> str | int:
    """A Kubernetes memory quantity as KubeSpawner reads it: 4Gi -> "4G", 1.5Gi -> "1536M", else bytes."""
    size = quantity(memory)
    for unit, factor in KUBESPAWNER_UNITS.items():
        if size >= factor and size % factor == 0:
            return f"{int(size // factor)}{unit}"
    return int(size)


def kubespawner_kib(memory: str | int | float) -> float:
    """What KubeSpawner makes of a memory value of its own form, in KiB (the reverse of kubespawner_memory)."""
    if isinstance(memory, int | float):
        return float(memory) / 1024
    return float(memory[:-1]) * KUBESPAWNER_UNITS[memory[-1]] / 1024


HUB_SLIM_IMAGE = "quay.io/jupyterhub/k8s-hub-slim"


def hub_image_reference(chart_version: str) -> str:
    """The hub's image as the release runs it (hub.image: the slim hub at the chart's version), for the program's
    own jobs that run in it (the warm capacity's scaler, the home usage job): no image of their own to pull."""
    return f"{HUB_SLIM_IMAGE}:{chart_version}"


# One pod per user, named by the hub from the user name (users cannot choose it). The S3 isolation
# keys on this name (the `kubernetes-pod-name` session tag), so named servers stay off.
USER_POD_NAME_TEMPLATE = "jupyter-{username}"
USER_SERVICE_ACCOUNT = "jupyter-user"
# Curator profiles' servers: the same home rule, and write access to the bucket's shared/ prefix.
CURATOR_SERVICE_ACCOUNT = "jupyter-curator"
USER_UID = 1000
USER_GID = 100

# Pod Security "restricted" for the user server container and pod (KubeSpawner applies these;
# `singleuser.containerSecurityContext` does not exist in the chart).
USER_CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsUser": USER_UID,
    "runAsGroup": USER_GID,
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
USER_POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "fsGroup": USER_GID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True)
class UserImage:
    name: str
    tag: str


def fallback_user_image(chart_version: str) -> UserImage:
    """The chart's own sample user image at the chart's version: public and always pullable, so user
    servers start while the stack's own image is not pushed yet."""
    return UserImage("quay.io/jupyterhub/k8s-singleuser-sample", chart_version)


def environment_image(repository: str, tag: str | None, digest: str | None) -> UserImage:
    """An environment's image as the chart's `name` and `tag`. The z2jh 4.4.0 chart joins them with a colon
    everywhere: the hub's config (`f"{name}:{tag}"`, files/hub/jupyterhub_config.py) and the image pullers
    (`{{ name }}:{{ tag }}`, templates/image-puller/_helpers-daemonset.tpl). So a digest is written as name
    `<repository>@sha256` and tag `<hex>`, which both join into `<repository>@sha256:<hex>`."""
    if digest is not None:
        algorithm, _, hex_digest = digest.partition(":")
        return UserImage(f"{repository}@{algorithm}", hex_digest)
    assert tag is not None  # settings refuse a pin with neither
    return UserImage(repository, tag)


@dataclass(frozen=True)
class UserImageChoice:
    """Which image user servers run: `repository` None means the configured `image.name`."""

    repository: Any
    tag: str | None
    warning: str | None = None


def choose_user_image(
    image: ImageSettings, *, chart_version: str, registry_url: Any, tag_pushed: bool
) -> UserImageChoice:
    """The stack's registry image once its tag is pushed; until then the fallback, with a warning
    (a pod that cannot pull its image never starts, and the release would wait on it)."""
    if not image.from_registry:
        return UserImageChoice(None, None)
    if tag_pushed:
        return UserImageChoice(registry_url, image.tag)
    fallback = fallback_user_image(chart_version)
    return UserImageChoice(
        fallback.name,
        fallback.tag,
        f"user image tag {image.tag!r} is not in this stack's ECR repository yet: user servers run "
        f"{fallback.name}:{fallback.tag} until it is pushed; push it (`pulumi stack output user_image_push`) "
        "and run `pulumi up` again",
    )


@dataclass(frozen=True)
class UserStorage:
    """Where user servers find their S3 home (EKS Pod Identity gives them the credentials)."""

    bucket: str
    region: str


@dataclass(frozen=True)
class HubDatabaseValues:
    """The hub's PostgreSQL (components/hub_database.py): its URL without the password, and the password (a secret
    leaf: the chart writes `hub.db.password` into the hub's Secret, and the hub exports it as PGPASSWORD)."""

    url: Any
    password: Any


@dataclass(frozen=True)
class HubSecrets:
    """Secret leaves of the values: Pulumi outputs in the program, redaction markers in the plan."""

    cookie_secret: Any
    proxy_token: Any
    crypt_key: Any
    oauth_client_id: Any
    oauth_client_secret: Any


def redacted_secrets() -> HubSecrets:
    return HubSecrets(*(f"[secret:{name}]" for name in HubSecrets.__dataclass_fields__))


# The chart's four NetworkPolicies are off: the program declares the namespace's policies itself
# (components/hub_network_policies.py), each a resource of its own that `pulumi preview` shows.
CHART_POLICIES_OFF = {"enabled": False}


# cloud-provider-aws tags the load balancer it creates for the Service with these (and its target
# groups, listeners, security group): "k1=v1,k2=v2", read at creation only (ensureLoadBalancerv2
# does not re-tag an existing NLB).
LOAD_BALANCER_TAGS_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"


def load_balancer_tags_annotation(tags: Mapping[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        if any(c in f"{key}{value}" for c in ",="):
            raise ValueError(f"tag {key}={value}: the annotation cannot carry ',' or '='")
    return {LOAD_BALANCER_TAGS_ANNOTATION: ",".join(f"{k}={v}" for k, v in sorted(tags.items()))} if tags else {}


def _https(
    hub: JupyterHubSettings, certificate_arn: str | None, load_balancer_tags: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`proxy.https` and `proxy.service` for the TLS mode: only the ports the mode needs."""
    mode = hub.https.mode
    tag_annotation = load_balancer_tags_annotation(load_balancer_tags or {})
    service: dict[str, Any] = {
        "type": "LoadBalancer",
        "loadBalancerSourceRanges": list(hub.load_balancer_source_ranges),
        "annotations": dict(tag_annotation),
        "disableHttpPort": mode in ("secret", "acm"),
    }
    if mode == "none":
        return {"enabled": False}, service
    if mode == "letsencrypt":
        # Port 80 stays open: the ACME HTTP-01 challenge and the redirect to HTTPS need it.
        return {
            "enabled": True,
            "type": "letsencrypt",
            "hosts": [hub.domain],
            "letsencrypt": {"contactEmail": hub.https.contact_email},
        }, service
    if mode == "secret":
        hosts = [hub.domain, f"*.{hub.domain}"] if hub.subdomain_host else [hub.domain]
        return {"enabled": True, "type": "secret", "hosts": hosts, "secret": {"name": hub.https.secret_name}}, service
    service["annotations"] = {
        **tag_annotation,
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": certificate_arn,
        "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "https",
        # TCP to the proxy: websockets pass through, TLS ends at the NLB.
        "service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "tcp",
        "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    }
    return {"enabled": True, "type": "offload"}, service


# Cookies behind TLS that ends before the hub (JupyterHub 5.5.0, chart 4.4.0). The NLB (`acm`) or
# traefik hands CHP plain HTTP, and CHP's own X-Forwarded-Proto then says `http`, so the hub would
# decide every cookie is for plain HTTP (handlers/base.py `_set_cookie`: Secure only when
# `public_url` is https or `request.protocol == 'https'`). Hence:
# - `public_url`: the hub's login/session/OAuth-state cookies are Secure, and user servers receive
#   it as JUPYTERHUB_PUBLIC_URL;
# - `tornado_settings.cookie_options.secure`: merged into every hub cookie, becomes the hub's
#   `_xsrf` cookie kwargs, and reaches user servers as JUPYTERHUB_COOKIE_OPTIONS (HubOAuth's token
#   cookie); setting `tornado_settings` replaces the chart's dict, so its `slow_spawn_timeout: 0`
#   is kept;
# - HSTS from the hub covers the whole host;
# - the user server's own `_xsrf` cookie takes jupyter-server's `xsrf_cookie_kwargs` only (below).
HSTS = "max-age=31536000"


def secure_session_config(domain: str) -> dict[str, Any]:
    """`hub.config.JupyterHub` entries that make sessions behave as under HTTPS."""
    return {
        "public_url": f"https://{domain}/",
        "tornado_settings": {
            "slow_spawn_timeout": 0,
            "cookie_options": {"secure": True},
            "headers": {"Strict-Transport-Security": HSTS},
        },
    }


# jupyter-server reads every jupyter_server_config.json on its config path; /usr/local/etc/jupyter
# is on it and, unlike /etc/jupyter, is not where the docker-stacks images keep their own config.
SINGLE_USER_SECURE_XSRF: dict[str, Any] = {
    "mountPath": "/usr/local/etc/jupyter/jupyter_server_config.json",
    "data": {"ServerApp": {"tornado_settings": {"xsrf_cookie_kwargs": {"secure": True}}}},
}


def oauth_callback_url(hub: JupyterHubSettings) -> str:
    scheme = "http" if hub.https.mode == "none" else "https"
    return f"{scheme}://{hub.domain}/hub/oauth_callback"


# Login. Groups decide who may log in and who is admin (OAuthenticator 17.4.0: `allowed_groups`
# and `admin_groups` need `manage_groups`; admin groups also let their members in; JupyterHub makes a
# user's groups exactly the provider's at each login). `enable_auth_state` keeps the tokens
# (encrypted with the CryptKeeper keys) so JupyterHub refreshes groups and admin every 5 minutes,
# not only at login. No `allow_all`, no `allow_existing_users`: without an allow rule nobody is let in.
AUTHENTICATOR_CLASSES = {"github": "github", "oidc": "generic-oauth"}  # oauthenticator's entry points


def login_config(hub: JupyterHubSettings, secrets: HubSecrets) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(authenticator_class, hub.config sections, hub.extraConfig entries) for `hub.auth`."""
    common: dict[str, Any] = {
        "client_id": secrets.oauth_client_id,
        "client_secret": secrets.oauth_client_secret,
        "oauth_callback_url": oauth_callback_url(hub),
        "manage_groups": True,
        "enable_auth_state": True,
    }
    if hub.auth == "oidc":
        assert hub.oidc is not None  # settings require it
        oidc = hub.oidc
        generic = {
            **common,
            "login_service": oidc.login_service,
            "authorize_url": oidc.authorize_url,
            "token_url": oidc.token_url,
            **({"userdata_url": oidc.userinfo_url} if oidc.userinfo_url else {"userdata_from_id_token": True}),
            "scope": list(oidc.scopes),
            "username_claim": oidc.username_claim,
            "auth_state_groups_key": f"oauth_user.{oidc.groups_claim}",
            "allowed_groups": list(oidc.allowed_groups),
            "admin_groups": list(oidc.admin_groups),
        }
        return AUTHENTICATOR_CLASSES["oidc"], {"GenericOAuthenticator": generic}, {}
    github = {
        **common,
        "allowed_organizations": list(hub.github.allowed_organizations),
        # Private org membership and teams are visible only with read:org.
        "scope": ["read:org"],
        "populate_teams_in_auth_state": True,
        "admin_groups": [team.lower() for team in hub.github.admin_teams],
    }
    config = {"GitHubOAuthenticator": github, "Authenticator": {"admin_users": list(hub.github.admin_users)}}
    return AUTHENTICATOR_CLASSES["github"], config, {"10-github-teams": hub_config.source("github_teams")}


# Where user servers may run: the chart's user tolerations (z2jh 4.4.0 values.yaml
# scheduling.userPods.tolerations, written out so GPU profiles can repeat them: a profile's
# `tolerations` replaces the list, KubeSpawner 7.0.0 `_apply_overrides`), and the label each node
# group carries (components/node_groups.py: `node-purpose`).
USER_TOLERATIONS: list[dict[str, str]] = [
    {"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"},
    {"key": "hub.jupyter.org_dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"},
]
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
GPU_RESOURCE = "nvidia.com/gpu"
NODE_POOL_LABEL = "node-purpose"
SHM_VOLUME = "dshm"


def _image(image: UserImage | ImageSettings) -> str:
    return f"{image.name}:{image.tag}"


def render_profiles(
    hub: JupyterHubSettings,
    profile_images: Mapping[str, UserImage] | None = None,
    capacity: CapacityPlan | None = None,
) -> list[dict[str, Any]]:
    """KubeSpawner 7.0.0 profile_list entries. `allowed_groups` is this program's key (KubeSpawner
    ignores keys it does not know); hub_config/profiles_by_group.py filters on it at every spawn.
    `profile_images` replaces a profile's configured image (its tag in the stack's ECR repository,
    or the fallback while that tag is not pushed)."""
    user = hub.user_servers
    profiles = []
    for profile in user.profiles:
        resources = profile.resources or user.resources
        override: dict[str, Any] = {
            "cpu_guarantee": resources.cpu_guarantee,
            "cpu_limit": resources.cpu_limit,
            "mem_guarantee": kubespawner_memory(resources.memory_guarantee),
            "mem_limit": kubespawner_memory(resources.memory_limit),
            # Merged into the chart's node_selector: the profile's pool and no other.
            "node_selector": {NODE_POOL_LABEL: profile.node_pool},
        }
        if profile.slug in (profile_images or {}):
            override["image"] = _image((profile_images or {})[profile.slug])
        elif profile.image is not None:
            override["image"] = _image(profile.image)
        if profile.gpus:
            override["extra_resource_limits"] = {GPU_RESOURCE: str(profile.gpus)}
            override["tolerations"] = [*copy.deepcopy(USER_TOLERATIONS), {**GPU_TAINT, "operator": "Equal"}]
        # A profile whose environment pulls longer than the default's gets its own cold start's timeout.
        start_timeout = profile.start_timeout_seconds or (capacity.profile_start_timeouts if capacity else {}).get(
            profile.slug
        )
        if start_timeout:
            override["start_timeout"] = start_timeout
        if profile.shared_data_writer:
            override["service_account"] = CURATOR_SERVICE_ACCOUNT
        entry: dict[str, Any] = {
            "slug": profile.slug,
            "display_name": profile.display_name,
            "description": profile.description,
            "default": profile.default,
            "kubespawner_override": override,
        }
        if profile.groups:
            entry["allowed_groups"] = list(profile.groups)
        profiles.append(entry)
    return profiles


def build_values(
    hub: JupyterHubSettings,
    *,
    storage_class: str,
    secrets: HubSecrets,
    certificate_arn: str | None = None,
    user_storage: UserStorage | None = None,
    user_image: UserImage | None = None,
    profile_images: Mapping[str, UserImage] | None = None,
    load_balancer_tags: Mapping[str, str] | None = None,
    user_scheduler_image_tag: str | None = None,
    prepull_images: Mapping[str, UserImage] | None = None,
    capacity: CapacityPlan | None = None,
    database: HubDatabaseValues | None = None,
    department: DepartmentSettings | None = None,
    extra_values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """All Helm values of the release; `hub.values_overrides` merged last.

    `user_image` replaces the configured image (the stack's ECR repository and tag, or the fallback
    while that tag is not pushed yet)."""
    https, service = _https(hub, certificate_arn, load_balancer_tags)
    user = hub.user_servers
    user_env: dict[str, str] = {}
    if user_storage is not None:
        # KubeSpawner expands {username} exactly as in the pod name, so the prefix matches the policy.
        home_prefix = f"home/{USER_POD_NAME_TEMPLATE}/"
        user_env = {
            "AWS_REGION": user_storage.region,
            "AWS_DEFAULT_REGION": user_storage.region,
            "S3_BUCKET": user_storage.bucket,
            "S3_HOME_PREFIX": home_prefix,
            "S3_HOME": f"s3://{user_storage.bucket}/{home_prefix}",
        }
    authenticator_class, auth_config, auth_snippets = login_config(hub, secrets)
    profiles = render_profiles(hub, profile_images, capacity)
    extra_config = dict(auth_snippets)
    if profiles:
        extra_config["20-profiles-by-group"] = hub_config.source("profiles_by_group")
    jupyterhub_config: dict[str, Any] = {
        "authenticator_class": authenticator_class,
        "cookie_secret": secrets.cookie_secret,
    }
    if hub.subdomain_host:
        jupyterhub_config["subdomain_host"] = f"https://{hub.domain}"
    single_user_files: dict[str, Any] = {}
    if hub.https.mode != "none":
        jupyterhub_config.update(secure_session_config(hub.domain))
        single_user_files["jupyter-server-config"] = SINGLE_USER_SECURE_XSRF

    values: dict[str, Any] = {
        "hub": {
            "image": {"name": HUB_SLIM_IMAGE, "tag": hub.chart_version},
            "allowNamedServers": False,
            "config": {
                "JupyterHub": jupyterhub_config,
                "ConfigurableHTTPProxy": {"auth_token": secrets.proxy_token},
                "CryptKeeper": {"keys": [secrets.crypt_key]},
                **auth_config,
                "KubeSpawner": {
                    "container_security_context": copy.deepcopy(USER_CONTAINER_SECURITY_CONTEXT),
                    "pod_security_context": copy.deepcopy(USER_POD_SECURITY_CONTEXT),
                    # User servers get no Kubernetes API credentials.
                    "automount_service_account_token": False,
                },
            },
            "extraConfig": extra_config,
            "networkPolicy": dict(CHART_POLICIES_OFF),
        },
        "proxy": {
            "service": service,
            "https": https,
            "chp": {"networkPolicy": dict(CHART_POLICIES_OFF)},
            "traefik": {"networkPolicy": dict(CHART_POLICIES_OFF)},
        },
        "singleuser": {
            "image": {
                "name": user_image.name if user_image else user.image.name,
                "tag": user_image.tag if user_image else user.image.tag,
            },
            "podNameTemplate": USER_POD_NAME_TEMPLATE,
            "profileList": profiles,
            "serviceAccountName": USER_SERVICE_ACCOUNT,
            "extraEnv": user_env,
            "extraFiles": single_user_files,
            "uid": USER_UID,
            "fsGid": USER_GID,
            "allowPrivilegeEscalation": False,
            "cpu": {"guarantee": user.resources.cpu_guarantee, "limit": user.resources.cpu_limit},
            "memory": {
                "guarantee": kubespawner_memory(user.resources.memory_guarantee),
                "limit": kubespawner_memory(user.resources.memory_limit),
            },
            "storage": {
                "type": "dynamic",
                "capacity": user.storage_capacity,
                "dynamic": {"storageClass": storage_class},
                # Memory-backed /dev/shm (the runtime's is 64M; PyTorch data loaders need more). The
                # chart merges these dicts into KubeSpawner's volumes/volume_mounts, by name.
                "extraVolumes": {
                    SHM_VOLUME: {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": user.shm_size}}
                },
                "extraVolumeMounts": {SHM_VOLUME: {"name": SHM_VOLUME, "mountPath": "/dev/shm"}},
            },
            # The VPC CNI enforces the network policy below and nodes use IMDS hop limit 1, so no
            # privileged iptables init container is needed in user pods.
            "cloudMetadata": {"blockWithIptables": False},
            "networkPolicy": dict(CHART_POLICIES_OFF),
        },
        "scheduling": {
            "userScheduler": {
                "enabled": True,
                # A kube-scheduler within the skew policy of the cluster (components/user_scheduler.py).
                **({"image": {"tag": user_scheduler_image_tag}} if user_scheduler_image_tag else {}),
            },
            "podPriority": {"enabled": True},
            "userPods": {
                "nodeAffinity": {"matchNodePurpose": "require"},
                "tolerations": copy.deepcopy(USER_TOLERATIONS),
            },
            "corePods": {"nodeAffinity": {"matchNodePurpose": "require"}},
        },
        # No pre-install/pre-upgrade hook that pulls the user image: it makes every install wait
        # for an image pull (and an atomic release roll back when the image cannot be pulled, as on
        # the first deploy before the image is pushed). The continuous puller still pre-pulls on
        # each user node, where a failed pull delays spawns instead of failing the release.
        # Profile images are not pulled as the chart would (pullProfileListImages): every user node would
        # pull every profile's image, CUDA images of GPU profiles on CPU nodes too.
        # The environments of the CPU user pool's other profiles are pulled too, as extraImages (the chart joins
        # name and tag with a colon: an environment's `<repository>@sha256` and `<hex>`); the GPU pool's by the
        # program's own puller (components/environment_prepuller.py).
        "prePuller": {
            "hook": {"enabled": False},
            "continuous": {"enabled": True},
            "pullProfileListImages": False,
            "extraImages": {
                f"environment-{name}": {"name": image.name, "tag": image.tag}
                for name, image in sorted((prepull_images or {}).items())
            },
        },
        "cull": {"enabled": True, "timeout": user.idle_timeout_seconds, "every": 300},
        "debug": {"enabled": False},
    }
    if capacity is not None:
        values = deep_merge(values, capacity_values(capacity))
    if database is not None:
        # No volume: the chart's hub-db PVC is made only for sqlite-pvc, so the hub may start in any zone.
        # upgrade: the chart passes --upgrade-db on its own for sqlite-pvc only (templates/hub/deployment.yaml), so a
        # later chart whose JupyterHub changes the schema would stop the hub at start on PostgreSQL ("Found database
        # schema version ... run `jupyterhub upgrade-db`"). RDS keeps automated backups (point-in-time restore), the
        # backup the chart's sqlite default relies on too.
        values["hub"]["db"] = {
            "type": "postgres",
            "url": database.url,
            "password": database.password,
            "upgrade": True,
        }
    if department is not None:
        values = with_department(values, department)
    values = deep_merge(values, dict(extra_values or {}))
    values = deep_merge(values, hub.values_overrides)
    return values


def capacity_values(capacity: CapacityPlan) -> dict[str, Any]:
    """The hub's limits sized by the plan (settings/capacity.py): a full hub refuses a spawn with "full" instead
    of a server that times out, a class logging in together is not refused at the chart's 64 pending spawns,
    and a server has the time a cold node takes."""
    return {
        "hub": {
            "activeServerLimit": capacity.active_server_limit,
            "concurrentSpawnLimit": capacity.concurrent_spawn_limit,
            "consecutiveFailureLimit": capacity.consecutive_failure_limit,
            # The chart has no key for it: KubeSpawner's start_timeout ends when the pod runs, then the hub gives
            # the server http_timeout (30 s by default) to answer, however long its start was planned to take.
            "config": {"KubeSpawner": {"http_timeout": capacity.http_timeout_seconds}},
        },
        "singleuser": {"startTimeout": capacity.start_timeout_seconds},
    }


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Merge `overrides` into a copy of `base`: dicts merge, anything else replaces. Leaves are not
    copied (they may be Pulumi outputs)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
