# gateway.extraConfig of the dask-gateway chart (runs in the gateway's api pod, dask-gateway-server
# 2026.3.0; `get_property` is the chart's configuration file's own helper): the check traefik's
# forwardAuth middleware asks before it serves a cluster's dashboard. The controller's dashboard routes
# (`<prefix>/clusters/<cluster>/` -> the scheduler's 8787) need no login of their own
# (dask/dask-gateway#570); the program puts the middleware first on every one of them
# (components/dask_gateway_values.py), so traefik forwards a dashboard request only when this answers
# 2xx: to the cluster's owner and hub admins, with a hub token the gateway accepts (the same
# JupyterHubAuthenticator as the API: the service's access scope). No token: 401; another user's
# cluster, an unknown one or a path that names none: 403.
import re

from aiohttp import web
from dask_gateway_server.auth import JupyterHubAuthenticator

DASHBOARD_LOGIN_PATH = "/api/v1/dashboard-login"
_CLUSTERS = get_property("gateway.prefix", "/").rstrip("/") + "/clusters/"  # type: ignore[name-defined]  # noqa: F821
# A cluster's name as the backends make it (`<namespace>.<name>`, hex ids); anything else is refused,
# so an encoded or dotted segment cannot name one cluster to the check and another to traefik.
_CLUSTER_NAME = re.compile(r"[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)?")


def dashboard_cluster(uri):
    """The cluster a dashboard request's URI (traefik's X-Forwarded-Uri) names, or None."""
    path = uri.split("?", 1)[0]
    if not path.startswith(_CLUSTERS):
        return None
    segments = path[len(_CLUSTERS) :].split("/")
    if any(segment in (".", "..") or "%" in segment for segment in segments):
        return None
    return segments[0] if _CLUSTER_NAME.fullmatch(segments[0]) else None


async def _owner_or_admin(request):
    user = request["user"]
    name = dashboard_cluster(request.headers.get("X-Forwarded-Uri", ""))
    cluster = None if name is None else await request.app["backend"].get_cluster(name)
    if cluster is None or not (user.admin or user.has_permissions(cluster)):
        raise web.HTTPForbidden(reason="not your cluster's dashboard")
    return web.Response(status=200, text="ok")


class DashboardLoginAuthenticator(JupyterHubAuthenticator):
    """The hub's authenticator (configured under JupyterHubAuthenticator, its parent's section) plus
    the dashboard check on the api."""

    async def setup(self, app):
        await super().setup(app)

        async def dashboard_login(request):
            return await self.authenticate_and_handle(request, _owner_or_admin)

        app.router.add_get(DASHBOARD_LOGIN_PATH, dashboard_login)


c.DaskGateway.authenticator_class = DashboardLoginAuthenticator  # type: ignore[name-defined]  # noqa: F821
