"""The hub's configuration as the hub process builds it: the chart's own jupyterhub_config.py and z2jh.py, taken from
the rendered ConfigMap, executed against the rendered Secret's values.yaml (what the hub pod mounts under
/usr/local/etc/jupyterhub/, here a temporary folder). What comes out is the traitlets Config the hub starts with,
so a test reads `c.JupyterHub.active_server_limit` where the hub reads it, not the values that should lead to it.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any
from unittest import mock

from tornado.httpclient import AsyncHTTPClient
from tornado.simple_httpclient import SimpleAsyncHTTPClient
from traitlets.config import Config

MOUNT = "/usr/local/etc/jupyterhub/"


def _hub_object(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == "hub"]
    return found


def hub_config(objects: list[dict[str, Any]]) -> Config:
    """Run the rendered chart's hub configuration; returns the Config it builds."""
    return hub_process(objects)[0]


def hub_process(objects: list[dict[str, Any]]) -> tuple[Config, dict[str, str]]:
    """Run the rendered chart's hub configuration; returns the Config it builds and the environment variables it
    sets for the hub process (PGPASSWORD for a PostgreSQL database)."""
    config_map = _hub_object(objects, "ConfigMap")["data"]
    secret = {key: base64.b64decode(value).decode() for key, value in _hub_object(objects, "Secret")["data"].items()}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, files in (("config", config_map), ("secret", secret)):
            (root / name).mkdir()
            for key, text in files.items():
                (root / name / key).write_text(text)
        z2jh_source = config_map["z2jh.py"].replace(MOUNT, f"{root}/")
        (root / "z2jh.py").write_text(z2jh_source)
        # The Services' environment Kubernetes gives the hub pod: <NAME>_SERVICE_HOST and _PORT for each name.
        environment = {
            f"{config_map[key].upper().replace('-', '_')}{suffix}": "8081"
            for key in config_map
            if not key.endswith(".py")
            for suffix in ("_SERVICE_HOST", "_SERVICE_PORT")
        }
        spec = importlib.util.spec_from_file_location("z2jh", root / "z2jh.py")
        assert spec is not None and spec.loader is not None
        z2jh = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(z2jh)
        # The hub image has pycurl; the configuration only names the curl client.
        curl = types.ModuleType("tornado.curl_httpclient")
        curl.CurlAsyncHTTPClient = SimpleAsyncHTTPClient  # type: ignore[attr-defined]
        c = Config()
        before = dict(os.environ)
        try:
            with (
                mock.patch.dict(sys.modules, {"z2jh": z2jh, "tornado.curl_httpclient": curl}),
                mock.patch.dict(os.environ, environment),
            ):
                code = compile(config_map["jupyterhub_config.py"], "jupyterhub_config.py", "exec")
                exec(code, {"get_config": lambda: c, "__file__": str(root / "jupyterhub_config.py")})
                added = {
                    k: v for k, v in os.environ.items() if k not in environment and os.environ.get(k) != before.get(k)
                }
        finally:
            AsyncHTTPClient.configure(None)
        return c, added
