"""instance_types.py: which EC2 types a node group may list, what a node of each offers pods, and whether
a profile's guarantee fits on it. The data is data/ec2/instance-types.json (maintenance/ec2_instance_types.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from catalog import instance_types
from catalog.instance_types import (
    allocatable,
    gpu_pool_problem,
    kube_reserved,
    lookup,
    pool_problem,
    profile_fit_problem,
    quantity,
)
from maintenance import ec2_instance_types
from settings import GPU_FAMILIES
from tests.conftest import ROOT

X86, ARM = "AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"
X86_NVIDIA, ARM_NVIDIA = "AL2023_x86_64_NVIDIA", "AL2023_ARM_64_NVIDIA"
DATA = json.loads((ROOT / "data/ec2/instance-types.json").read_text())


# ---- Names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "ami_type"),
    [(["m5.large"], X86), (["m7g.xlarge"], ARM), (["m5.large", "m5.xlarge"], X86), (["g5g.xlarge"], ARM_NVIDIA)],
)
def test_real_types_make_a_pool(names: list[str], ami_type: str) -> None:
    problem = gpu_pool_problem(names, ami_type) if "NVIDIA" in ami_type else pool_problem(names, ami_type)
    assert problem is None


@pytest.mark.parametrize("name", ["g5.xlarge", "p5.48xlarge"])
def test_whole_gpu_types_make_a_gpu_pool(name: str) -> None:
    assert gpu_pool_problem([name], X86_NVIDIA) is None


@pytest.mark.parametrize(
    ("name", "suggested"), [("m5.hugee", "m5.large"), ("banana", None), ("m5.2xlarg", "m5.2xlarge")]
)
def test_an_unknown_type_is_refused_with_the_closest_names(name: str, suggested: str | None) -> None:
    problem = pool_problem([name], X86)
    assert problem is not None and problem.startswith(f"{name} is not an EC2 instance type; did you mean ")
    offered = problem.split("did you mean ")[1].rstrip("?").split(", ")
    assert offered and all(lookup(n) is not None for n in offered)
    if suggested:
        assert offered[0] == suggested


def test_a_type_ec2_has_but_the_autoscaler_does_not_is_refused_as_such() -> None:
    # p5e.48xlarge is in botocore's EC2 enum, not in cluster-autoscaler 1.35.0's table.
    assert lookup("p5e.48xlarge") is None and "p5e.48xlarge" in DATA["ec2InstanceTypeNames"]
    problem = pool_problem(["p5e.48xlarge"], X86_NVIDIA)
    assert problem is not None and "missing from cluster-autoscaler's table (cluster-autoscaler-1.35.0)" in problem


def test_every_name_is_in_the_ec2_model_and_every_ami_type_in_the_eks_model() -> None:
    """Recorded from botocore's service models at generation time (the program does not import botocore)."""
    assert set(DATA["instanceTypes"]) <= set(DATA["ec2InstanceTypeNames"])
    assert set(instance_types.AMI_TYPES) <= set(DATA["eksAmiTypes"])


def test_the_program_does_not_need_botocore() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from catalog import instance_types; "
            "instance_types.lookup('m5.large'); print(sorted(sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "botocore" not in result.stdout


# ---- Pools and AMIs ---------------------------------------------------------------------------------


def test_a_gpu_pool_of_a_type_without_gpus_is_refused() -> None:
    assert gpu_pool_problem(["m5.large"], X86_NVIDIA) == (
        "m5.large has no GPU; a GPU pool needs NVIDIA GPU types, such as g4dn.xlarge, g5.xlarge, g6.xlarge"
    )


def test_a_gpu_pool_of_another_makers_gpus_is_refused() -> None:
    problem = gpu_pool_problem(["g4ad.xlarge"], X86_NVIDIA)
    assert problem is not None and "amd radeon-pro-v520 GPUs, not NVIDIA ones" in problem


