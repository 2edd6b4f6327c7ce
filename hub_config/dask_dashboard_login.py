# gateway.extraConfig of the dask-gateway chart (runs in the gateway's api pod, dask-gateway-server
# 2026.3.0; `get_property` is the chart's configuration file's own helper): the check traefik's
# forwardAuth middleware asks before it serves a cluster's dashboard. The controller's dashboard routes
# (`<prefix>/clusters/<cluster>/` -> the scheduler's 8787) need no login of their own
# (dask/dask-gateway#570); the program puts the middleware first on every one of them
# (components/dask_gateway_values.py), so traefik forwards a dashboard request only when this answers
# 2xx: to the cluster's owner and hub admins, with a hub token the gateway accepts (the same
# JupyterHubAuthenticator as the API: the service's access scope). A bad token: 401; another user's
# cluster, an unknown one or a path that names none: 403.
#
# A browser sends no Authorization header: the check also takes the hub OAuth token of the dask-gateway
# service from its own cookie (path: the service's prefix, HttpOnly, SameSite=Lax, Secure under HTTPS), and
# a browser without one is sent into the hub's OAuth flow (traefik's forwardAuth returns a non-2xx answer, a 302
# included, to the browser as is): the hub's authorize URL (the hub logs her in if needed, and refuses a
# user without access:services!service=dask-gateway), then the callback below, which trades the code for
# a token at the hub (the service's API token is its OAuth client secret), keeps it in the cookie and
# sends her back to the dashboard she asked for. The same flow as JupyterHub's HubOAuth (jupyterhub is not
# in the gateway's image). The cookie is read by the dashboard check only, never by the gateway's API, so
# a page cannot make her browser create or stop clusters (no CSRF on the API).
import base64
import json
import re
import secrets
from urllib.parse import urlencode

from aiohttp import web
from dask_gateway_server.auth import JupyterHubAuthenticator

DASHBOARD_LOGIN_PATH = "/api/v1/dashboard-login"
DASHBOARD_OAUTH_CALLBACK_PATH = "/api/v1/dashboard-oauth-callback"
DASHBOARD_TOKEN_COOKIE = "dask-gateway-dashboard-token"
DASHBOARD_STATE_COOKIE = "dask-gateway-dashboard-state"
# The hub's authorize endpoint (z2jh: hub.baseUrl "/"), absolute: traefik resolves a relative Location of the
# check's answer against the check's own address (Go's Response.Location), which no browser can reach. The
# callback as the hub's proxy serves it (/services/dask-gateway/ to traefik, whose api route strips the
# prefix): the redirect URI registered for the service (hub.services.dask-gateway.oauth_redirect_uri).
HUB_AUTHORIZE_PATH = "/hub/api/oauth2/authorize"
_PREFIX = get_property("gateway.prefix", "/").rstrip("/")  # type: ignore[name-defined]  # noqa: F821
_CLUSTERS = _PREFIX + "/clusters/"
OAUTH_REDIRECT_URI = _PREFIX + DASHBOARD_OAUTH_CALLBACK_PATH


def _hub_public_url():
    # Set by the entry before this one (components/dask_gateway_values.py), read when used.
    return DASK_GATEWAY_HUB_PUBLIC_URL  # type: ignore[name-defined]  # noqa: F821


def _cookie_options():
    secure = _hub_public_url().startswith("https://")
    return {"path": _PREFIX + "/", "httponly": True, "secure": secure, "samesite": "Lax"}


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


def _login_redirect(client_id, uri):
    """The answer to a browser without a token: into the hub's OAuth flow, back to `uri` afterwards."""
    if dashboard_cluster(uri) is None:
        raise web.HTTPForbidden(reason="not a cluster's dashboard")
    state = secrets.token_urlsafe(32)
    query = urlencode(
        {"client_id": client_id, "redirect_uri": OAUTH_REDIRECT_URI, "response_type": "code", "state": state}
    )
    response = web.Response(status=302, headers={"Location": f"{_hub_public_url()}{HUB_AUTHORIZE_PATH}?{query}"})
    remembered = base64.urlsafe_b64encode(json.dumps({"state": state, "next": uri}).encode()).decode()
    response.set_cookie(DASHBOARD_STATE_COOKIE, remembered, max_age=600, **_cookie_options())
    return response


class DashboardLoginAuthenticator(JupyterHubAuthenticator):
    """The hub's authenticator (configured under JupyterHubAuthenticator, its parent's section) plus
    the dashboard check on the api and the OAuth callback that gives a browser its token."""

    def get_token(self, request):
        token = super().get_token(request)
        if token is None and request.path == DASHBOARD_LOGIN_PATH:
            return request.cookies.get(DASHBOARD_TOKEN_COOKIE)
        return token

    @property
    def oauth_client_id(self):
        return f"service-{self.jupyterhub_service_name}"

    async def setup(self, app):
        await super().setup(app)

        async def dashboard_login(request):
            try:
                return await self.authenticate_and_handle(request, _owner_or_admin)
            except (web.HTTPUnauthorized, web.HTTPInternalServerError):
                if "Authorization" in request.headers:
                    raise  # an API client's bad token: no browser to send anywhere
                # No token, or the cookie's has expired or been revoked (the hub answers 403, which the
                # authenticator turns into a 500): log in (again).
                return _login_redirect(self.oauth_client_id, request.headers.get("X-Forwarded-Uri", ""))

        async def dashboard_oauth_callback(request):
            try:
                remembered = json.loads(base64.urlsafe_b64decode(request.cookies[DASHBOARD_STATE_COOKIE]))
                state, next_uri = remembered["state"], remembered["next"]
            except (KeyError, ValueError, TypeError) as error:
                raise web.HTTPBadRequest(reason="no OAuth state: open the dashboard again") from error
            code = request.query.get("code")
            if not code or not secrets.compare_digest(request.query.get("state", ""), state):
                raise web.HTTPForbidden(reason="OAuth state mismatch")
            if dashboard_cluster(next_uri) is None:
                raise web.HTTPForbidden(reason="not a cluster's dashboard")
            answer = await self.session.post(
                f"{self.jupyterhub_api_url}/oauth2/token",
                data={
                    "client_id": self.oauth_client_id,
                    "client_secret": self.jupyterhub_api_token,
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": OAUTH_REDIRECT_URI,
                },
                ssl=self.ssl_context,
            )
            if answer.status >= 400:
                raise web.HTTPForbidden(reason="the hub refused the OAuth code")
            token = (await answer.json())["access_token"]
            response = web.Response(status=302, headers={"Location": next_uri})
            response.set_cookie(DASHBOARD_TOKEN_COOKIE, token, **_cookie_options())
            response.del_cookie(DASHBOARD_STATE_COOKIE, path=_PREFIX + "/")
            return response

        app.router.add_get(DASHBOARD_LOGIN_PATH, dashboard_login)
        app.router.add_get(DASHBOARD_OAUTH_CALLBACK_PATH, dashboard_oauth_callback)


c.DaskGateway.authenticator_class = DashboardLoginAuthenticator  # type: ignore[name-defined]  # noqa: F821
