"""Who may use Dask, decided by the real programs: JupyterHub 5.5.0 (the hub image's) and
dask-gateway-server 2026.3.0 (the chart's), each a process on 127.0.0.1, configured as the program
configures them for the prod stack:

- the hub with the prod release's `hub.services`, `hub.loadRoles` and the server token's scopes
  (`hub.config.KubeSpawner.server_token_scopes`, a trait KubeSpawner inherits from Spawner), as the
  z2jh chart's jupyterhub_config.py loads them; a spawner that starts no notebook but keeps the token
  JupyterHub hands the server (JUPYTERHUB_API_TOKEN), and an in-memory proxy (no Node proxy here);
- the gateway with the configuration file the real chart renders from the prod values (its
  JupyterHub authenticator, jupyterhubServiceName, the cluster options by group), where only the
  backend (the local one stands in for Kubernetes) and the addresses are replaced.

Users: alice (data-science: sizes small and large), bob (ml-research: small), eve (data-engineering,
not allowed to use Dask), carol (a hub admin in no group)."""

from __future__ import annotations

import gc
import http.client
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components import dask_gateway_values as dgv
from offline_plan.mock_engine import Inventory
from tests.test_chart_render import hub_release
from tests.test_dask_gateway import gateway_chart, render

START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def call(url: str, token: str | None = None, *, method: str = "GET", body: Any = None, scheme: str = "token") -> Any:
    """(status, parsed JSON or None) of one HTTP request."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        try:
            return error.code, json.loads(text)
        except json.JSONDecodeError:
            return error.code, text


def wait_until_up(url: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {START_TIMEOUT_SECONDS} s:\n{log.read_text()[-4000:]}")


HUB_HARNESS = """
import json
from pathlib import Path

from jupyterhub.proxy import Proxy
from jupyterhub.spawner import Spawner
from tornado import httpserver, web
from tornado.netutil import bind_sockets

SETTINGS = json.loads(Path({settings!r}).read_text())


class MemoryProxy(Proxy):
    \"\"\"The hub's routing table in memory: the hub's API is reached on its own port.\"\"\"

    should_start = False
    _routes = {{}}

    async def add_route(self, routespec, target, data):
        self._routes[routespec] = {{"routespec": routespec, "target": target, "data": data}}

    async def delete_route(self, routespec):
        self._routes.pop(routespec, None)

    async def get_all_routes(self):
        return dict(self._routes)


class Answer(web.RequestHandler):
    def get(self, *args):
        self.write("ok")


class TokenKeepingSpawner(Spawner):
    \"\"\"Starts no notebook: keeps the token JupyterHub gives the server, and answers HTTP for it.\"\"\"

    async def start(self):
        Path(SETTINGS["tokens"], self.user.name).write_text(self.get_env()["JUPYTERHUB_API_TOKEN"])
        sockets = bind_sockets(0, "127.0.0.1")
        self._http = httpserver.HTTPServer(web.Application([(r"(.*)", Answer)]))
        self._http.add_sockets(sockets)
        return ("127.0.0.1", sockets[0].getsockname()[1])

    async def poll(self):
        return None if getattr(self, "_http", None) else 0

    async def stop(self):
        self._http.stop()
        self._http = None


