"""What each EC2 instance type offers a pod, and whether a node group or a profile makes sense on it.

Pure and offline (stdlib only): it reads data/ec2/instance-types.json (maintenance/ec2_instance_types.py), the
types cluster-autoscaler knows (the table it builds a zero-size group's node from), their GPUs, and the max
pods nodeadm gives each. Every function returns a problem as "what is wrong; the fix", or None; the caller
prefixes the settings key.

Quantities are Kubernetes quantities (`quantity`): `4Gi`, `512Mi`, `4G` (10^9 bytes, as Kubernetes reads
it), `500m`, `2`, `1.5`.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "ec2" / "instance-types.json"

# ---- Quantities -------------------------------------------------------------------------------------

# k8s.io/apimachinery/pkg/api/resource/quantity.go: <number><suffix>, suffix binary (Ki..Ei), decimal
# (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e3, E-2).
_QUANTITY = re.compile(r"^(?P<number>\+?(\d+(\.\d*)?|\.\d+))(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$")
_SUFFIXES = {
    **{f"{s}i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")},
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
MIB = 1024 * 1024


def quantity(value: str | int | float) -> Decimal:
    """A Kubernetes quantity's value in base units (bytes, cores), exactly. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a Kubernetes quantity (a number >= 0)")
        return Decimal(str(value))
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity: write memory as 4Gi, 512Mi or 4G (10^9 bytes) and CPU as "
            "2, 1.5 or 500m"
        )
    suffix = match["suffix"] or ""
    try:
        number = Decimal(match["number"])
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from error
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * Decimal(10) ** int(suffix[1:])
    return number * _SUFFIXES[suffix]


def quantity_kib(value: str | int | float) -> float:
    """Memory in KiB (settings' comparisons of guarantees, limits and /dev/shm)."""
    return float(quantity(value) / 1024)


def millicores(value: str | int | float) -> int:
    """CPU in millicores, rounded up as Kubernetes does (it keeps no finer than 1m)."""
    return math.ceil(quantity(value) * 1000)


def mebibytes(value: str | int | float) -> float:
    return float(quantity(value) / MIB)


# ---- Instance types ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_mib: int
    architecture: str
    """EC2's name: x86_64 or arm64."""
    gpus: int
    """Whole GPUs (a fractional GPU, as on g6f, counts 0: EC2 and cluster-autoscaler count it so)."""
    gpu_manufacturer: str | None
    gpu_model: str | None
    """Karpenter's (EC2's) lower-case name: a10g, h100, radeon-pro-v520."""
    max_pods: int | None
    """nodeadm's ENI-based max pods (None: not in its table; it then asks EC2 at boot)."""

    @property
    def family(self) -> str:
        return self.name.split(".")[0]

    @property
    def accelerator(self) -> str | None:
        """The `k8s.amazonaws.com/accelerator` value for the node's label: cluster-autoscaler treats a node
        with the label and no allocatable GPU as not ready yet (so it does not start a second node while the
        device plugin starts; kubernetes/autoscaler#1949). Its value is the autoscaler's name for the GPU
        when it lists one (availableGPUTypes; otherwise its metrics say `not-listed`)."""
        if self.gpu_manufacturer != "nvidia" or not self.gpus or self.gpu_model is None:
            return None
        return str(_data()["acceleratorLabel"]["byModel"][self.gpu_model])


@functools.cache
def _data() -> dict[str, Any]:
    return dict(json.loads(DATA.read_text()))


@functools.cache
def _types() -> dict[str, InstanceType]:
    return {
        name: InstanceType(
            name=name,
            vcpu=spec["vcpu"],
            memory_mib=spec["memoryMib"],
            architecture=spec["architecture"],
            gpus=spec["gpus"],
            gpu_manufacturer=spec.get("gpu", {}).get("manufacturer"),
            gpu_model=spec.get("gpu", {}).get("model"),
            max_pods=spec["maxPods"],
        )
        for name, spec in _data()["instanceTypes"].items()
    }


def lookup(name: str) -> InstanceType | None:
    return _types().get(name)


def autoscaler_release() -> str:
    """The cluster-autoscaler tag whose table this is (for messages)."""
    return str(_data()["sources"]["instanceTypes"]["tag"])


def unknown_type_message(name: str) -> str:
    """Why `name` is refused, with the closest names the table has."""
    known = sorted(_types())
    close = difflib.get_close_matches(name, known, n=4, cutoff=0.6)
    if not close:
        # No near spelling (`banana`): the sizes of the family the name starts with, else common types.
        family = re.split(r"[.]", name, maxsplit=1)[0]
        close = [n for n in known if n.split(".")[0] == family][:4] or difflib.get_close_matches(
            name, ["m7i.xlarge", "m7g.xlarge", "t3.xlarge", "r7i.xlarge", "g5.xlarge"], n=4, cutoff=0
        )
    suggestion = f"; did you mean {', '.join(close)}?"
    if name in _data()["ec2InstanceTypeNames"]:
        return (
            f"{name} is an EC2 instance type missing from cluster-autoscaler's table ({autoscaler_release()}), so "
            f"the autoscaler cannot size a group of it at zero nodes (and its CPU, memory and GPUs are unknown "
            f"here){suggestion}"
        )
    return f"{name} is not an EC2 instance type{suggestion}"