def test_a_fractional_gpu_cannot_scale_from_zero() -> None:
    """g6f has a fraction of an L4: EC2 and cluster-autoscaler's table count 0 GPUs, so the autoscaler's node
    for the group at zero has no nvidia.com/gpu (aws_manager.go buildNodeFromTemplate) and no server that
    requests one scales it up."""
    assert lookup("g6f.xlarge") is not None and lookup("g6f.xlarge").gpus == 0  # type: ignore[union-attr]
    problem = gpu_pool_problem(["g6f.xlarge"], X86_NVIDIA)
    assert problem is not None and problem.startswith("g6f.xlarge has a fraction of an NVIDIA L4")


def test_an_arm64_type_on_an_x86_64_ami_is_refused() -> None:
    assert pool_problem(["m7g.xlarge"], X86) == (
        "m7g.xlarge is arm64, but the AL2023_x86_64_STANDARD AMI of this group runs on x86_64; list x86_64 types"
    )
    problem = gpu_pool_problem(["g5g.xlarge"], X86_NVIDIA)
    assert problem is not None and "the AL2023_x86_64_NVIDIA AMI of this group runs on x86_64" in problem
    assert pool_problem(["m5.large"], ARM) is not None


def test_a_pool_of_two_architectures_is_refused() -> None:
    problem = pool_problem(["m5.large", "m7g.large"], X86)
    assert problem is not None and problem.startswith("mix architectures: m5.large (x86_64), m7g.large (arm64)")


def test_gpu_types_on_a_standard_ami_are_refused() -> None:
    problem = pool_problem(["g5.xlarge"], X86)
    assert problem is not None and "no driver for" in problem


def test_a_gpu_pool_has_one_gpu_model_and_count() -> None:
    assert "mix GPU models ['a10g', 'l4']" in str(gpu_pool_problem(["g5.xlarge", "g6.xlarge"], X86_NVIDIA))
    assert "mix GPU counts [1, 4]" in str(gpu_pool_problem(["g5.xlarge", "g5.12xlarge"], X86_NVIDIA))


# ---- The accelerator label --------------------------------------------------------------------------


def test_gpu_families_the_settings_allow_get_a_label_or_are_refused() -> None:
    """Issue 22: a GPU group without `k8s.amazonaws.com/accelerator` makes the autoscaler start a second node
    while the first one's device plugin starts (kubernetes/autoscaler#1949)."""
    for family in GPU_FAMILIES:
        for name in (n for n in DATA["instanceTypes"] if n.split(".")[0] == family):
            accepted = gpu_pool_problem([name], X86_NVIDIA) is None
            assert not accepted or lookup(name).accelerator, name  # type: ignore[union-attr]
    assert lookup("p5.48xlarge").accelerator == "nvidia-h100"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "value"),
    [("g4dn.xlarge", "nvidia-tesla-t4"), ("g5.xlarge", "nvidia-a10g"), ("g6.xlarge", "nvidia-l4"),
     ("g6e.xlarge", "nvidia-l40s"), ("p4d.24xlarge", "nvidia-tesla-a100")],
)  # fmt: skip
def test_the_label_is_the_autoscalers_own_name_for_the_gpu(name: str, value: str) -> None:
    """cluster-autoscaler 1.35.0 aws_cloud_provider.go availableGPUTypes (its metrics call others `not-listed`)."""
    assert lookup(name).accelerator == value  # type: ignore[union-attr]
    assert value in DATA["acceleratorLabel"]["listedByAutoscaler"]


def test_the_data_has_the_labels_the_generator_names() -> None:
    listed = DATA["acceleratorLabel"]["listedByAutoscaler"]
    for model, value in DATA["acceleratorLabel"]["byModel"].items():
        assert ec2_instance_types.accelerator_value(model, listed) == value


