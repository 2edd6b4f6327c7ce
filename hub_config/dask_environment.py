# hub.extraConfig (the hub): each user server's default Dask environment is its own. The entry sets
# DASK_ENVIRONMENTS_BY_IMAGE (image by digest -> environment name, the stack's pinned environments),
# DASK_DEFAULT_ENVIRONMENT and DASK_ENVIRONMENT_VARIABLE before this module (components/dask_gateway_values.py).
# The server's environment variable is dask config `gateway.cluster.options.environment`, which the dask-gateway
# client sends with every new cluster unless the user names another: a notebook on the pytorch-gpu profile gets
# pytorch-gpu workers, whose libraries load what it sends them. JupyterHub 5.5.0's Spawner.get_env calls a
# callable value with the spawner at each start, after the profile's overrides (KubeSpawner 7.0.0 keeps it), so
# the image is the one this start runs.


def dask_environment_of(spawner):
    return DASK_ENVIRONMENTS_BY_IMAGE.get(spawner.image, DASK_DEFAULT_ENVIRONMENT)  # type: ignore[name-defined]  # noqa: F821


c.KubeSpawner.environment.update({DASK_ENVIRONMENT_VARIABLE: dask_environment_of})  # type: ignore[name-defined]  # noqa: F821
