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


# The pod-level rules (baseline's and restricted's) a pod template can break besides its security
# contexts: the charts' pods bring volumes, ports and host settings the user pods do not.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
ALLOWED_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def _selinux_violations(where: str, context: dict[str, Any]) -> list[str]:
    options = context.get("seLinuxOptions") or {}
    problems = []
    if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
        problems.append(f"{where}seLinuxOptions.type {options['type']} not allowed")
    if options.get("user") or options.get("role"):
        problems.append(f"{where}seLinuxOptions user/role must not be set")
    if (context.get("appArmorProfile") or {}).get("type") == "Unconfined":
        problems.append(f"{where}appArmorProfile Unconfined")
    return problems


def pod_restricted_violations(spec: dict[str, Any]) -> dict[str, list[str]]:
    """Why "restricted" would refuse a pod with this spec, by "pod" and by container name (the
    standard's rules on the pod spec; AppArmor annotations, which sit in the pod's metadata, are not
    read)."""
    pod = spec.get("securityContext") or {}
    found: dict[str, list[str]] = {}
    problems = [f"{field} must not be set" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if kinds - RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} of type {sorted(kinds)} (hostPath and others refused)")
    unsafe = sorted({s["name"] for s in pod.get("sysctls") or []} - SAFE_SYSCTLS)
    if unsafe:
        problems.append(f"unsafe sysctls {unsafe}")
    problems += _selinux_violations("pod ", pod)
    if problems:
        found["pod"] = problems
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            context = container.get("securityContext") or {}
            problems = restricted_violations(pod, context)
            problems += [f"hostPort {p['hostPort']}" for p in container.get("ports") or [] if p.get("hostPort")]
            if context.get("procMount", "Default") != "Default":
                problems.append(f"procMount {context['procMount']}")
            problems += _selinux_violations("", context)
            if problems:
                found[container["name"]] = problems
    return found