# ---- Node groups ------------------------------------------------------------------------------------

# The EKS AMI types a group of this program may run (botocore's eks AMITypes enum, recorded in the data file),
# and what each needs: the architecture of the image, and whether it carries the NVIDIA driver.
AMI_TYPES = {
    "AL2023_x86_64_STANDARD": ("x86_64", False),
    "AL2023_ARM_64_STANDARD": ("arm64", False),
    "AL2023_x86_64_NVIDIA": ("x86_64", True),
    "AL2023_ARM_64_NVIDIA": ("arm64", True),
}


def _unknown(names: Sequence[str]) -> str | None:
    for name in names:
        if lookup(name) is None:
            return unknown_type_message(name)
    return None


def pool_problem(instance_types: Sequence[str], ami_type: str) -> str | None:
    """What is wrong with a node group of these types and AMI type: an unknown type, types of two
    architectures (a group has one AMI), a type the AMI's architecture cannot boot, or a GPU type on a
    standard AMI (no NVIDIA driver). GPU pools: `gpu_pool_problem`."""
    if ami_type not in AMI_TYPES:
        return f"AMI type {ami_type} is not one this program runs; use one of {', '.join(AMI_TYPES)}"
    unknown = _unknown(instance_types)
    if unknown:
        return unknown
    types = [_types()[name] for name in instance_types]
    architectures = {t.architecture for t in types}
    if len(architectures) > 1:
        listed = ", ".join(f"{t.name} ({t.architecture})" for t in types)
        return f"mix architectures: {listed}; a group runs one AMI, so list types of one architecture"
    architecture, nvidia = AMI_TYPES[ami_type]
    wrong = [t.name for t in types if t.architecture != architecture]
    if wrong:
        return (
            f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} {types[0].architecture}, but the "
            f"{ami_type} AMI of this group runs on {architecture}; list {architecture} types"
        )
    if not nvidia:
        gpu_types = [t.name for t in types if t.gpus or t.gpu_model]
        if gpu_types:
            return (
                f"{', '.join(gpu_types)} {'has' if len(gpu_types) == 1 else 'have'} GPUs the {ami_type} AMI has no "
                "driver for; GPU types belong in the GPU pool (nodeGroups.gpu)"
            )
    return None


def gpu_pool_problem(instance_types: Sequence[str], ami_type: str) -> str | None:
    """`pool_problem`, and for a GPU pool: every type has whole NVIDIA GPUs that cluster-autoscaler's table
    counts (it gives a zero-size group's node that many nvidia.com/gpu, else no GPU server ever scales it up),
    of one model (the group has one accelerator label) and one count (the autoscaler plans from one type)."""
    if AMI_TYPES.get(ami_type, ("", False))[1] is False:
        return f"AMI type {ami_type} has no NVIDIA driver; a GPU pool runs AL2023_x86_64_NVIDIA or AL2023_ARM_64_NVIDIA"
    problem = pool_problem(instance_types, ami_type)
    if problem:
        return problem
    types = [_types()[name] for name in instance_types]
    for t in types:
        if t.gpu_model is None and not t.gpus:
            return f"{t.name} has no GPU; a GPU pool needs NVIDIA GPU types, such as {_gpu_examples(t)}"
        if t.gpu_manufacturer != "nvidia":
            return (
                f"{t.name} has {t.gpu_manufacturer or 'unknown'} {t.gpu_model or ''} GPUs, not NVIDIA ones; the "
                f"{ami_type} AMI and the NVIDIA device plugin need NVIDIA GPUs, such as {_gpu_examples(t)}"
            )
        if not t.gpus:
            return (
                f"{t.name} has a fraction of an NVIDIA {t.gpu_model.upper() if t.gpu_model else 'GPU'} (EC2 and "
                f"cluster-autoscaler count 0 whole GPUs), so the autoscaler's node for the group at zero has no "
                f"nvidia.com/gpu and no GPU server would ever scale it up; use whole-GPU types, such as "
                f"{_gpu_examples(t)}"
            )
    models = sorted({str(t.gpu_model) for t in types})
    if len(models) > 1:
        return (
            f"mix GPU models {models}; the group's k8s.amazonaws.com/accelerator label has one value, so list "
            "types of one GPU model"
        )
    counts = sorted({t.gpus for t in types})
    if len(counts) > 1:
        return (
            f"mix GPU counts {counts}; the autoscaler plans a zero-size group from one type, so list types with "
            "the same number of GPUs"
        )
    return None


def _gpu_examples(near: InstanceType) -> str:
    """NVIDIA GPU types of the same architecture, closest in vCPUs to `near` first."""
    candidates = [
        t
        for t in _types().values()
        if t.gpu_manufacturer == "nvidia" and t.gpus == 1 and t.architecture == near.architecture
    ]
    candidates.sort(key=lambda t: (abs(t.vcpu - near.vcpu), t.name))
    return ", ".join(t.name for t in candidates[:3])


