# hub.extraConfig: server profiles by group.
# The chart has set c.KubeSpawner.profile_list from singleuser.profileList (a list). KubeSpawner
# 7.0.0 has no group rule of its own; it accepts a callable, which it calls with the spawner both to
# render the spawn page and again at every start (`load_user_options`), and a profile the callable
# does not return is refused ("No such profile") whether it came from the page, a forged form or
# the REST API. So the list is replaced by a callable that keeps, for the user being spawned, the
# profiles without `allowed_groups` and those naming one of the user's groups (kept in sync with
# the identity provider at each login).

ALL_SERVER_PROFILES = list(c.KubeSpawner.profile_list)  # type: ignore[name-defined]  # noqa: F821


def profiles_for(spawner):
    groups = {group.name for group in spawner.user.groups}
    return [p for p in ALL_SERVER_PROFILES if not p.get("allowed_groups") or groups & set(p["allowed_groups"])]


c.KubeSpawner.profile_list = profiles_for  # type: ignore[name-defined]  # noqa: F821
