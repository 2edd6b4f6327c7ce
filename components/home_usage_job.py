"""Prints one JSON line per running server's home: how full it is, from the kubelets' own volume statistics.

Runs in the cluster as the home usage CronJob (components/home_usage_alarm.py), on the hub's own image, so it
uses the standard library only and is shipped as a ConfigMap. Each line goes to the container log, which the
add-on's Fluent Bit ships to the application log group as the event's `log_processed` object; a metric filter
there turns `usedPercent` into the HomeUsedPercent metric per claim.

What it may do is `list nodes` and `get nodes/stats`: it calls each kubelet's Summary API directly
(`https://<node>:10250/stats/summary`, which the kubelet authorizes as the `stats` subresource of the node)
and never through the API server's node proxy (`nodes/proxy`, which also reaches a kubelet's exec and
attach). A stopped server's home is attached nowhere and reported by no kubelet."""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.request
from typing import Any

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
NODES_PATH = "/api/v1/nodes"
"""The API server: `list nodes`."""
SUMMARY_PATH = "/stats/summary"
"""Each kubelet: the `stats` subresource of its node (`get nodes/stats`)."""
CLAIM_PREFIX = "claim-"
"""KubeSpawner 7.0.0's pvc_name_template `claim-{user_server}` (the chart leaves it unset)."""


def home_lines(summary: dict[str, Any], namespace: str, cluster: str) -> list[dict[str, Any]]:
    """The homes one kubelet reports: the volumes of its pods that are a hub claim in the hub's namespace."""
    lines = []
    for pod in summary.get("pods") or []:
        for volume in pod.get("volume") or []:
            ref = volume.get("pvcRef") or {}
            if ref.get("namespace") != namespace or not str(ref.get("name", "")).startswith(CLAIM_PREFIX):
                continue
            used, capacity = volume.get("usedBytes"), volume.get("capacityBytes")
            if used is None or not capacity:
                continue
            lines.append(
                {
                    "cluster": cluster,
                    "claim": ref["name"],
                    "usedPercent": round(100 * used / capacity, 1),
                    "usedBytes": used,
                    "capacityBytes": capacity,
                }
            )
    return lines


def kubelet_addresses(nodes: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(node name, InternalIP, kubelet port) of each node."""
    found = []
    for node in nodes.get("items") or []:
        addresses = {a["type"]: a["address"] for a in node["status"].get("addresses") or []}
        port = node["status"].get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port") or 10250
        if "InternalIP" in addresses:
            found.append((node["metadata"]["name"], addresses["InternalIP"], int(port)))
    return found


def _get(url: str, token: str, context: ssl.SSLContext) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    with urllib.request.urlopen(request, context=context, timeout=20) as response:
        return dict(json.load(response))


def main() -> int:
    namespace, cluster = os.environ["HUB_NAMESPACE"], os.environ["CLUSTER_NAME"]
    with open(f"{SERVICE_ACCOUNT}/token") as file:
        token = file.read().strip()
    # The API server's and the kubelets' serving certificates are both signed by the cluster's CA.
    context = ssl.create_default_context(cafile=f"{SERVICE_ACCOUNT}/ca.crt")
    api = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
    read = failed = 0
    for name, address, port in kubelet_addresses(_get(api + NODES_PATH, token, context)):
        try:
            summary = _get(f"https://{address}:{port}{SUMMARY_PATH}", token, context)
        except (OSError, ValueError) as error:  # one node's kubelet unreachable: report the others, fail the run
            print(f"node {name}: {error}", file=sys.stderr)
            failed += 1
            continue
        read += 1
        for line in home_lines(summary, namespace, cluster):
            print(json.dumps(line), flush=True)
    # The run's own line: its metric shows the job reports (an alarm fires when it stops).
    print(json.dumps({"cluster": cluster, "nodesRead": read, "nodesFailed": failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
