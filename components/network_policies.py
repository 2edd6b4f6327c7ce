"""NetworkPolicies that keep the cluster's own pods working under strict enforcement.

The VPC CNI runs with NETWORK_POLICY_ENFORCING_MODE=strict (components/cluster.py): a new pod gets
no traffic until its policies are programmed (in `standard` mode it is open until then). The price:
a pod that no policy selects stays denied for good, kubelet probes included, hostNetwork pods
excepted (amazon-vpc-cni-k8s README, "NETWORK_POLICY_ENFORCING_MODE"; EKS user guide: "this
requirement applies to the CoreDNS pods"). So every other pod the platform runs is selected by a
policy, declared before the pod can start. The pods and their labels are data:
data/pods/contract.yaml; tests/test_network_policies.py checks each one is covered. The hub
namespace's own policies (the user-scheduler's among them) are components/hub_network_policies.py.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from settings import KUBERNETES_SERVICE_CIDR

# The service range the cluster is created with (components/cluster.py): the `kubernetes` Service
# takes its first address. Pods reach the API through that ClusterIP, and the policy agent sees the
# ClusterIP, not the control plane's addresses (aws-network-policy-agent#553,
# opentelemetry-operator#5621).
KUBERNETES_API_CLUSTER_IP = str(next(ipaddress.IPv4Network(KUBERNETES_SERVICE_CIDR).hosts()))

CLUSTER_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


def allow_all_in_namespace(namespace: str) -> dict[str, Any]:
    """Every pod of a system namespace keeps the traffic it had in `standard` mode; what strict adds
    there is that no pod sends or receives anything before its policy is in place."""
    return {
        "metadata": {"name": "allow-system-pods", "namespace": namespace},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{}],
            "egress": [{}],
        },
    }


def declare(name: str, policy: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """The policy as its own Kubernetes object (shown as a resource in `pulumi preview`)."""
    return k8s.networking.v1.NetworkPolicy(name, metadata=policy["metadata"], spec=policy["spec"], opts=opts)
