# hub.extraConfig: the department's group overrides follow a user's groups as they are now.
# JupyterHub 5.5.0 keeps a user's Spawner from one start to the next (User.spawners) and
# Spawner.apply_group_overrides only sets, or merges into, what the overrides name (spawner.py
# _apply_overrides): what a group gave its member stays on their spawner after they leave it, until the
# hub restarts. Their next home claim would be created at the group's size and their pod would carry the
# group's cost label, counting their server in the group's cost (bootstrap/cost_export.py). group_overrides
# may be a callable, which apply_group_overrides calls with the spawner before it applies anything: this
# one first puts back what the department's overrides change (the configured home size, the extra labels
# without the group labels), then hands over the overrides hub.config set.

GROUP_LABEL_PREFIX = "group.jhub-eks/"  # components/department_values.py
_DEPARTMENT_OVERRIDES = dict(c.KubeSpawner.group_overrides)  # type: ignore[name-defined]  # noqa: F821
# dict.get: a traitlets Config creates a lazy value for a key it is merely asked for.
_CONFIGURED_HOME_SIZE = c.KubeSpawner.get("storage_capacity")  # type: ignore[name-defined]  # noqa: F821


def department_group_overrides(spawner):
    spawner.storage_capacity = _CONFIGURED_HOME_SIZE
    spawner.extra_labels = {
        key: value for key, value in spawner.extra_labels.items() if not key.startswith(GROUP_LABEL_PREFIX)
    }
    return _DEPARTMENT_OVERRIDES


c.KubeSpawner.group_overrides = department_group_overrides  # type: ignore[name-defined]  # noqa: F821
