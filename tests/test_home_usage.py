"""Which homes are nearly full (maintenance/home_usage.py): the kubelet Summary API's volume statistics of the
pods the real KubeSpawner 7.0.0 makes (their home volume is the claim KubeSpawner names), read per user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from maintenance.home_usage import GIB, home_usage, main, render
from offline_plan.mock_engine import Inventory
from tests.test_department import spawner_config
from tests.user_pods import HubUser, claim, spawn


def _summary(plan: Inventory, used_gib: dict[str, float]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A node's /stats/summary with each user's server (its pod's volumes as the kubelet reports them), and the
    claims as `kubectl get pvc -o json` lists them."""
    config = spawner_config(plan)
    namespace = config.KubeSpawner.namespace  # KubeSpawner creates the pod there (the manifest leaves it out)
    pods, claims = [], []
    for user, used in used_gib.items():
        manifest = claim(config, HubUser(user, []))
        claims.append(manifest)
        _, pod = spawn(config, HubUser(user, []))
        volumes = []
        for volume in pod["spec"]["volumes"]:
            stats: dict[str, Any] = {"name": volume["name"], "time": "2026-12-07T07:00:00Z"}
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] == manifest["metadata"]["name"]
                size = int(manifest["spec"]["resources"]["requests"]["storage"].removesuffix("Gi")) * GIB
                used_bytes = int(used * GIB)
                stats |= {
                    "usedBytes": used_bytes,
                    "capacityBytes": size,
                    "availableBytes": size - used_bytes,
                    "pvcRef": {"name": manifest["metadata"]["name"], "namespace": namespace},
                }
            else:
                stats |= {"usedBytes": 4096, "capacityBytes": 8 * GIB}  # /dev/shm and the like: no claim
            volumes.append(stats)
        pods.append({"podRef": {"name": pod["metadata"]["name"], "namespace": namespace}, "volume": volumes})
    return {"node": {"nodeName": "ip-10-50-1-10"}, "pods": pods}, {"kind": "List", "items": claims}


def test_homes_fullest_first_by_user_with_the_nearly_full_flagged(plans: dict[str, Inventory], tmp_path: Path) -> None:
    plan = plans["prod"]  # homes of 20Gi
    summary, claims = _summary(plan, {"alice.smith@x": 19.0, "bob": 2.0, "carol": 10.0})
    usages = home_usage([summary], claims, "jupyterhub")
    assert [(u.user, round(u.percent)) for u in usages] == [("alice.smith@x", 95), ("carol", 50), ("bob", 10)]
    report = render(usages, 90).splitlines()
    assert report[1].startswith("alice.smith@x") and report[1].endswith("NEARLY FULL")
    assert not any(line.endswith("NEARLY FULL") for line in report[2:])
    (tmp_path / "summaries").mkdir()
    (tmp_path / "summaries" / "node.json").write_text(json.dumps(summary))
    (tmp_path / "claims.json").write_text(json.dumps(claims))
    arguments = ["--summaries", str(tmp_path / "summaries"), "--claims", str(tmp_path / "claims.json")]
    assert main([*arguments, "--percent", "90"]) == 1  # a home at or above the threshold: exit 1, for a cron alert
    assert main([*arguments, "--percent", "99"]) == 0
