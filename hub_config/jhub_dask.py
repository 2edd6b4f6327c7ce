"""Shipped into each user server (singleuser.extraFiles, importable as `jhub_dask`; not run by the hub):
a user's Dask workers read and write what her server may, and nothing more.

Workers have no AWS identity of their own (no Pod Identity association in the Dask namespace, no
Kubernetes token, the metadata service blocked), and EKS Pod Identity could not give them hers: it
tags a session with the pod's name, and a worker's pod is not named after its user. So her server
forwards its own credentials: the short-lived session EKS Pod Identity gives her server, tagged with
her server's pod name, which the user role's policy confines to `home/<that pod name>/` and the shared
prefix read-only. They travel over the cluster's TLS connection (client -> scheduler -> workers, with
the cluster's own certificate, which only she holds), into no Kubernetes object, and expire with the
session; `forward_aws_credentials` sends them again every `refresh_minutes` while the client lives.

    from dask_gateway import GatewayCluster
    from jhub_dask import forward_aws_credentials

    cluster = GatewayCluster(worker_size="small")
    client = cluster.get_client()
    forward_aws_credentials(client)  # before reading s3://<bucket>/home/<pod>/...
    cluster.adapt(minimum=1, maximum=10)
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

PLUGIN_NAME = "jhub-aws-credentials"
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Copied when the server has them: the region, and where her prefix is (the hub tells her server).
CONTEXT_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION", "S3_BUCKET", "S3_HOME_PREFIX", "S3_HOME")


class AwsCredentials(WorkerPlugin):
    """A worker plugin sent by value (workers do not have this module): puts the server's session
    into each worker's environment, on the workers there are and on every worker that joins later,
    where boto3, s3fs and pandas read it."""

    idempotent = False

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = dict(environment)

    def setup(self, worker: Any) -> None:
        # A worker never keeps a previous session's token with this one's keys.
        for name in CREDENTIAL_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(self.environment)


def server_session() -> dict[str, str]:
    """The server's current credentials (botocore's chain: EKS Pod Identity in a user server), refreshed
    by botocore when close to expiry, and the context variables the server has."""
    import botocore.session

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise RuntimeError("this server has no AWS credentials to forward (is the user bucket on?)")
    frozen = credentials.get_frozen_credentials()
    if not frozen.token:
        # Long-lived keys (an IAM user's) never leave the server: only a session that expires does.
        raise RuntimeError("refusing to forward long-lived AWS keys; only a session's credentials")
    environment = {
        "AWS_ACCESS_KEY_ID": frozen.access_key,
        "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        "AWS_SESSION_TOKEN": frozen.token,
    }
    environment.update({name: os.environ[name] for name in CONTEXT_VARIABLES if name in os.environ})
    return environment


def forward_aws_credentials(client: Any, refresh_minutes: float | None = 15.0) -> AwsCredentials:
    """Give the cluster's workers (now and later) this server's session; again every `refresh_minutes`
    (None: once) while `client` is connected."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    plugin = AwsCredentials(server_session())
    client.register_plugin(plugin, name=PLUGIN_NAME)
    if refresh_minutes:
        _refresh_later(client, refresh_minutes * 60)
    return plugin


def _refresh_later(client: Any, seconds: float) -> None:
    def refresh() -> None:
        if client.status in ("running", "connecting"):
            client.register_plugin(AwsCredentials(server_session()), name=PLUGIN_NAME)
            _refresh_later(client, seconds)

    timer = threading.Timer(seconds, refresh)
    timer.daemon = True
    timer.start()
