"""A checker for the Pod Security Standard "restricted" profile, limited to the fields the user pods'
security contexts set (https://kubernetes.io/docs/concepts/security/pod-security-standards/)."""

from __future__ import annotations

from typing import Any

ALLOWED_ADDED_CAPABILITIES = {"NET_BIND_SERVICE"}
ALLOWED_SECCOMP = {"RuntimeDefault", "Localhost"}


def restricted_violations(pod: dict[str, Any], container: dict[str, Any]) -> list[str]:
    problems = []
    if container.get("privileged"):
        problems.append("privileged container")
    if container.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation must be false")
    capabilities = container.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        problems.append("capabilities must drop ALL")
    added = set(capabilities.get("add") or []) - ALLOWED_ADDED_CAPABILITIES
    if added:
        problems.append(f"capabilities added: {sorted(added)}")
    if not (container.get("runAsNonRoot") or (pod.get("runAsNonRoot") and container.get("runAsNonRoot") is not False)):
        problems.append("runAsNonRoot must be true")
    if container.get("runAsUser", pod.get("runAsUser")) == 0:
        problems.append("runAsUser must not be 0")
    seccomp = (container.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
    if seccomp not in ALLOWED_SECCOMP:
        problems.append(f"seccompProfile must be RuntimeDefault or Localhost, not {seccomp}")
    return problems
