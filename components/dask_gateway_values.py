"""The dask-gateway chart's values, the hub's side of the gateway (its service, roles, server token
scopes, the users' client configuration) and the transformation that makes the chart's own pods
meet Pod Security "restricted": pure functions of the settings, no Pulumi, so the tests render the
real chart with them and run the real dask-gateway-server with the configuration they produce.

Read from dask-gateway 2026.3.0 (chart `resources/helm/dask-gateway`, dask_gateway_server):
- the chart's names: the release `dask-gateway` makes `api-dask-gateway` (port 8000), `traefik-dask-gateway`
  (web 8000 behind service port 80) and `controller-dask-gateway`; scheduler pods `dask-scheduler-<cluster>`
  listen on 8786 (Dask, TLS), 8787 (dashboard), 8788 (the gateway's API); workers dial the scheduler's
  headless service `dask-<cluster>` on 8786 (controller.py `make_pod`, `make_service`);
- `gateway.auth.jupyterhub.apiTokenFromSecretName/Key`: the gateway's hub token from a Secret in its own
  namespace (the chart's default is the hub chart's Secret, which lives in the hub's namespace);
- `jupyterhubServiceName`: without it, JupyterHubAuthenticator accepts any hub token
  (`use_service_access_scopes` is on only when the name is set);
- api, controller and traefik take no securityContext from the values (the schema has
  `additionalProperties: false` there), schedulers and workers do (`extraPodConfig`, `extraContainerConfig`,
  merged into the pod the controller builds, which already sets `automountServiceAccountToken: false`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import hub_config
from catalog.instance_types import quantity
from components.node_groups import DASK_WORKER_POOL, DASK_WORKER_TAINT, TAINT_EFFECTS
from settings.dask import DaskGatewaySettings

RELEASE_NAME = "dask-gateway"
HUB_SERVICE = "dask-gateway"
"""The gateway's name as a JupyterHub service: its URL path, its access scope and jupyterhubServiceName."""
SERVICE_PREFIX = f"/services/{HUB_SERVICE}"
"""Where the hub's proxy serves the gateway (the hub routes /services/<name>/ to the service's url, path kept)."""
API_SERVICE = f"api-{RELEASE_NAME}"
TRAEFIK_SERVICE = f"traefik-{RELEASE_NAME}"
CONTROLLER = f"controller-{RELEASE_NAME}"
TRAEFIK_SERVICE_PORT = 80
TRAEFIK_WEB_PORT = 8000
API_PORT = 8000
SCHEDULER_PORT = 8786
DASHBOARD_PORT = 8787
SCHEDULER_API_PORT = 8788
HUB_TOKEN_SECRET = "dask-gateway-hub-token"
"""The Secret (in the gateway's namespace) holding the gateway's hub API token, created by the program."""
HUB_TOKEN_KEY = "token"
ACCESS_SCOPE = f"access:services!service={HUB_SERVICE}"
HUB_ROLE = "dask-gateway-users"

# The server role's scopes (JupyterHub 5.5.0 roles.get_default_roles "server"), plus access to the
# gateway. JupyterHub gives a server token only the subset of these its owner holds (user.py spawn:
# `_resolve_requested_scopes(requested, have_scopes)`), so only members of the allowed groups (and
# admins, whose role holds access:services) get the gateway scope on the token their server holds.
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server", ACCESS_SCOPE]

# The gateway server image runs as user `dask`, the user environment as jovyan: numeric ids, as
# "restricted" needs runAsNonRoot to be checkable (a non-numeric USER cannot be verified by the kubelet).
GATEWAY_UID = 1000
USER_UID = 1000
USER_GID = 100
RESTRICTED_CONTAINER: dict[str, Any] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
NODE_POOL_LABEL = "node-purpose"
WORKER_TOLERATION = {
    "key": DASK_WORKER_TAINT[0],
    "operator": "Equal",
    "value": DASK_WORKER_TAINT[1],
    "effect": TAINT_EFFECTS[DASK_WORKER_TAINT[2]],
}


def pod_security(uid: int, gid: int) -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "seccompProfile": {"type": "RuntimeDefault"}}


def container_security(uid: int, gid: int) -> dict[str, Any]:
    return {**copy.deepcopy(RESTRICTED_CONTAINER), "runAsUser": uid, "runAsGroup": gid}


def hub_api_url(hub_namespace: str) -> str:
    """The hub's API as the gateway reaches it (the z2jh chart's `hub` Service, port 8081)."""
    return f"http://hub.{hub_namespace}:8081/hub/api"


