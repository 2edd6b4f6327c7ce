"""Regenerate data/gpu/instance-types.json: the x86_64 EC2 instance types with NVIDIA GPUs and how many
each has, as cluster-autoscaler knows them (its static table, which it also uses to build the node of
a group scaled to zero), at the autoscaler version the chart pin runs.

    git clone --bare https://github.com/kubernetes/autoscaler /tmp/autoscaler.git
    python -m maintenance.gpu_instance_types /tmp/autoscaler.git cluster-autoscaler-1.35.0
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "gpu" / "instance-types.json"
TABLE = "cluster-autoscaler/cloudprovider/aws/ec2_instance_types.go"
# The `k8s.amazonaws.com/accelerator` value per family: the autoscaler's known GPU types
# (cloudprovider/aws/aws_cloud_provider.go availableGPUTypes) for the GPUs AWS lists per family
# (https://aws.amazon.com/ec2/instance-types/accelerated-computing/). Families not here get no label.
ACCELERATORS = {
    "g4dn": "nvidia-tesla-t4",
    "g5": "nvidia-a10g",
    "g6": "nvidia-l4",
    "g6e": "nvidia-l40s",
    "p3": "nvidia-tesla-v100",
    "p4d": "nvidia-tesla-a100",
}

ENTRY = re.compile(
    r'"(?P<type>[a-z0-9.-]+)": \{\s*InstanceType:\s*"[^"]+",\s*VCPU:\s*(?P<vcpu>\d+),\s*'
    r"MemoryMb:\s*(?P<memory>\d+),\s*GPU:\s*(?P<gpu>\d+),\s*Architecture:\s*\"(?P<arch>\w+)\""
)


def parse(source: str) -> dict[str, dict[str, int]]:
    return {
        m["type"]: {"gpus": int(m["gpu"]), "vcpu": int(m["vcpu"]), "memoryMib": int(m["memory"])}
        for m in ENTRY.finditer(source)
        if int(m["gpu"]) > 0 and m["arch"] == "amd64"
    }


def main(argv: list[str]) -> int:
    repo, tag = argv
    source = subprocess.run(["git", "-C", repo, "show", f"{tag}:{TABLE}"], check=True, capture_output=True, text=True)
    commit = subprocess.run(
        ["git", "-C", repo, "rev-parse", f"{tag}^{{commit}}"], check=True, capture_output=True, text=True
    )
    types = parse(source.stdout)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "source": f"github.com/kubernetes/autoscaler {tag} ({commit.stdout.strip()}): {TABLE}, amd64, GPU > 0",
        "accelerators": ACCELERATORS,
        "instanceTypes": dict(sorted(types.items())),
    }
    DATA.write_text(json.dumps(document, indent=1) + "\n")
    print(f"{len(types)} GPU instance types written to {DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
