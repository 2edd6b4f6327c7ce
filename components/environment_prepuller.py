"""Pre-pulls the pinned environments of GPU profiles on GPU nodes, so a spawn on a warm GPU node does not
pull (docs/environments.md, "What a cold spawn costs").

Why not the chart's continuous image puller: z2jh 4.4.0 renders one DaemonSet
(templates/image-puller/_helpers-daemonset.tpl) on every user node it tolerates (scheduling.userPods
tolerations + singleuser.extraTolerations + prePuller.extraTolerations) that pulls singleuser.image, every
prePuller.extraImages entry and, with pullProfileListImages, every profile's image. GPU nodes carry the user
label and the GPU taint: tolerating that taint would pull the CUDA images onto every CPU node too, and not
tolerating it leaves GPU nodes cold. So the chart's puller covers the CPU user pool (the default environment
and the user pool's other profile environments, as extraImages), and this DaemonSet the GPU pool, with the
chart's puller's own pattern: each image an init container that runs `/bin/sh -c` and exits, then a pause
container; the chart's pause image and its restricted security context (prePuller.containerSecurityContext)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.pause_image import CHART_PAUSE_SECURITY_CONTEXT, PAUSE_IMAGE

# z2jh 4.4.0 values.yaml prePuller.containerSecurityContext, and a read-only root filesystem (an init container
# that echoes and a pause container write nothing).
PULLER_SECURITY_CONTEXT: dict[str, Any] = {**CHART_PAUSE_SECURITY_CONTEXT, "readOnlyRootFilesystem": True}
# The init container only starts a shell in the environment's image (the pull is the point); the pause container
# holds the pod. Small, bounded requests and limits so the puller never competes with a user's server.
PULL_RESOURCES = {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
PAUSE_RESOURCES = {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"cpu": "10m", "memory": "16Mi"}}
NAME = "gpu-environment-puller"


def gpu_prepuller(
    namespace: str,
    images: Mapping[str, str],
    *,
    node_selector: Mapping[str, str],
    tolerations: list[dict[str, str]],
) -> dict[str, Any]:
    """The DaemonSet (a plain manifest): one init container per environment `name -> image reference`."""
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "environment-puller"}
    init = [
        {
            "name": "pull-" + re.sub(r"[^a-z0-9-]", "-", name)[:50],
            "image": image,
            "command": ["/bin/sh", "-c", "echo Pulling complete"],
            "securityContext": copy.deepcopy(PULLER_SECURITY_CONTEXT),
            "resources": copy.deepcopy(PULL_RESOURCES),
        }
        for name, image in sorted(images.items())
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": dict(node_selector),
                    "tolerations": copy.deepcopy(tolerations),
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 0,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "initContainers": init,
                    "containers": [
                        {
                            "name": "pause",
                            "image": PAUSE_IMAGE,
                            "securityContext": copy.deepcopy(PULLER_SECURITY_CONTEXT),
                            "resources": copy.deepcopy(PAUSE_RESOURCES),
                        }
                    ],
                },
            },
        },
    }


@dataclass(frozen=True)
class GpuEnvironmentPullerArgs:
    namespace: pulumi.Input[str]
    images: Mapping[str, str]
    node_selector: Mapping[str, str]
    tolerations: list[dict[str, str]]
    provider: k8s.Provider


class GpuEnvironmentPuller(pulumi.ComponentResource):
    def __init__(self, name: str, args: GpuEnvironmentPullerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:k8s:GpuEnvironmentPuller", name, None, opts)
        manifest = pulumi.Output.from_input(args.namespace).apply(
            lambda namespace: gpu_prepuller(
                namespace, args.images, node_selector=args.node_selector, tolerations=args.tolerations
            )
        )
        k8s.apps.v1.DaemonSet(
            f"{name}-{NAME}",
            metadata=manifest.apply(lambda m: m["metadata"]),
            spec=manifest.apply(lambda m: m["spec"]),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.register_outputs({})