def traefik_url(namespace: str) -> str:
    return f"http://{TRAEFIK_SERVICE}.{namespace}:{TRAEFIK_SERVICE_PORT}"


def worker_image(user_image: str) -> str:
    """The image of schedulers and workers when the stack names no environment (userServers.image): the user
    servers' image, so a cluster runs the same environment as the notebook that drives it."""
    return user_image


ENVIRONMENT_OPTION_ENV = "DASK_GATEWAY__CLUSTER__OPTIONS__ENVIRONMENT"
"""A user server's default for the `environment` cluster option (dask config `gateway.cluster.options`, which
the client sends with every new cluster): the server's own environment (hub_config/dask_environment.py)."""
DASK_ENVIRONMENT_SNIPPET = "40-dask-environment"


def options_data(
    dask: DaskGatewaySettings, environments: Mapping[str, str] | None = None, default_environment: str | None = None
) -> dict[str, Any]:
    """What hub_config/dask_gateway_options.py reads: sizes per group, caps, idle timeout, and the environments a
    cluster may run (name -> image by digest: the ones the stack's user servers run; none when they run a plain
    image, whose clusters then run the backend's image)."""
    if environments and default_environment not in environments:
        raise ValueError(f"default environment {default_environment!r} is not one of {sorted(environments)}")
    return {
        "environments": dict(sorted((environments or {}).items())),
        "defaultEnvironment": default_environment if environments else None,
        "workerSizes": [
            {"name": s.name, "cores": s.cores, "memory": int(quantity(s.memory)), "groups": list(s.groups)}
            for s in dask.worker_sizes
        ],
        "caps": {
            "cluster_max_workers": dask.max_workers,
            "cluster_max_cores": dask.max_cores,
            "cluster_max_memory": int(quantity(dask.max_memory)),
        },
        "idleTimeoutMinutes": dask.idle_timeout_minutes,
        "maxIdleTimeoutMinutes": dask.max_idle_timeout_minutes,
    }


def gateway_extra_config(
    dask: DaskGatewaySettings,
    hub_public_url: str,
    environments: Mapping[str, str] | None = None,
    default_environment: str | None = None,
) -> dict[str, str]:
    """`gateway.extraConfig`: the options' data, then the module that turns it into cluster options; the
    hub's public URL, where the dashboard check sends a browser to log in (absolute: see the module)."""
    if not hub_public_url.startswith(("https://", "http://")):
        raise ValueError(f"hub_public_url {hub_public_url!r} must be the hub's absolute URL (https://<domain>)")
    data = json.dumps(options_data(dask, environments, default_environment), sort_keys=True)
    return {
        # dask-gateway-server 2026.3.0 starts `dask-scheduler` and `dask-worker` (ClusterConfig defaults);
        # distributed ships only the `dask` command since 2026 (its entry points: dask_cli scheduler,
        # worker), so an environment with a current distributed has neither script.
        "05-commands": 'c.ClusterConfig.scheduler_cmd = ["dask", "scheduler"]\n'
        'c.ClusterConfig.worker_cmd = ["dask", "worker"]',
        "10-options-data": f"DASK_GATEWAY_OPTIONS = json.loads({json.dumps(data)})",
        "20-cluster-options": hub_config.source("dask_gateway_options"),
        "25-hub-public-url": f"DASK_GATEWAY_HUB_PUBLIC_URL = {hub_public_url.rstrip('/')!r}",
        "30-dashboard-login": hub_config.source("dask_dashboard_login"),
    }


def cluster_pod_config(
    dask: DaskGatewaySettings, *, node_selector: Mapping[str, str], tolerations: list[dict[str, str]]
) -> dict[str, Any]:
    """`extraPodConfig` of schedulers and workers: restricted, placed, and ended at the lifetime cap
    (activeDeadlineSeconds: the kubelet kills the pod; a scheduler that ends ends its cluster)."""
    return {
        "securityContext": {**pod_security(USER_UID, USER_GID), "fsGroup": USER_GID},
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "activeDeadlineSeconds": int(dask.max_lifetime_hours * 3600),
        "nodeSelector": dict(node_selector),
        "tolerations": copy.deepcopy(tolerations),
    }


