"""Scales the warm capacity's placeholders to their working-hours size inside the schedule and to 0 outside it.

Shipped in a ConfigMap and run by the CronJob of components/warm_capacity_schedule.py in the chart's hub image
(quay.io/jupyterhub/k8s-hub-slim 4.4.0: Python 3.12, and the `tzdata` package of its requirements.txt, which
zoneinfo falls back to). It imports the standard library only, so nothing in the image but Python matters.

Each run works out what the replicas should be now and sets them, whatever ran before: a missed or failed run,
a `pulumi up` at night, or a new stack is put right by the next run (the CronJob runs every hour). The call is
the one `kubectl scale` makes: a JSON merge patch of the StatefulSet's scale subresource
(PATCH /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale), the only verb its Role grants.

Usage: python warm_capacity_scaler.py CONFIG.json
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The CronJob starts its Job at the hour, and the pod a few seconds later, by a clock that may differ a little
# from the controller's: a run that starts a moment before the hour counts as that hour.
EARLY_START = timedelta(minutes=5)
MERGE_PATCH = "application/merge-patch+json"
# The name the API server records as the owner of spec.replicas (managedFields); without it, urllib's User-Agent.
FIELD_MANAGER = "warm-capacity-scaler"


def is_warm(schedule: dict[str, Any], instant: datetime) -> bool:
    """Whether `instant` (aware) falls in the working hours, read in the schedule's time zone."""
    local = instant.astimezone(ZoneInfo(schedule["timezone"]))
    return WEEKDAYS[local.weekday()] in schedule["days"] and schedule["startHour"] <= local.hour < schedule["endHour"]


def warm_hours_per_week(schedule: dict[str, Any]) -> int:
    """What the plan prices (offline_plan/cost.py): the schedule's hours in a week."""
    return len(schedule["days"]) * (schedule["endHour"] - schedule["startHour"])


def desired_replicas(config: dict[str, Any], now: datetime) -> int:
    return config["replicas"] if is_warm(config["schedule"], now + EARLY_START) else 0


def scale_path(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale?fieldManager={FIELD_MANAGER}"


def scale(api: str, token: str, context: ssl.SSLContext | None, namespace: str, name: str, replicas: int) -> int:
    """Set one StatefulSet's replicas; returns the replicas it had running (the Scale's status)."""
    request = urllib.request.Request(
        api + scale_path(namespace, name),
        data=json.dumps({"spec": {"replicas": replicas}}).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": MERGE_PATCH, "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return int(json.load(response).get("status", {}).get("replicas", 0))


def run(config: dict[str, Any], now: datetime, api: str, token: str, context: ssl.SSLContext | None) -> int:
    """Scale every StatefulSet of the config; the exit status (1 if any call failed, after trying them all)."""
    replicas = desired_replicas(config, now)
    failed = 0
    for name in config["statefulSets"]:
        try:
            running = scale(api, token, context, config["namespace"], name, replicas)
        except (urllib.error.URLError, OSError, ValueError) as error:
            print(f"{name}: could not scale to {replicas}: {error}", file=sys.stderr)
            failed = 1
            continue
        print(f"{name}: replicas {replicas} (running {running}) at {now.isoformat(timespec='seconds')}")
    return failed


def api_url(host: str, port: str) -> str:
    """The API server from the `kubernetes` Service's environment variables (an IPv6 address in brackets)."""
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[1]).read_text())
    api = api_url(os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443"))
    token = (SERVICE_ACCOUNT / "token").read_text().strip()
    context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
    return run(config, datetime.now(UTC), api, token, context)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
