"""Which homes are nearly full: each running user server's home use, from the kubelets' own volume statistics.

The kubelet's Summary API (`/stats/summary`, kubelet stats v1alpha1) reports, for every volume of every pod it
runs, the file system's `usedBytes`, `capacityBytes` and `availableBytes`, and `pvcRef` for a claim's volume:
the same numbers as `kubelet_volume_stats_*`. Container Insights publishes no per-claim metric, so the report
reads the kubelets through the API server (nodes/proxy, an admin's right). A home is seen while its server
runs (a stopped server's volume is attached nowhere).

    mkdir -p summaries
    for node in $(kubectl get nodes -o name); do
      kubectl get --raw "/api/v1/nodes/${node#node/}/proxy/stats/summary" > "summaries/${node#node/}.json"
    done
    kubectl -n jupyterhub get pvc -l component=singleuser-storage -o json > claims.json
    python -m maintenance.home_usage --summaries summaries --claims claims.json --percent 90
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

USERNAME_ANNOTATION = "hub.jupyter.org/username"
GIB = 1024**3


@dataclass(frozen=True)
class HomeUsage:
    user: str
    claim: str
    used_bytes: int
    capacity_bytes: int

    @property
    def percent(self) -> float:
        return 100 * self.used_bytes / self.capacity_bytes if self.capacity_bytes else 0.0


def home_usage(summaries: list[dict[str, Any]], claims: dict[str, Any], namespace: str) -> list[HomeUsage]:
    """Each home claim's use, fullest first, named by the hub's user (KubeSpawner's annotation on the claim)."""
    users = {
        item["metadata"]["name"]: (item["metadata"].get("annotations") or {}).get(USERNAME_ANNOTATION)
        for item in claims.get("items", [])
    }
    usage = {}
    for summary in summaries:
        for pod in summary.get("pods") or []:
            for volume in pod.get("volume") or []:
                ref = volume.get("pvcRef") or {}
                if ref.get("namespace") != namespace or ref.get("name") not in users:
                    continue
                if volume.get("usedBytes") is None or not volume.get("capacityBytes"):
                    continue
                usage[ref["name"]] = HomeUsage(
                    users[ref["name"]] or ref["name"], ref["name"], volume["usedBytes"], volume["capacityBytes"]
                )
    return sorted(usage.values(), key=lambda u: (-u.percent, u.user))


def render(usages: list[HomeUsage], threshold: float) -> str:
    lines = [f"{'user':32} {'used GiB':>9} {'size GiB':>9} {'used':>6}"]
    for u in usages:
        flag = "  NEARLY FULL" if u.percent >= threshold else ""
        lines.append(f"{u.user:32} {u.used_bytes / GIB:9.1f} {u.capacity_bytes / GIB:9.1f} {u.percent:5.0f}%{flag}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--summaries", type=Path, required=True, help="folder of kubelet /stats/summary JSON files")
    parser.add_argument("--claims", type=Path, required=True, help="kubectl get pvc -o json of the home claims")
    parser.add_argument("--namespace", default="jupyterhub")
    parser.add_argument("--percent", type=float, default=90.0, help="flag homes at or above this use")
    args = parser.parse_args(argv)
    summaries = [json.loads(path.read_text()) for path in sorted(args.summaries.glob("*.json"))]
    usages = home_usage(summaries, json.loads(args.claims.read_text()), args.namespace)
    print(render(usages, args.percent))
    return 1 if any(u.percent >= args.percent for u in usages) else 0


if __name__ == "__main__":
    sys.exit(main())