def gateway_values(
    dask: DaskGatewaySettings,
    *,
    hub_namespace: str,
    image: str,
    core_node_selector: Mapping[str, str],
    hub_public_url: str,
    environments: Mapping[str, str] | None = None,
    default_environment: str | None = None,
) -> dict[str, Any]:
    """All values of the dask-gateway release. `image` is the backend's (a cluster that names no environment);
    `environments` the images a cluster may choose by name, each user server's own by default."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        raise ValueError(f"worker image {image!r} has no tag; pin one")
    scheduler_memory = int(quantity(dask.scheduler_memory))
    return {
        "gateway": {
            "prefix": SERVICE_PREFIX,
            "auth": {
                "type": "jupyterhub",
                "jupyterhub": {
                    "apiTokenFromSecretName": HUB_TOKEN_SECRET,
                    "apiTokenFromSecretKey": HUB_TOKEN_KEY,
                    "apiUrl": hub_api_url(hub_namespace),
                    "jupyterhubServiceName": HUB_SERVICE,
                },
            },
            "nodeSelector": dict(core_node_selector),
            "backend": {
                "image": {"name": name, "tag": tag},
                "scheduler": {
                    # Schedulers on the on-demand core nodes: a lost scheduler loses its cluster.
                    "extraPodConfig": cluster_pod_config(dask, node_selector=core_node_selector, tolerations=[]),
                    "extraContainerConfig": {"securityContext": container_security(USER_UID, USER_GID)},
                    "cores": {"request": dask.scheduler_cores, "limit": dask.scheduler_cores},
                    "memory": {"request": scheduler_memory, "limit": scheduler_memory},
                },
                "worker": {
                    # Workers on their Spot pool (tainted for them only).
                    "extraPodConfig": cluster_pod_config(
                        dask, node_selector={NODE_POOL_LABEL: DASK_WORKER_POOL}, tolerations=[WORKER_TOLERATION]
                    ),
                    "extraContainerConfig": {"securityContext": container_security(USER_UID, USER_GID)},
                },
            },
            "extraConfig": gateway_extra_config(dask, hub_public_url, environments, default_environment),
        },
        "controller": {"nodeSelector": dict(core_node_selector)},
        # The program's ServiceAccounts for the api, the controller and traefik: the chart then renders none
        # of its ClusterRoles (components/dask_gateway_rbac.py binds the least their code needs).
        "rbac": {
            "gateway": {"serviceAccountName": API_SERVICE},
            "controller": {"serviceAccountName": CONTROLLER},
            "traefik": {"serviceAccountName": TRAEFIK_SERVICE},
        },
        "traefik": {
            # Watches the Dask namespace only, and no cluster-scoped object: a Role is all it has.
            "additionalArguments": [
                f"--providers.kubernetescrd.namespaces={dask.namespace}",
                "--providers.kubernetescrd.disableclusterscoperesources=true",
            ],
            # Reached only through the hub's proxy (/services/dask-gateway) and from user servers:
            # no load balancer of its own.
            "service": {"type": "ClusterIP"},
            "nodeSelector": dict(core_node_selector),
        },
    }


# Where user servers find the program's module for Dask (hub_config/jhub_dask.py), on PYTHONPATH.
USER_MODULES_DIR = "/opt/jhub-eks/python"
# PYTHONPATH in the pod's env would replace the image's own (a container's env overrides the image's ENV,
# and `$(VAR)` expands only variables set earlier in the pod spec). Every environment is a docker-stacks
# image (environments/README.md), whose start.sh (the ENTRYPOINT, before the hub's command) sources each
# `*.sh` in before-notebook.d into the shell it then execs the server from: the hook prepends the
# directory to whatever PYTHONPATH the image and the pod already have.
USER_PATH_HOOK = "/usr/local/bin/before-notebook.d/50-jhub-eks-python-path.sh"
USER_PATH_HOOK_SOURCE = (
    "# jhub-eks: the program's modules for user servers (jhub_dask), before the image's own PYTHONPATH.\n"
    f'export PYTHONPATH="{USER_MODULES_DIR}${{PYTHONPATH:+:${{PYTHONPATH}}}}"\n'
)


def dask_environment_config(environments: Mapping[str, str], default_environment: str | None) -> str:
    """`hub.extraConfig`: each user server's default `environment` cluster option, its own environment's name
    (hub_config/dask_environment.py), from the images the stack's environments run."""
    by_image = {image: name for name, image in sorted(environments.items())}
    return (
        f"DASK_ENVIRONMENTS_BY_IMAGE = {by_image!r}\n"
        f"DASK_DEFAULT_ENVIRONMENT = {default_environment!r}\n"
        f"DASK_ENVIRONMENT_VARIABLE = {ENVIRONMENT_OPTION_ENV!r}\n" + hub_config.source("dask_environment")
    )


