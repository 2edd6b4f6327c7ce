"""The reachability table: who reaches whom, on which ports, and which address ranges outside the
cluster; computed by np-guard's network-config-analyzer (`nca`, in .venv-nca) from the
NetworkPolicies the program declares and the pods of data/pods/contract.yaml.

The analyzer sees what a NetworkPolicy says; what the VPC CNI's agent makes of it is written into
the policies (components/hub_network_policies.py). Two limits of the analyzer, kept in mind by the
tests: it does not know Services (a pod peer here is the pod itself), and an ipBlock never matches a
pod (so an egress rule to the VPC's range shows as that range, not as the pods in it). Pods on the
host network are left out: no policy applies to them.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from offline_plan.mock_engine import ROOT, Inventory
from policies.checklist import UNKNOWN

NCA = ROOT / ".venv-nca" / "bin" / "nca"
CONTRACT = ROOT / "data" / "pods" / "contract.yaml"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "jupyterhub"


class AnalyzerError(RuntimeError):
    """nca is missing or failed (never read as 'no connection')."""


@dataclass(frozen=True)
class Connection:
    source: str
    """`namespace/pod` or an address range `a.b.c.d-e.f.g.h` (or a single address)."""
    destination: str
    allowed: str
    """`All connections`, or `{protocols:TCP,dst_ports:8081}` as nca writes it."""

    def line(self) -> str:
        return f"{self.source} => {self.destination} : {self.allowed}"


def contract_pods(inventory: Inventory) -> list[dict[str, Any]]:
    """The contract's pods as this stack runs them: hub namespace and release substituted,
    autohttps only with Let's Encrypt, the device plugin only with a GPU pool. Read from the hub
    release; in a first preview its namespace and values are unknown, and then from the hub's
    policies, which are known."""
    (release,) = [r for r in inventory.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == RELEASE]
    namespace, values = release.inputs.get("namespace"), release.inputs.get("values")
    hub_policies = {
        p.inputs["metadata"]["name"]: p.inputs["metadata"]["namespace"]
        for p in inventory.of_type(NETWORK_POLICY)
        if p.parent and "JupyterHub" in p.parent
    }
    if not isinstance(namespace, str) or namespace == UNKNOWN:
        namespace = next(iter(hub_policies.values()))  # all in the hub namespace
    if isinstance(values, dict):
        https = values.get("proxy", {}).get("https", {})
        letsencrypt = bool(https.get("enabled")) and https.get("type") == "letsencrypt"
    else:
        letsencrypt = "autohttps" in hub_policies
    # The GPU pool's device plugin runs only where the stack has one.
    gpu = any(
        r.inputs.get("name") == "nvidia-device-plugin" for r in inventory.of_type("kubernetes:helm.sh/v3:Release")
    )
    # Dask Gateway's pods only where the stack installs it, in its namespace.
    dask = [c for c in inventory.of_type("kubernetes:helm.sh/v4:Chart") if c.inputs.get("chart") == "dask-gateway"]
    dask_namespace = str(dask[0].inputs.get("namespace")) if dask else ""
    result = []
    for pod in yaml.safe_load(CONTRACT.read_text())["pods"]:
        if pod.get("when") == "letsencrypt" and not letsencrypt:
            continue
        if pod.get("when") == "gpu" and not gpu:
            continue
        if pod.get("when") == "dask" and not dask:
            continue
        pod = dict(pod, namespace=pod["namespace"].replace("{hub}", namespace).replace("{dask}", dask_namespace))
        pod["labels"] = {k: str(v).replace("{release}", RELEASE) for k, v in (pod["labels"] or {}).items()}
        result.append(pod)
    return result


def _objects(inventory: Inventory) -> list[dict[str, Any]]:
    pods = [p for p in contract_pods(inventory) if not p["hostNetwork"]]
    namespaces = sorted({p["namespace"] for p in pods})
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
        }
        for ns in namespaces
    ]
    for pod in pods:
        replicas = pod.get("replicas", 1)
        for index in range(replicas):
            name = pod["name"] if replicas == 1 else f"{pod['name']}-{chr(ord('a') + index)}"
            if pod.get("podNames"):
                name = pod["podNames"][index]
            ports = [
                {"name": p["name"], "containerPort": p["containerPort"], "protocol": p.get("protocol", "TCP")}
                for p in pod.get("ports", [])
            ]
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": name, "namespace": pod["namespace"], "labels": pod["labels"]},
                    "spec": {"containers": [{"name": "main", "image": "example", "ports": ports}]},
                }
            )
    for policy in inventory.of_type(NETWORK_POLICY):
        objects.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": policy.inputs["metadata"],
                "spec": policy.inputs["spec"],
            }
        )
    return objects


_LINE = re.compile(r"^(?P<source>\S+) => (?P<destination>\S+) : (?P<allowed>.+)$")


def reachability(inventory: Inventory) -> list[Connection]:
    """Every allowed connection between the contract's pods and address ranges, per nca."""
    if not NCA.exists():
        raise AnalyzerError(f"{NCA} is missing: run ./test or ./plan once (maintenance/venv.sh installs it)")
    with tempfile.TemporaryDirectory() as folder:
        resources = Path(folder) / "resources.yaml"
        resources.write_text(yaml.safe_dump_all(_objects(inventory), sort_keys=True))
        out = Path(folder) / "connectivity.txt"
        command = [str(NCA), "--connectivity", "-r", str(resources), "-o", "txt_no_fw_rules", "-f", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=folder)
        if not out.exists():
            raise AnalyzerError(f"nca failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        lines = out.read_text().splitlines()
    connections = []
    for line in lines:
        match = _LINE.match(line.strip())
        if match:
            source, destination = (re.sub(r"\[Pod\]$", "", match[k]) for k in ("source", "destination"))
            connections.append(Connection(source, destination, match["allowed"].strip()))
    if not connections:
        raise AnalyzerError("nca reported no connection at all:\n" + "\n".join(lines))
    return connections


def render(connections: list[Connection], stack: str) -> str:
    lines = [
        f"Reachability for '{stack}' (network-config-analyzer over the declared NetworkPolicies):",
        "  (All connections: every protocol and port, TCP, UDP and SCTP; {protocols:TCP,dst_ports:N}: that port",
        "  only; an address range such as 0.0.0.0-9.255.255.255 is outside the cluster)",
    ]
    lines += [f"  {c.line()}" for c in sorted(connections, key=lambda c: (c.source, c.destination))]
    return "\n".join(lines)


def to_json(connections: list[Connection]) -> str:
    return json.dumps([c.__dict__ for c in connections], indent=1)
