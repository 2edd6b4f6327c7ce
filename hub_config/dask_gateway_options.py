# gateway.extraConfig of the dask-gateway chart (this one runs in the gateway's api pod, not the hub;
# dask-gateway-server 2026.3.0): the cluster options a user may choose, by her hub groups.
# `DASK_GATEWAY_OPTIONS` is set by the entry before this one (components/dask_gateway_values.py). The
# gateway calls the callable for each request with the user the hub vouched for (JupyterHubAuthenticator:
# her name and groups from /hub/api/user), and whatever it returns bounds what she can ask: a size not
# offered to her groups, an idle timeout above the maximum or an unknown option is refused (422), and
# the caps are set by the gateway, not by her.
from dask_gateway_server.options import Integer, Options, Select


def _offered_sizes(user):
    groups = set(user.groups)
    sizes = DASK_GATEWAY_OPTIONS["workerSizes"]  # type: ignore[name-defined]  # noqa: F821
    return [size for size in sizes if not size["groups"] or groups & set(size["groups"])]


def _no_size_offered(options, user):
    raise ValueError(f"no Dask worker size is offered to the groups of {user.name}")


def _cluster_config(options, user):
    size = options.worker_size
    return {
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
    return Options(
        Select("worker_size", [(size["name"], size) for size in offered], label="Worker size"),
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
