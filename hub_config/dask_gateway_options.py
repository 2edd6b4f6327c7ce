# gateway.extraConfig of the dask-gateway chart (this one runs in the gateway's api pod, not the hub;
# dask-gateway-server 2026.3.0): the cluster options a user may choose, by her hub groups.
# `DASK_GATEWAY_OPTIONS` is set by the entry before this one (components/dask_gateway_values.py). The
# gateway calls the callable for each request with the user the hub vouched for (JupyterHubAuthenticator:
# her name and groups from /hub/api/user), and whatever it returns bounds what she can ask: a size not
# offered to her groups, an idle timeout above the maximum or an unknown option is refused (422), and
# the caps are set by the gateway, not by her.
import hashlib
import re
import string

from dask_gateway_server.options import Integer, Options, Select

# Schedulers and workers carry their user's name as a pod label, which split cost allocation data imports as a
# cost allocation tag (bootstrap/cost_export.py USERNAME_LABELS): the gateway's Kubernetes backend labels them
# with the instance, the cluster and the component only. The value is the one KubeSpawner 7.0.0 gives the user's
# server (`hub.jupyter.org/username`: slugs.safe_slug with is_valid_label), so the cost query's one username
# column puts a user's server and clusters on the same row key: the name when it is a valid label value without
# "--", else up to 21 characters of it lowercased, runs of other characters as "-", then "---" and 8 hex
# characters of the name's sha256 (stable, and two names do not collide).
USER_LABEL = "gateway.dask.org/user"
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?")
_HASHED_NAME_LENGTH = 21


def user_label_value(name):
    if "--" not in name and _LABEL_VALUE.fullmatch(name):
        return name
    safe = re.sub(r"[^a-z0-9]+", "-", name.lower()).lstrip("-")[:_HASHED_NAME_LENGTH].rstrip("-")
    if safe and not safe.startswith(tuple(string.ascii_lowercase)):
        safe = "x-" + safe[: _HASHED_NAME_LENGTH - 2]
    digest = hashlib.sha256(name.encode("utf8")).hexdigest()[:8]
    return f"{safe or 'x'}---{digest}"


def _offered_sizes(user):
    groups = set(user.groups)
    sizes = DASK_GATEWAY_OPTIONS["workerSizes"]  # type: ignore[name-defined]  # noqa: F821
    return [size for size in sizes if not size["groups"] or groups & set(size["groups"])]


def _no_size_offered(options, user):
    raise ValueError(f"no Dask worker size is offered to the groups of {user.name}")


def _cluster_config(options, user):
    size = options.worker_size
    user_label = {USER_LABEL: user_label_value(user.name)}
    environments = DASK_GATEWAY_OPTIONS["environments"]  # type: ignore[name-defined]  # noqa: F821
    # The environment's image by digest: only the stack's own environments can be chosen (a Select), so a user
    # cannot run an image of her own on the workers.
    image = {"image": environments[options.environment]} if environments else {}
    return {
        **image,
        "scheduler_extra_pod_labels": user_label,
        "worker_extra_pod_labels": user_label,
        "worker_cores": size["cores"],
        "worker_cores_limit": size["cores"],
        "worker_memory": size["memory"],
        "worker_memory_limit": size["memory"],
        "idle_timeout": options.idle_timeout_minutes * 60,
        **DASK_GATEWAY_OPTIONS["caps"],  # type: ignore[name-defined]  # noqa: F821
    }


def dask_cluster_options(user):
    offered = _offered_sizes(user)
    if not offered:
        return Options(handler=_no_size_offered)
    data = DASK_GATEWAY_OPTIONS  # type: ignore[name-defined]  # noqa: F821
    # A cluster runs its notebook's environment (the server sends its own as the default: DASK_GATEWAY__CLUSTER__
    # OPTIONS__ENVIRONMENT, hub_config/dask_environment.py), so what the client pickles the workers can load.
    environment = (
        [Select("environment", list(data["environments"]), default=data["defaultEnvironment"], label="Environment")]
        if data["environments"]
        else []
    )
    return Options(
        Select("worker_size", [(size["name"], size) for size in offered], label="Worker size"),
        *environment,
        Integer(
            "idle_timeout_minutes",
            default=data["idleTimeoutMinutes"],
            min=5,
            max=data["maxIdleTimeoutMinutes"],
            label="Shut down after idle (minutes)",
        ),
        handler=_cluster_config,
    )


c.Backend.cluster_options = dask_cluster_options  # type: ignore[name-defined]  # noqa: F821
