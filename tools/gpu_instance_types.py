"""Derive data/gpu/instance-types.json, which settings.py reads until it uses instance_types.py, from
data/ec2/instance-types.json (tools/ec2_instance_types.py): the x86_64 EC2 instance types with whole
NVIDIA GPUs, how many each has, and the `k8s.amazonaws.com/accelerator` value of each family.

    python -m tools.gpu_instance_types
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data" / "ec2" / "instance-types.json"
DATA = ROOT / "data" / "gpu" / "instance-types.json"


def derive(document: dict[str, Any]) -> dict[str, Any]:
    by_model = document["acceleratorLabel"]["byModel"]
    nvidia = {
        name: spec
        for name, spec in document["instanceTypes"].items()
        if spec["gpus"] and spec.get("gpu", {}).get("manufacturer") == "nvidia" and spec["architecture"] == "x86_64"
    }
    origin = document["sources"]["instanceTypes"]
    return {
        "source": (
            f"derived from data/ec2/instance-types.json (github.com/{origin['repo']} {origin['tag']} "
            f"({origin['commit']}): {origin['path']}; GPU models: Karpenter's table): x86_64, whole NVIDIA GPUs"
        ),
        "accelerators": {name.split(".")[0]: by_model[spec["gpu"]["model"]] for name, spec in sorted(nvidia.items())},
        "instanceTypes": {
            name: {"gpus": spec["gpus"], "vcpu": spec["vcpu"], "memoryMib": spec["memoryMib"]}
            for name, spec in sorted(nvidia.items())
        },
    }


def main() -> int:
    document = derive(json.loads(SOURCE.read_text()))
    DATA.write_text(json.dumps(document, indent=1) + "\n")
    print(f"{len(document['instanceTypes'])} GPU instance types written to {DATA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