def hub_values(
    dask: DaskGatewaySettings,
    *,
    api_token: Any,
    public_url: str | None = None,
    environments: Mapping[str, str] | None = None,
    default_environment: str | None = None,
) -> dict[str, Any]:
    """What the hub's release adds for the gateway: the service (its token; the hub's proxy routes
    /services/dask-gateway/ to traefik), the role of the allowed groups, the server token's scopes, and each
    server's own environment as its clusters' default."""
    extra_config = (
        {DASK_ENVIRONMENT_SNIPPET: dask_environment_config(environments, default_environment)} if environments else {}
    )
    return {
        "hub": {
            **({"extraConfig": extra_config} if extra_config else {}),
            "services": {
                HUB_SERVICE: {
                    "apiToken": api_token,
                    "url": traefik_url(dask.namespace),
                    "display": False,
                    # The dashboards' browser login (hub_config/dask_dashboard_login.py): the hub's OAuth
                    # sends the code to the api's callback, through the hub's proxy and traefik; no
                    # consent page, the gateway being part of the hub.
                    "oauth_redirect_uri": f"{SERVICE_PREFIX}{DASHBOARD_OAUTH_CALLBACK_PATH}",
                    "oauth_no_confirm": True,
                },
            },
            "loadRoles": {
                HUB_ROLE: {
                    "description": "May use Dask Gateway (daskGateway.groups)",
                    "scopes": [ACCESS_SCOPE],
                    "groups": list(dask.groups),
                }
            },
            "config": {"KubeSpawner": {"server_token_scopes": list(SERVER_TOKEN_SCOPES)}},
        },
        "singleuser": {
            "extraEnv": client_env(dask, public_url=public_url),
            # `jhub_dask.forward_aws_credentials(client)`: the server's session to its own workers.
            "extraFiles": {
                "jhub-dask": {
                    "mountPath": f"{USER_MODULES_DIR}/jhub_dask.py",
                    "stringData": hub_config.source("jhub_dask"),
                },
                "jhub-eks-python-path": {"mountPath": USER_PATH_HOOK, "stringData": USER_PATH_HOOK_SOURCE},
            },
        },
    }


def client_env(dask: DaskGatewaySettings, *, public_url: str | None = None) -> dict[str, str]:
    """DASK_GATEWAY__* in user servers, so `Gateway()` needs no argument: the gateway through traefik
    in the cluster, the hub login (the client sends the server's JUPYTERHUB_API_TOKEN)."""
    namespace = dask.namespace
    env = {
        "DASK_GATEWAY__ADDRESS": f"{traefik_url(namespace)}{SERVICE_PREFIX}",
        "DASK_GATEWAY__PROXY_ADDRESS": f"gateway://{TRAEFIK_SERVICE}.{namespace}:{TRAEFIK_SERVICE_PORT}",
        "DASK_GATEWAY__AUTH__TYPE": "jupyterhub",
    }
    if public_url:
        env["DASK_GATEWAY__PUBLIC_ADDRESS"] = f"{public_url.rstrip('/')}{SERVICE_PREFIX}"
    return env


# The workload kinds the chart renders and where their pod template sits.
_POD_TEMPLATES = {"Deployment": ("spec", "template", "spec")}