def test_the_generator_reads_the_autoscalers_table_in_its_generated_shape() -> None:
    entry = """\t"{name}": {{\n\t\tInstanceType: "{name}",\n\t\tVCPU:         4,\n\t\tMemoryMb:     16384,
\t\tGPU:          1,\n\t\tArchitecture: "{arch}",\n\t}},\n"""
    table = entry.format(name="g5.xlarge", arch="amd64") + entry.format(name="g5g.xlarge", arch="arm64")
    assert ec2_instance_types.parse_autoscaler_table(table) == {
        "g5.xlarge": {"vcpu": 4, "memoryMib": 16384, "gpus": 1, "architecture": "x86_64"},
        "g5g.xlarge": {"vcpu": 4, "memoryMib": 16384, "gpus": 1, "architecture": "arm64"},
    }
    with pytest.raises(SystemExit, match="parsed 1 of 2 entries"):
        ec2_instance_types.parse_autoscaler_table(table.replace("GPU:", "Gpus:", 1))


# ---- What a node offers -----------------------------------------------------------------------------


def test_m5_large_reservations_are_nodeadms() -> None:
    """amazon-eks-ami nodeadm/internal/kubelet/config.go: cpu 6 % of the first core + 1 % of the second = 70m;
    memory 11 MiB x 29 max pods + 255 = 574Mi, 29 = 3 ENIs x (10 IPs - 1) + 2 (instance-info.jsonl m5.large)."""
    assert kube_reserved(lookup("m5.large")) == (70, 574)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "millicores", "mib"),
    [("m5.large", 1930, 6903), ("m5.xlarge", 3920, 14162), ("m7g.xlarge", 3920, 14103),
     ("g5.xlarge", 3920, 14162), ("p5.48xlarge", 191450, 1938410)],
)  # fmt: skip
def test_allocatable_is_what_aws_publishes(name: str, millicores: int, mib: int) -> None:
    """The allocatable cpu and memory AWS's Karpenter publishes for AL2023 nodes (aws/karpenter-provider-aws
    v1.14.1, website/content/en/docs/reference/instance-types.md, "Resources"): nodeadm's kube-reserved and
    100Mi eviction threshold, from the memory the kernel reports (7.5 % below nominal; 64 MiB less on Graviton)."""
    assert allocatable(name) == (millicores, mib)


def test_a_profile_larger_than_its_node_is_refused_with_the_numbers() -> None:
    # 32Gi on m5.xlarge (16 GiB): 14162 MiB allocatable (above) - 300 MiB of DaemonSets = 13862 MiB = 13.54 GiB.
    assert profile_fit_problem(1, "32Gi", ["m5.xlarge"], ("200m", "300Mi"), "nodeGroups.user.instanceTypes") == (
        "guarantees 32.00 GiB of memory, but each m5.xlarge node has 13.54 GiB for servers (16.00 GiB less 2.17 GiB "
        "for the system and kubelet and 0.29 GiB for DaemonSets), so the server would stay Pending; lower the "
        "guarantee to at most 13.54 GiB or use larger types in nodeGroups.user.instanceTypes"
    )


def test_a_profile_is_checked_against_the_smallest_type_of_its_pool() -> None:
    assert profile_fit_problem(1, "8Gi", ["m5.2xlarge"]) is None
    problem = profile_fit_problem(1, "8Gi", ["m5.2xlarge", "m5.large"])
    assert problem is not None and "each m5.large node has 6.74 GiB" in problem


def test_the_cpu_guarantee_is_checked_too() -> None:
    assert profile_fit_problem("3900m", "1Gi", ["m5.xlarge"]) is None  # 3920m allocatable
    problem = profile_fit_problem("3900m", "1Gi", ["m5.xlarge"], ("100m", 0))
    assert problem is not None and problem.startswith("guarantees 3.9 CPU, but each m5.xlarge node has 3.82 for")


# ---- Quantities -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("4Gi", 4 * 2**30), ("512Mi", 512 * 2**20), ("4G", 4 * 10**9), ("500m", 0.5), ("2", 2), ("1.5", 1.5),
     (2, 2), (1.5, 1.5), ("1e3", 1000), ("100k", 100_000)],
)  # fmt: skip
def test_quantities_take_kubernetes_units(text: str | float, value: float) -> None:
    assert quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["4GB", "4 Gi", "-1", "banana", "", "1.2.3", "0x10"])
def test_what_kubernetes_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        quantity(text)
