# hub.extraConfig: the most servers, and GPU servers, a group's members may run at once.
# JupyterHub 5.5.0 runs Spawner.pre_spawn_hook in User.spawn for every start (the spawn page, the
# REST API, an admin starting a server for a user), after the group overrides and before
# KubeSpawner.start, with this spawner already pending; the hub is one process and the hook does not
# await before deciding, so two starts at once cannot both take the last place. The servers counted
# are the hub's own (`users` of its tornado settings: every user with an active server is loaded at
# startup), pending or running. An exception's `jupyterhub_message` is what the spawn page and the
# progress API show the user ("Spawn failed: <message>").
# The limits are the chart's `custom.groupServerLimits` ({group: {servers, gpuServers}}), read with
# the chart's z2jh.get_config; a server counts against every limited group its user is in.

from z2jh import get_config  # the chart's module, in the hub image

GROUP_SERVER_LIMITS = get_config("custom.groupServerLimits", {}) or {}
GPU_RESOURCE = "nvidia.com/gpu"


class GroupServerLimitError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.jupyterhub_message = message


def _profile(spawner):
    """The profile the server starts (or started) with, as KubeSpawner picks it: the slug in its user
    options, else the default, else the first."""
    profiles = spawner.profile_list(spawner) if callable(spawner.profile_list) else spawner.profile_list
    if not profiles:
        return {}
    slug = (spawner.user_options or {}).get("profile")
    for profile in profiles:
        if profile.get("slug") == slug:
            return profile
    return next((p for p in profiles if p.get("default")), profiles[0])


def _uses_gpu(spawner):
    """From the profile, not the spawner's traits: a spawner object outlives its server, and KubeSpawner
    leaves the last profile's overrides on it."""
    limits = _profile(spawner).get("kubespawner_override", {}).get("extra_resource_limits") or {}
    return GPU_RESOURCE in limits


def _active_servers(spawner):
    """(user name, groups, is GPU) of every other server the hub has pending or running."""
    servers = []
    for user in spawner.user.settings["users"].values():
        for other in user.spawners.values():
            if other is not spawner and other.active:
                servers.append((user.name, {g.name for g in user.groups}, _uses_gpu(other)))
    return servers


def check_group_server_limits(spawner):
    groups = {g.name for g in spawner.user.groups}
    gpu = _uses_gpu(spawner)
    running = _active_servers(spawner)
    for group in sorted(groups & set(GROUP_SERVER_LIMITS)):
        limits = GROUP_SERVER_LIMITS[group]
        members = [(name, uses_gpu) for name, user_groups, uses_gpu in running if group in user_groups]
        for kind, limit, counted in (
            ("servers", limits.get("servers"), members),
            ("GPU servers", limits.get("gpuServers") if gpu else None, [m for m in members if m[1]]),
        ):
            if limit is not None and len(counted) >= limit:
                names = ", ".join(sorted(f"{name} (GPU)" if uses_gpu else name for name, uses_gpu in counted))
                raise GroupServerLimitError(
                    f"Group {group} may run {limit} {kind} at once, and {len(counted)} are running"
                    f"{': ' + names if names else ''}. Start again when one of them stops"
                    f"{', or choose a profile without a GPU' if kind == 'GPU servers' else ''}."
                )


_earlier_hook = c.KubeSpawner.pre_spawn_hook if "pre_spawn_hook" in c.KubeSpawner else None  # type: ignore[name-defined]  # noqa: F821


async def pre_spawn_hook(spawner):
    check_group_server_limits(spawner)
    if _earlier_hook is not None:
        result = _earlier_hook(spawner)
        if hasattr(result, "__await__"):
            await result


c.KubeSpawner.pre_spawn_hook = pre_spawn_hook  # type: ignore[name-defined]  # noqa: F821
