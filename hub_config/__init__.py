"""Code that runs inside the hub, not in the Pulumi program: each module's source becomes one
`hub.extraConfig` entry, which the z2jh chart's jupyterhub_config.py executes (in key order, after
`hub.config`) with the hub's traitlets config as `c`. Only the standard library and the hub image's
packages may be imported. Tests execute the same source against the real JupyterHub, OAuthenticator
and KubeSpawner classes at the hub image's versions (tests/test_login.py)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def source(name: str) -> str:
    """The source of hub_config/<name>.py, as it goes into hub.extraConfig."""
    return (HERE / f"{name}.py").read_text()
