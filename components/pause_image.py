"""The pause image of the program's own placeholder and puller pods, pinned by digest: the image the z2jh 4.4.0
chart gives its own (values.yaml scheduling.userPlaceholder.image, prePuller.pause.image), so the nodes already
pull it for the chart's pods. Where the digest comes from: data/kubernetes/pause-image.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "kubernetes" / "pause-image.json"
_IMAGE = json.loads(DATA.read_text())
PAUSE_IMAGE = f"{_IMAGE['image']}:{_IMAGE['tag']}@{_IMAGE['digest']}"
# The container security context the chart gives its own pause pods: values.yaml
# scheduling.userPlaceholder.containerSecurityContext and prePuller.containerSecurityContext, which are equal
# (nobody, Pod Security restricted).
CHART_PAUSE_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
