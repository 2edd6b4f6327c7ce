"""Data isolation on Dask workers: a user's workers reach her prefix and the shared read-only prefix,
and nothing of anyone else's. Workers have no AWS identity of their own (tests/test_dask_gateway.py:
no Pod Identity association in the Dask namespace, no token, no AWS variable); her server forwards
its own EKS Pod Identity session to her cluster's workers (hub_config/jhub_dask.py; the forwarding
itself runs against real workers in tests/test_dask_gateway_login.py). So a request from her worker
is her server's session (its tags, the user role's policy) coming from a worker node: proven here
with the IAM evaluator as for the user servers, from the worker nodes' subnets, which reach S3
through the VPC endpoint the bucket requires."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from components.dask_gateway_values import USER_MODULES_DIR, USER_PATH_HOOK
from components.jupyterhub_values import USER_POD_NAME_TEMPLATE, USER_SERVICE_ACCOUNT
from hub_config import jhub_dask, source
from offline_plan.mock_engine import Inventory
from tests.test_chart_render import hub_release
from tests.test_user_data import bucket, cases, user_policy, user_role, wrong_decisions

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def worker_groups(plan: Inventory) -> list[object]:
    return [g for g in plan.of_type(NODE_GROUP) if g.inputs["labels"]["node-purpose"] == "dask-worker"]


def subnets_routed_through_the_s3_endpoint(plan: Inventory) -> set[str]:
    (endpoint,) = [
        e for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["serviceName"].endswith(".s3")
    ]
    tables = set(endpoint.inputs["routeTableIds"])
    return {
        a.inputs["subnetId"]
        for a in plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.inputs["routeTableId"] in tables
    }


def test_worker_nodes_reach_s3_through_the_endpoint_the_bucket_requires(plans: dict[str, Inventory]) -> None:
    """The bucket refuses data requests from anywhere but its VPC endpoint (prod): every subnet of the
    worker pool routes through it. Mutation: the endpoint on no route table leaves every subnet out."""
    plan = plans["prod"]
    groups = worker_groups(plan)
    assert groups
    routed = subnets_routed_through_the_s3_endpoint(plan)
    for group in groups:
        assert set(group.inputs["subnetIds"]) <= routed, group.name  # type: ignore[attr-defined]


@pytest.mark.parametrize(("me", "other"), [("alice", "bob"), ("bob", "alice")])
def test_her_workers_with_her_forwarded_session_reach_only_her_prefix_and_shared_read_only(
    plans: dict[str, Inventory], me: str, other: str
) -> None:
    plan = plans["prod"]
    pod, other_pod = USER_POD_NAME_TEMPLATE.format(username=me), USER_POD_NAME_TEMPLATE.format(username=other)
    table = cases(bucket(plan).id, pod, other_pod)
    assert wrong_decisions(plan, user_policy(plan), user_role(plan).name, USER_SERVICE_ACCOUNT, table, pod) == []


def user_environment(singleuser: dict[str, Any]) -> dict[str, Any]:
    env = singleuser.get("extraEnv", {})
    return env if isinstance(env, dict) else {e["name"]: e.get("value") for e in env}


def python_path_after_start(hook: str, image_python_path: str | None) -> list[str]:
    """sys.path of a Python the server starts, after docker-stacks' start.sh (`set -e`, run-hooks.sh sources
    every before-notebook.d/*.sh into its shell, then execs the command) in an image whose ENV sets
    PYTHONPATH to `image_python_path`."""
    env = {"PATH": os.environ["PATH"]}
    if image_python_path is not None:
        env["PYTHONPATH"] = image_python_path
    script = f"set -e\nsource /dev/stdin <<'HOOK'\n{hook}HOOK\nexec \"$@\""
    command = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path))"]
    done = subprocess.run(["bash", "-c", script, "start.sh", *command], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_user_servers_get_the_forwarding_module_on_their_path_and_keep_the_images(
    plans: dict[str, Inventory],
) -> None:
    """The module is mounted in the directory the start hook puts first on PYTHONPATH, and an image's own
    PYTHONPATH stays behind it; the hub's values set no PYTHONPATH (a pod's env replaces the image's).
    Mutation: `PYTHONPATH: /opt/jhub-eks/python` back in singleuser.extraEnv (as before) fails the first
    check; a hook that assigns instead of prepending loses /opt/image-lib."""
    singleuser = hub_release(plans["prod"])["values"]["singleuser"]
    files = {f["mountPath"]: f.get("stringData") for f in singleuser["extraFiles"].values()}
    assert files[f"{USER_MODULES_DIR}/jhub_dask.py"] == source("jhub_dask")
    assert "PYTHONPATH" not in user_environment(singleuser)
    hook = files[USER_PATH_HOOK]
    assert USER_PATH_HOOK.startswith("/usr/local/bin/before-notebook.d/") and USER_PATH_HOOK.endswith(".sh")
    with_image_path = python_path_after_start(hook, "/opt/image-lib")
    assert with_image_path.index(USER_MODULES_DIR) < with_image_path.index("/opt/image-lib")
    without = python_path_after_start(hook, None)
    assert USER_MODULES_DIR in without and "" not in without[1:]  # no empty entry (the cwd) from a stray colon
    dev = hub_release(plans["dev"])["values"]["singleuser"]
    assert not any(
        f["mountPath"] in (USER_PATH_HOOK, f"{USER_MODULES_DIR}/jhub_dask.py")
        for f in dev.get("extraFiles", {}).values()
    )


def test_only_a_session_is_forwarded_never_long_lived_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """An IAM user's keys (no session token) would outlive the cluster: refused. Mutation: without
    the token check they would be sent."""
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALONGLIVED")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with pytest.raises(RuntimeError, match="long-lived"):
        jhub_dask.server_session()
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    monkeypatch.setenv("S3_HOME", "s3://b/home/jupyter-alice/")
    session = jhub_dask.server_session()
    assert session["AWS_SESSION_TOKEN"] == "token" and session["S3_HOME"] == "s3://b/home/jupyter-alice/"