def restrict_pods(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The chart's object with every pod it makes meeting "restricted": numeric non-root user, no
    privilege escalation, no capability, RuntimeDefault seccomp (the chart's values cannot say so for
    the api, controller and traefik). Other objects are returned unchanged."""
    result = copy.deepcopy(dict(obj))
    path = _POD_TEMPLATES.get(str(result.get("kind")))
    if path is None:
        return result
    spec = result
    for key in path:
        spec = spec[key]
    spec["securityContext"] = {**(spec.get("securityContext") or {}), **pod_security(GATEWAY_UID, GATEWAY_UID)}
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        container["securityContext"] = {
            **(container.get("securityContext") or {}),
            **container_security(GATEWAY_UID, GATEWAY_UID),
        }
    return result


# Dashboards need a login: traefik's forwardAuth middleware, declared by the program
# (components/dask_gateway.py), asks the api's check (hub_config/dask_dashboard_login.py) first on
# every dashboard route the controller makes.
DASHBOARD_LOGIN_MIDDLEWARE = "dashboard-login"
DASHBOARD_LOGIN_PATH = "/api/v1/dashboard-login"
DASHBOARD_OAUTH_CALLBACK_PATH = "/api/v1/dashboard-oauth-callback"
DASHBOARD_LOGIN_HEADERS = ["Authorization", "Cookie"]
"""What traefik passes to the check: an API client's token, or a browser's cookie of the gateway's hub OAuth token."""
INSTANCE_LABEL = "gateway.dask.org/instance"
"""The label the chart's traefik selects every traefik.io object on (templates/traefik/deployment.yaml:
`--providers.kubernetescrd.labelselector=gateway.dask.org/instance=<fullname>`, applied to Middlewares
too); the fullname is the release's name, which contains the chart's."""


def dashboard_login_middleware(namespace: str) -> dict[str, Any]:
    """The traefik Middleware (traefik.io/v1alpha1, traefik 3.3 in the chart): forwardAuth to the api's
    check, with the request's Authorization and Cookie headers only (traefik sets X-Forwarded-Uri itself and does
    not trust the client's, trustForwardHeader being false). Labelled as the chart's traefik selects:
    without the label traefik never loads it and drops every route that names it."""
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": {
            "name": DASHBOARD_LOGIN_MIDDLEWARE,
            "namespace": namespace,
            "labels": {INSTANCE_LABEL: RELEASE_NAME},
        },
        "spec": {
            "forwardAuth": {
                "address": f"http://{API_SERVICE}.{namespace}:{API_PORT}{DASHBOARD_LOGIN_PATH}",
                "authRequestHeaders": list(DASHBOARD_LOGIN_HEADERS),
                "trustForwardHeader": False,
            }
        },
    }


_CONTROLLER_CONFIG = "dask_gateway_config.py"


def require_dashboard_login(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The chart's controller ConfigMap with the login middleware first on the dashboard routes the
    controller makes (`KubeController.proxy_web_middlewares`: the chart sets only its prefix-stripping
    middleware and has no extraConfig for the controller). First, so the check sees the path before the
    cluster's prefix is stripped. Other objects are returned unchanged."""
    result = copy.deepcopy(dict(obj))
    if result.get("kind") != "ConfigMap" or result.get("metadata", {}).get("name") != CONTROLLER:
        return result
    login = {"name": DASHBOARD_LOGIN_MIDDLEWARE, "namespace": namespace}
    result["data"][_CONTROLLER_CONFIG] += (
        "\n# The program's: a dashboard is served only after the api's login check (forwardAuth).\n"
        f"c.KubeController.proxy_web_middlewares = [{login!r}, *c.KubeController.proxy_web_middlewares]\n"
    )
    return result


# What a container of the gateway's own pods (api, controller, traefik: the chart sets no resources)
# gets: with a ResourceQuota on cpu and memory, Kubernetes refuses a pod whose containers say
# nothing, unless a LimitRange fills the defaults in.
GATEWAY_CONTAINER_DEFAULTS = {"request": {"cpu": "100m", "memory": "256Mi"}, "limit": {"cpu": "1", "memory": "1Gi"}}


def resource_quota_spec(dask: DaskGatewaySettings) -> dict[str, Any]:
    """The namespace's totals: every cluster together, and the gateway."""
    return {
        "hard": {
            "limits.cpu": f"{dask.namespace_max_cores:g}",
            "requests.cpu": f"{dask.namespace_max_cores:g}",
            "limits.memory": dask.namespace_max_memory,
            "requests.memory": dask.namespace_max_memory,
            "pods": str(dask.namespace_max_pods),
        }
    }


def limit_range_spec(dask: DaskGatewaySettings) -> dict[str, Any]:
    """Defaults for containers that say nothing, and no container larger than the largest worker
    size or the scheduler."""
    largest_cores = max([s.cores for s in dask.worker_sizes] + [dask.scheduler_cores])
    largest_memory = max([int(quantity(s.memory)) for s in dask.worker_sizes] + [int(quantity(dask.scheduler_memory))])
    return {
        "limits": [
            {
                "type": "Container",
                "defaultRequest": dict(GATEWAY_CONTAINER_DEFAULTS["request"]),
                "default": dict(GATEWAY_CONTAINER_DEFAULTS["limit"]),
                "max": {"cpu": str(largest_cores), "memory": str(largest_memory)},
            }
        ]
    }
