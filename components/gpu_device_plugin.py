"""The NVIDIA device plugin on the GPU nodes: it advertises their GPUs as `nvidia.com/gpu` so GPU
profiles can request them (the EKS AL2023 NVIDIA AMI has the driver and container toolkit, not the
plugin). The official chart, pinned; optional time-slicing (several servers per GPU)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.node_groups import GPU_NODE_TAINT, USER_NODE_TAINT

DEVICE_PLUGIN_REPOSITORY = "https://nvidia.github.io/k8s-device-plugin"
DEVICE_PLUGIN_RELEASE = "nvidia-device-plugin"
DEVICE_PLUGIN_NAMESPACE = "kube-system"
TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule"}


def _toleration(taint: tuple[str, str, str]) -> dict[str, str]:
    key, value, effect = taint
    return {"key": key, "operator": "Equal", "value": value, "effect": TAINT_EFFECTS[effect]}


def device_plugin_values(time_slicing_replicas: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        # GPU nodes only (they also carry nvidia.com/gpu.present=true, which the chart's default
        # affinity requires; nodeadm sets that label itself only from Kubernetes 1.35).
        "nodeSelector": {"node-purpose": "gpu"},
        # The chart's defaults, plus the user-node taint GPU nodes carry besides the GPU taint.
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            _toleration(GPU_NODE_TAINT),
            _toleration(USER_NODE_TAINT),
        ],
        # The EKS AL2023 NVIDIA AMIs since v20260423 set the container toolkit's
        # accept-nvidia-visible-devices-envvar-when-unprivileged = false, so the plugin gets the
        # driver injected only with CAP_SYS_ADMIN (awslabs/amazon-eks-ami#2706,
        # NVIDIA/k8s-device-plugin#856). Written out here rather than left to the chart's helper,
        # which adds it only with a config map; not privileged, nothing else added.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
        },
        # The same AMI setting means the default `envvar` strategy (NVIDIA_VISIBLE_DEVICES) gives an
        # unprivileged container no GPU, and user servers drop every capability. With `cdi-cri` the
        # kubelet passes the allocated devices as CDI names in the CRI request and containerd injects
        # them itself (nodeadm enables CDI in containerd from Kubernetes 1.32: nodeadm/internal/
        # containerd/config.go; the chart mounts /var/run/cdi for the plugin's specs).
        "deviceListStrategy": "cdi-cri",
        # With a CDI strategy the plugin builds its CDI spec from the driver it finds at /driver-root in
        # its container, which the chart mounts (read-only, from the host) only when this is set; without
        # it the plugin finds no libcuda.so, exits "unable to create cdi spec file" and no node advertises
        # nvidia.com/gpu (NVIDIA/k8s-device-plugin#621; docs/cdi.md). The AL2023 NVIDIA AMI installs the
        # driver from packages into / (amazon-eks-ami install-nvidia-driver.sh), so / is the root, which
        # also sets NVIDIA_DRIVER_ROOT, the host root the spec's paths are written for.
        "nvidiaDriverRoot": "/",
    }
    if time_slicing_replicas > 1:
        config = {
            "version": "v1",
            "sharing": {
                "timeSlicing": {
                    # Keep the resource name, so profiles ask for nvidia.com/gpu either way; a
                    # request for two shares of one GPU is refused rather than silently useless.
                    "renameByDefault": False,
                    "failRequestsGreaterThanOne": True,
                    "resources": [{"name": "nvidia.com/gpu", "replicas": time_slicing_replicas}],
                }
            },
        }
        values["config"] = {"map": {"default": yaml.safe_dump(config, sort_keys=False)}, "default": "default"}
    return values


@dataclass(frozen=True)
class GpuDevicePluginArgs:
    provider: k8s.Provider
    chart_version: str
    time_slicing_replicas: int
    wait_for: Sequence[pulumi.Resource] = ()
    """kube-system's NetworkPolicy (strict enforcement denies a pod no policy selects)."""


class GpuDevicePlugin(pulumi.ComponentResource):
    def __init__(self, name: str, args: GpuDevicePluginArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:k8s:GpuDevicePlugin", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-nvidia-device-plugin",
            name=DEVICE_PLUGIN_RELEASE,
            chart="nvidia-device-plugin",
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=DEVICE_PLUGIN_REPOSITORY),
            namespace=DEVICE_PLUGIN_NAMESPACE,
            values=device_plugin_values(args.time_slicing_replicas),
            # A DaemonSet with no GPU node yet is ready at once; the pool scales from zero.
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.wait_for)),
        )
        self.register_outputs({})