# ---- What a node offers pods ------------------------------------------------------------------------

# nodeadm (amazon-eks-ami nodeadm/internal/kubelet/config.go, the AL2023 AMIs' bootstrap) sets
# kube-reserved cpu by ranges of the node's millicores (getCPUMillicoresToReserve: 6 % of the first core,
# 1 % of the second, 0.5 % of the third and fourth, 0.25 % above, integer arithmetic), kube-reserved memory
# 11 MiB per max pod + 255 MiB (getMemoryMebibytesToReserve, from the ENI-based max pods even when the
# kubelet's maxPods is set otherwise), no system-reserved, and evictionHard memory.available 100Mi.
CPU_RESERVED_RANGES = ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50), (4000, None, 25))  # per 10,000
EVICTION_HARD_MIB = 100
# nodeadm's max pods when its table lacks the type and EC2 cannot be asked (defaultMaxPods).
FALLBACK_MAX_PODS = 110
# The kubelet's memory capacity is what the kernel reports (MemTotal), less than the instance's nominal
# memory. Karpenter (aws/karpenter-provider-aws pkg/providers/instancetype/types.go `memory`) estimates
# it as nominal less 7.5 % (its vmMemoryOverheadPercent default), rounded up to MiB, and a further 64 MiB
# reserved by the kernel (CMA) on Graviton.
VM_MEMORY_OVERHEAD_PERCENT = Decimal("0.075")
ARM64_CMA_MIB = 64


def kube_reserved(instance: InstanceType) -> tuple[int, int]:
    """(millicores, MiB) nodeadm reserves for the kubelet and container runtime."""
    total = instance.vcpu * 1000
    cpu = 0
    for start, end, per_10000 in CPU_RESERVED_RANGES:
        if total > start:
            cpu += (min(total, end if end is not None else total) - start) * per_10000 // 10000
    max_pods = instance.max_pods if instance.max_pods is not None else FALLBACK_MAX_PODS
    return cpu, 11 * max_pods + 255


def allocatable(instance_type: str | InstanceType) -> tuple[int, int]:
    """(millicores, MiB) a node of this type offers pods: capacity less kube-reserved and the eviction threshold.

    Raises KeyError for a type not in the table (check with `lookup` first)."""
    instance = instance_type if isinstance(instance_type, InstanceType) else _types()[instance_type]
    reserved_cpu, reserved_mib = kube_reserved(instance)
    memory = instance.memory_mib - (ARM64_CMA_MIB if instance.architecture == "arm64" else 0)
    memory -= math.ceil(memory * VM_MEMORY_OVERHEAD_PERCENT)
    return instance.vcpu * 1000 - reserved_cpu, memory - reserved_mib - EVICTION_HARD_MIB


def profile_fit_problem(
    cpu_guarantee: str | int | float,
    mem_guarantee: str | int | float,
    instance_types: Sequence[str],
    daemonset_overhead: tuple[str | int | float, str | int | float] = (0, 0),
    pool_key: str = "instanceTypes",
) -> str | None:
    """Whether a server guaranteed this CPU and memory fits on every node its pool may start (the pool's
    smallest type for each), after nodeadm's reservations and the DaemonSets' requests (cpu, memory) on
    each node. `pool_key` names the pool's types in the fix. Unknown types are `pool_problem`'s to report;
    they are skipped here."""
    daemon_cpu, daemon_mib = millicores(daemonset_overhead[0]), mebibytes(daemonset_overhead[1])
    want_cpu, want_mib = millicores(cpu_guarantee), mebibytes(mem_guarantee)
    known = [_types()[name] for name in instance_types if name in _types()]
    if not known:
        return None
    offers = {t.name: allocatable(t) for t in known}
    smallest_cpu = min(known, key=lambda t: (offers[t.name][0], t.name))
    smallest_mem = min(known, key=lambda t: (offers[t.name][1], t.name))
    free_cpu = offers[smallest_cpu.name][0] - daemon_cpu
    free_mib = offers[smallest_mem.name][1] - daemon_mib
    if want_mib > free_mib:
        t = smallest_mem
        return (
            f"guarantees {_gib(want_mib)} of memory, but each {t.name} node has {_gib(free_mib)} for servers "
            f"({_gib(t.memory_mib)} less {_gib(t.memory_mib - offers[t.name][1])} for the system and kubelet and "
            f"{_gib(daemon_mib)} for DaemonSets), so the server would stay Pending; lower the guarantee to at most "
            f"{_gib(free_mib)} or use larger types in {pool_key}"
        )
    if want_cpu > free_cpu:
        t = smallest_cpu
        return (
            f"guarantees {want_cpu / 1000:g} CPU, but each {t.name} node has {free_cpu / 1000:g} for servers "
            f"({t.vcpu} vCPU less {(t.vcpu * 1000 - offers[t.name][0]) / 1000:g} reserved by the kubelet and "
            f"{daemon_cpu / 1000:g} for DaemonSets), so the server would stay Pending; lower the guarantee to at "
            f"most {free_cpu}m or use larger types in {pool_key}"
        )
    return None


def _gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"