c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = SETTINGS["proxy_port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = SETTINGS["hub_port"]
c.JupyterHub.proxy_class = MemoryProxy
c.JupyterHub.spawner_class = TokenKeepingSpawner
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = set(SETTINGS["users"])
c.Authenticator.admin_users = set(SETTINGS["admins"])
c.JupyterHub.db_url = "sqlite:///" + SETTINGS["db"]
c.JupyterHub.cookie_secret = bytes.fromhex(SETTINGS["cookie_secret"])
c.JupyterHub.load_groups = SETTINGS["groups"]
c.JupyterHub.services = SETTINGS["services"]
c.JupyterHub.load_roles = SETTINGS["roles"]
c.Spawner.server_token_scopes = SETTINGS["server_token_scopes"]
"""

GATEWAY_OVERRIDES = """
# The test's replacements: the local backend for Kubernetes, loopback addresses, the hub on loopback.
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.address = "127.0.0.1:{api_port}"
c.Proxy.address = "127.0.0.1:{web_port}"
c.Proxy.tcp_address = "127.0.0.1:{tcp_port}"
c.JupyterHubAuthenticator.jupyterhub_api_url = "http://127.0.0.1:{hub_port}/hub/api"
c.LocalBackend.clusters_directory = {clusters!r}
DASK_GATEWAY_HUB_PUBLIC_URL = "http://127.0.0.1:{public_port}"
"""


def hub_settings_from_values(values: dict[str, Any], gateway_url: str, admin_token: str) -> dict[str, Any]:
    """The prod release's hub values as the z2jh chart's jupyterhub_config.py turns them into config
    (`hub.services`: name from the key, apiToken -> api_token; `hub.loadRoles`: name from the key);
    the service's url is the local gateway's, the token a test value (the plan redacts the real one)."""
    hub = values["hub"]
    services = []
    for name, service in hub["services"].items():
        entry = {"name": name, **{k: v for k, v in service.items() if k != "apiToken"}}
        entry["api_token"] = secrets.token_hex(32)
        entry["url"] = gateway_url
        services.append(entry)
    services.append({"name": "test-admin", "api_token": admin_token})
    roles = [{"name": name, **role} for name, role in hub["loadRoles"].items()]
    roles.append(
        {"name": "test-admin", "scopes": ["admin:users", "admin:servers", "tokens"], "services": ["test-admin"]}
    )
    return {
        "services": services,
        "roles": roles,
        "server_token_scopes": hub["config"]["KubeSpawner"]["server_token_scopes"],
    }


# Hop-by-hop headers (RFC 9110 7.6.1), which a proxy does not pass on.
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


def forward(
    url: str, method: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request, no redirect followed: (status, headers in order, Set-Cookie repeated, body)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.netloc, timeout=30)
    try:
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


class PublicFront(http.server.ThreadingHTTPServer):
    """What a browser reaches at the hub's public URL, modelled from the real pieces' rules:
    - the hub's proxy: /hub/ to the hub; /services/dask-gateway/ to traefik (the hub routes a service's
      prefix to its url, path kept);
    - traefik's routes from the chart and the controller: a cluster's dashboard
      (<prefix>/clusters/<name>/) behind the program's forwardAuth Middleware, the rest of the prefix to
      the api with the prefix stripped (the chart's api-prefix Middleware);
    - forwardAuth as traefik does it (pkg/middlewares/auth/forward.go): only the Middleware's
      authRequestHeaders and traefik's X-Forwarded-* (the original URI in X-Forwarded-Uri) go to the
      check; a 2xx lets the request through (its Set-Cookie is not passed on); any other answer goes back
      to the browser as is, its Location resolved against the check's address (Go's Response.Location).
    The dashboard itself (the scheduler's) is a stand-in page naming the cluster."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, hub: str, gateway: str, auth_headers: list[str]) -> None:
        self.hub, self.gateway, self.auth_headers = hub, gateway, auth_headers
        super().__init__(address, _FrontHandler)


class _FrontHandler(http.server.BaseHTTPRequestHandler):
    server: PublicFront

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _request_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _route(self) -> None:
        front = self.server
        body = self._body()
        if self.path.startswith("/hub/"):
            self._answer(*forward(f"{front.hub}{self.path}", self.command, self._request_headers(), body))
        elif self.path.startswith(f"{dgv.SERVICE_PREFIX}/clusters/"):
            check = f"{front.gateway}{dgv.DASHBOARD_LOGIN_PATH}"
            headers = {k: v for k, v in self.headers.items() if k.lower() in {h.lower() for h in front.auth_headers}}
            headers |= {
                "X-Forwarded-Method": self.command,
                "X-Forwarded-Proto": "http",
                "X-Forwarded-Host": self.headers.get("Host", ""),
                "X-Forwarded-Uri": self.path,
                "X-Forwarded-For": self.client_address[0],
            }
            status, answer, text = forward(check, "GET", headers, None)
            if 200 <= status < 300:
                self._answer(200, [("Content-Type", "text/plain")], f"dashboard at {self.path}".encode())
                return
            answer = [(k, urllib.parse.urljoin(check, v) if k.lower() == "location" else v) for k, v in answer]
            self._answer(status, answer, text)
        elif self.path.startswith(f"{dgv.SERVICE_PREFIX}/"):
            stripped = self.path[len(dgv.SERVICE_PREFIX) :]
            self._answer(*forward(f"{front.gateway}{stripped}", self.command, self._request_headers(), body))
        else:
            self._answer(404, [], b"")

    do_GET = do_POST = _route  # noqa: N815 - http.server's handler names


@dataclass
class Site:
    hub_api: str
    gateway: str
    admin_token: str
    tokens: Path
    gateway_log: Path
    proxy_address: str
    public: str
    """The hub's public URL: the front (tests/test_dask_gateway_login.py PublicFront) a browser talks to."""

    def api_token(self, user: str) -> str:
        status, body = call(f"{self.hub_api}/users/{user}/tokens", self.admin_token, method="POST", body={"note": "t"})
        assert status == 201, body
        return str(body["token"])

    def server_token(self, user: str) -> str:
        path = self.tokens / user
        if path.exists():  # her server runs already (another test started it)
            return path.read_text()
        status, body = call(f"{self.hub_api}/users/{user}/server", self.admin_token, method="POST", body={})
        assert status in (201, 202), body
        path = self.tokens / user
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not path.exists():
            assert time.monotonic() < deadline, f"{user}'s server never started"
            time.sleep(0.2)
        return path.read_text()

    def gateway_call(self, path: str, token: str | None, **kwargs: Any) -> Any:
        return call(f"{self.gateway}{path}", token, scheme="jupyterhub", **kwargs)


@pytest.fixture(scope="module")
def site(plans: dict[str, Inventory]) -> Iterator[Site]:
    # A folder of its own: pytest's basetemp is shared by every session of the same user and pruned
    # to the last three, which would delete it under a running hub.
    folder = Path(tempfile.mkdtemp(prefix="jhub-eks-dask-login-"))
    ports = {
        name: free_port() for name in ("hub_port", "proxy_port", "api_port", "web_port", "tcp_port", "public_port")
    }
    admin_token = secrets.token_hex(32)
    hub_values = hub_release(plans["prod"])["values"]
    settings = hub_settings_from_values(hub_values, f"http://127.0.0.1:{ports['web_port']}", admin_token)
    gateway_token = settings["services"][0]["api_token"]
    (folder / "tokens").mkdir()
    settings |= {
        "tokens": str(folder / "tokens"),
        "db": str(folder / "hub.sqlite"),
        "cookie_secret": secrets.token_hex(32),
        "users": ["alice", "bob", "eve", "carol"],
        "admins": ["carol"],
        "groups": {
            "data-science": {"users": ["alice"]},
            "ml-research": {"users": ["bob"]},
            "data-engineering": {"users": ["eve"]},
        },
        "proxy_port": ports["proxy_port"],
        "hub_port": ports["hub_port"],
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    (folder / "jupyterhub_config.py").write_text(HUB_HARNESS.format(settings=str(folder / "settings.json")))

    rendered = render(gateway_chart(plans["prod"]))
    (config_map,) = [o for o in rendered if o["kind"] == "ConfigMap" and o["metadata"]["name"] == dgv.API_SERVICE]
    gateway_config = config_map["data"]["dask_gateway_config.py"] + textwrap.dedent(
        GATEWAY_OVERRIDES.format(clusters=str(folder / "clusters"), **ports)
    )
    (folder / "dask_gateway_config.py").write_text(gateway_config)

    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    processes = []
    hub_log = (folder / "hub.log").open("w")
    hub = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
        cwd=folder,
        env=env,
        stdout=hub_log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    processes.append(hub)
    gateway_log = (folder / "gateway.log").open("w")
    gateway = subprocess.Popen(
        [sys.executable, "-m", "dask_gateway_server", "--config", str(folder / "dask_gateway_config.py")],
        cwd=folder,
        env={**env, "JUPYTERHUB_API_TOKEN": gateway_token},
        stdout=gateway_log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    processes.append(gateway)
    (middleware,) = plans["prod"].of_type("kubernetes:traefik.io/v1alpha1:Middleware")
    front = PublicFront(
        ("127.0.0.1", ports["public_port"]),
        hub=f"http://127.0.0.1:{ports['hub_port']}",
        gateway=f"http://127.0.0.1:{ports['web_port']}",
        auth_headers=middleware.inputs["spec"]["forwardAuth"]["authRequestHeaders"],
    )
    threading.Thread(target=front.serve_forever, daemon=True).start()
    try:
        wait_until_up(f"http://127.0.0.1:{ports['hub_port']}/hub/api", hub, folder / "hub.log")
        wait_until_up(f"http://127.0.0.1:{ports['web_port']}/api/health", gateway, folder / "gateway.log")
        yield Site(
            hub_api=f"http://127.0.0.1:{ports['hub_port']}/hub/api",
            gateway=f"http://127.0.0.1:{ports['web_port']}",
            admin_token=admin_token,
            tokens=folder / "tokens",
            gateway_log=folder / "gateway.log",
            proxy_address=f"gateway://127.0.0.1:{ports['tcp_port']}",
            public=f"http://127.0.0.1:{ports['public_port']}",
        )
    finally:
        front.shutdown()
        front.server_close()
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        hub_log.close()
        gateway_log.close()
        shutil.rmtree(folder, ignore_errors=True)


def new_cluster(site: Site, token: str | None, **options: Any) -> Any:
    return site.gateway_call("/api/v1/clusters/", token, method="POST", body={"cluster_options": options})


def test_a_member_creates_a_cluster_of_an_allowed_size_from_her_servers_token(site: Site) -> None:
    token = site.server_token("alice")
    status, body = new_cluster(site, token, worker_size="large")
    assert status == 201, body
    status, cluster = site.gateway_call(f"/api/v1/clusters/{body['name']}?wait", token)
    # The stack's default environment when the request names none (tests/test_dask_environments.py).
    expected = {"worker_size": "large", "idle_timeout_minutes": 30, "environment": "datascience"}
    assert status == 200 and cluster["options"] == expected
    assert cluster["status"] == "RUNNING", site.gateway_log.read_text()[-3000:]
    status, _ = site.gateway_call(f"/api/v1/clusters/{body['name']}", token, method="DELETE")
    assert status == 204


def test_the_options_offered_are_her_groups(site: Site) -> None:
    def sizes(user: str) -> list[str]:
        status, body = site.gateway_call("/api/v1/options", site.api_token(user))
        assert status == 200, body
        (size,) = [f for f in body["cluster_options"] if f["field"] == "worker_size"]
        return list(size["spec"]["options"])

    assert sizes("alice") == ["small", "large"]
    assert sizes("bob") == ["small"]


def test_another_groups_size_and_requests_above_the_caps_are_refused(site: Site) -> None:
    bob = site.server_token("bob")
    status, body = new_cluster(site, bob, worker_size="large")  # data-science's size
    assert status == 422 and "'large' is not a valid option" in body["error"]
    status, body = new_cluster(site, bob, worker_size="small", idle_timeout_minutes=241)  # max 240
    assert status == 422 and "idle_timeout_minutes" in body["error"]
    status, body = new_cluster(site, bob, worker_cores=64)  # only the offered options exist
    assert status == 422 and "Unknown fields ['worker_cores']" in body["error"]


def test_a_user_outside_the_groups_gets_nothing_with_any_of_her_tokens(site: Site) -> None:
    for token in (site.server_token("eve"), site.api_token("eve")):
        assert new_cluster(site, token, worker_size="small")[0] == 401
        assert site.gateway_call("/api/v1/clusters/", token)[0] == 401


def test_an_unauthenticated_request_gets_nothing(site: Site) -> None:
    assert site.gateway_call("/api/v1/clusters/", None)[0] == 401
    # A token the hub does not know: the hub answers 403, which dask-gateway-server 2026.3.0 turns
    # into a 500 ("Permission failure verifying user's JupyterHub API token"): refused, nothing in it.
    status, body = site.gateway_call("/api/v1/clusters/", "not-a-token")
    assert status == 500 and set(body) == {"error"}
    assert new_cluster(site, None, worker_size="small")[0] == 401
    status, _ = call(f"{site.gateway}/api/v1/clusters/", site.admin_token, scheme="token")  # another scheme
    assert status == 401


def test_one_user_cannot_list_connect_to_or_stop_anothers_cluster(site: Site) -> None:
    alice = site.api_token("alice")
    status, body = new_cluster(site, alice, worker_size="small")
    assert status == 201, body
    name = body["name"]
    bob = site.api_token("bob")
    every = "?status=PENDING,RUNNING,STOPPING,STOPPED,FAILED"
    status, listed = site.gateway_call(f"/api/v1/clusters/{every}", bob)
    assert status == 200 and name not in listed
    # Connecting needs the cluster's TLS credentials, which only this answer carries.
    status, body = site.gateway_call(f"/api/v1/clusters/{name}", bob)
    assert status == 403 and "tls_cert" not in str(body)
    assert site.gateway_call(f"/api/v1/clusters/{name}", bob, method="DELETE")[0] == 403
    assert site.gateway_call(f"/api/v1/clusters/{name}/scale", bob, method="POST", body={"count": 1})[0] == 403
    status, listed = site.gateway_call(f"/api/v1/clusters/{every}", alice)
    assert status == 200 and name in listed
    assert site.gateway_call(f"/api/v1/clusters/{name}", alice, method="DELETE")[0] == 204


def dashboard_check(site: Site, cluster: str, token: str | None, path: str = "status") -> int:
    return dashboard_check_answer(site, cluster, token, path)[0]


def dashboard_check_answer(site: Site, cluster: str, token: str | None, path: str = "status") -> tuple[int, Any]:
    """What the api's login check answers traefik's forwardAuth for a request to a cluster's dashboard
    (traefik sends the original URI as X-Forwarded-Uri and the caller's Authorization header; any
    answer but 2xx and traefik refuses the request with it)."""
    headers = {"X-Forwarded-Uri": f"{dgv.SERVICE_PREFIX}/clusters/{cluster}/{path}"}
    if token is not None:
        headers["Authorization"] = f"jupyterhub {token}"
    status, answer, _ = forward(f"{site.gateway}{dgv.DASHBOARD_LOGIN_PATH}", "GET", headers, None)
    return status, dict(answer)


def test_a_dashboard_is_served_to_its_owner_and_admins_only(site: Site) -> None:
    """Mutation: without the owner test in hub_config/dask_dashboard_login.py (any signed-in user
    allowed), bob gets 200 for alice's dashboard."""
    alice = site.server_token("alice")
    status, body = new_cluster(site, alice, worker_size="small")
    assert status == 201, body
    name = body["name"]
    try:
        assert dashboard_check(site, name, alice) == 200  # her server's token
        assert dashboard_check(site, name, site.api_token("alice"), "individual-progress?x=1") == 200
        assert dashboard_check(site, name, site.api_token("carol")) == 200  # a hub admin
        assert dashboard_check(site, name, site.server_token("bob")) == 403  # signed in, may use Dask
        assert dashboard_check(site, name, site.api_token("bob")) == 403
        assert dashboard_check(site, name, site.api_token("eve")) == 401  # signed in, no Dask
        # Not signed in: into the hub's OAuth flow (tests/ below follow it as a browser does).
        status, answer = dashboard_check_answer(site, name, None)
        assert status == 302 and answer["Location"].startswith(f"{site.public}/hub/api/oauth2/authorize?")
        # Paths that name no cluster, or name one to the check and maybe another to traefik.
        for uri_name in ("", "..", f"{name}%2F..", "not-a-cluster"):
            assert dashboard_check(site, uri_name, alice) == 403, uri_name
        assert dashboard_check(site, f"{name}/../other", alice, "") == 403
    finally:
        site.gateway_call(f"/api/v1/clusters/{name}", alice, method="DELETE")


def open_in_browser(site: Site, user: str, path: str) -> Any:
    """`path` at the hub's public URL as a browser opens it: cookies kept per path, every redirect followed,
    and the hub's login form (the DummyAuthenticator's, with its _xsrf field) filled in as `user` when it
    comes. The last response."""
    import re

    import requests

    browser = requests.Session()
    response = browser.get(f"{site.public}{path}", timeout=30)
    if urllib.parse.urlsplit(response.url).path == "/hub/login":
        match = re.search(r'name="_xsrf" value="([^"]+)"', response.text)
        assert match, response.text[:2000]
        form = {"username": user, "password": "any", "_xsrf": match.group(1)}
        response = browser.post(response.url, data=form, timeout=30)
    return response


def test_a_dashboard_opens_in_the_owners_and_an_admins_browser_through_the_hubs_login_only(site: Site) -> None:
    """The link a user clicks (client.dashboard_link: the hub's public URL, /services/dask-gateway/
    clusters/<name>/status) in a browser, which sends no Authorization header: the check sends her
    through the hub's OAuth flow (login, then the api's callback keeps the gateway's hub OAuth token in a
    cookie) back to the dashboard, which it then serves her and no one else. Mutations: the Middleware
    without Cookie in authRequestHeaders (the check never sees the cookie: the browser is sent round the
    flow until requests gives up); a relative Location in the check's redirect (traefik resolves it
    against the api's own address, which is not the hub); the owner test removed (bob sees it); the
    admin test removed (a hub admin's browser gets 403)."""
    import requests

    alice = site.server_token("alice")
    status, body = new_cluster(site, alice, worker_size="small")
    assert status == 201, body
    name = body["name"]
    dashboard = f"{dgv.SERVICE_PREFIX}/clusters/{name}/status"
    try:
        hers = open_in_browser(site, "alice", dashboard)
        assert (hers.status_code, urllib.parse.urlsplit(hers.url).path) == (200, dashboard), hers.text[:500]
        assert hers.text == f"dashboard at {dashboard}"
        assert [urllib.parse.urlsplit(r.url).path for r in hers.history][-1] == (
            f"{dgv.SERVICE_PREFIX}{dgv.DASHBOARD_OAUTH_CALLBACK_PATH}"
        )
        # A hub admin in no Dask group: the admin role holds access:services, and the hub tells the gateway
        # `admin` (read:users:name, an identify scope of the service's OAuth token).
        admins = open_in_browser(site, "carol", dashboard)
        assert (admins.status_code, urllib.parse.urlsplit(admins.url).path) == (200, dashboard), admins.text[:500]
        assert admins.text == f"dashboard at {dashboard}"
        # Not signed in and not signing in: the hub's login page, never the dashboard.
        anonymous = requests.get(f"{site.public}{dashboard}", timeout=30)
        assert urllib.parse.urlsplit(anonymous.url).path == "/hub/login" and "dashboard at" not in anonymous.text
        his = open_in_browser(site, "bob", dashboard)  # signed in, may use Dask, not his cluster
        assert (his.status_code, urllib.parse.urlsplit(his.url).path) == (403, dashboard)
        assert "dashboard at" not in his.text
        hers_not = open_in_browser(site, "eve", dashboard)  # no Dask: the hub refuses her the service
        assert hers_not.status_code == 403 and urllib.parse.urlsplit(hers_not.url).path.startswith("/hub/")
        # A callback without the state its browser was given, or with a forged next: refused.
        forged = requests.get(
            f"{site.public}{dgv.SERVICE_PREFIX}{dgv.DASHBOARD_OAUTH_CALLBACK_PATH}?code=x&state=y", timeout=30
        )
        assert forged.status_code == 400
    finally:
        site.gateway_call(f"/api/v1/clusters/{name}", alice, method="DELETE")


def close_for_good(*clients: Any) -> None:
    """Shut down each dask-gateway client object (a GatewayCluster, then its own Gateway; a Gateway) once,
    and leave its finalizer nothing to do. In dask-gateway 2026.3.0 Gateway.close() is not idempotent:
    its __del__ closes again, and the stopped loop raises RuntimeError from inside the garbage collector,
    wherever that runs. Under CPython 3.11 it once ran inside a later test's ast.parse: pytest printed the
    finalizer's traceback, the traceback printer parses source too, and the outer parse failed with
    "AST constructor recursion depth mismatch" (the AST builder's depth counter is shared; see
    python/cpython#106905), which failed CI in an unrelated test."""
    for client in clients:
        gateway = getattr(client, "gateway", client)
        if client is not gateway:
            client.shutdown()  # also closes the cluster's own Gateway
        elif hasattr(gateway, "_loop_runner"):
            gateway.close()
        if hasattr(gateway, "_loop_runner"):
            del gateway._loop_runner  # Gateway.__del__ closes only what has a loop runner


def assert_no_finalizer_raises() -> None:
    """The objects a test dropped are collected now, and none of their finalizers raises."""
    raised: list[str] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: raised.append(f"{unraisable.object!r}: {unraisable.exc_value!r}")
    try:
        gc.collect()
    finally:
        sys.unraisablehook = previous_hook
    assert raised == []


def test_her_workers_get_her_servers_session_now_and_when_they_join(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hub_config/jhub_dask.py as a user runs it in her server (here the test process is her server;
    its session, a stand-in for EKS Pod Identity's, from the environment): her client, connected to
    her cluster with her server's token, sends the session to the real workers (dask processes of
    the local backend, which cannot import the module: it travels by value), and a worker that joins
    later gets it too. Workers of the gateway hold no AWS variable of their own."""
    from dask_gateway import Gateway, JupyterHubAuth

    from hub_config import jhub_dask

    session = {"AWS_ACCESS_KEY_ID": "ASIAALICE", "AWS_SECRET_ACCESS_KEY": "s3cret", "AWS_SESSION_TOKEN": "tok"}
    for name, value in {**session, "S3_HOME": "s3://bucket/home/jupyter-alice/"}.items():
        monkeypatch.setenv(name, value)
    gateway = Gateway(
        address=site.gateway, proxy_address=site.proxy_address, auth=JupyterHubAuth(site.server_token("alice"))
    )
    cluster = gateway.new_cluster(worker_size="small")
    try:
        client = cluster.get_client()
        cluster.scale(1)
        client.wait_for_workers(1, timeout=90)

        def aws_environment() -> dict[str, str]:
            import os

            return {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k == "S3_HOME"}

        assert list(client.run(aws_environment).values()) == [{}]  # nothing of their own
        jhub_dask.forward_aws_credentials(client, refresh_minutes=None)
        expected = {**session, "S3_HOME": "s3://bucket/home/jupyter-alice/"}
        assert list(client.run(aws_environment).values()) == [expected]
        cluster.scale(2)
        client.wait_for_workers(2, timeout=90)
        assert list(client.run(aws_environment).values()) == [expected, expected]
        client.close()
    finally:
        close_for_good(cluster, gateway)
    del client, cluster, gateway
    assert_no_finalizer_raises()


def test_another_users_cluster_credentials_cannot_join_her_scheduler(site: Site) -> None:
    """What NetworkPolicies cannot separate (a worker reaches every scheduler's 8786:
    tests/test_dask_reachability.py) the scheduler's TLS does: each cluster has its own certificate,
    handed only to its owner, and the scheduler takes only peers that hold it. Bob, with his own
    cluster's certificate, cannot connect to Alice's scheduler, even through the gateway's proxy
    (which routes by the cluster's name); Alice can."""
    from dask_gateway import Gateway, JupyterHubAuth
    from distributed import Client

    def gateway(user: str) -> Gateway:
        return Gateway(
            address=site.gateway, proxy_address=site.proxy_address, auth=JupyterHubAuth(site.server_token(user))
        )

    alice, bob = gateway("alice"), gateway("bob")
    hers, his = alice.new_cluster(worker_size="small"), bob.new_cluster(worker_size="small")
    try:
        with Client(hers.scheduler_address, security=hers.security, timeout="20s") as client:
            assert client.scheduler_info()["type"] == "Scheduler"
        with pytest.raises((OSError, TimeoutError)):
            Client(hers.scheduler_address, security=his.security, timeout="10s")
    finally:
        close_for_good(hers, his, alice, bob)
    del hers, his, alice, bob
    assert_no_finalizer_raises()
