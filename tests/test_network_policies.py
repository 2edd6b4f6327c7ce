"""Strict NetworkPolicy enforcement (VPC CNI): every pod that needs the network is selected by a
policy, and that policy exists before whatever installs the pod.

Modelled from the agent's behaviour (aws-network-policy-agent: a pod in strict mode starts
DEFAULT_DENY and stays so while no policy selects it, kubelet probes included; hostNetwork pods are
never attached), over the pods of data/pods/contract.yaml."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
import yaml

from components.cluster import vpc_cni_configuration
from components.jupyterhub import RELEASE_NAME
from components.network_policies import KUBERNETES_API_CLUSTER_IP, KUBERNETES_SERVICE_CIDR
from offline_plan.deploy_graph import DeployGraph
from offline_plan.mock_engine import Inventory, Recorded
from offline_plan.reachability import contract_pods
from tests.conftest import ROOT

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

# The chart's own policies (z2jh 4.4.0 templates/*/netpol.yaml), by the values that enable them.
CHART_POLICIES = {
    "hub": ("hub", "networkPolicy"),
    "proxy": ("proxy", "chp", "networkPolicy"),
    "autohttps": ("proxy", "traefik", "networkPolicy"),
    "singleuser-server": ("singleuser", "networkPolicy"),
}


def _hub(plan: Inventory) -> tuple[str, dict[str, Any]]:
    (release,) = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == RELEASE_NAME]
    return release.inputs["namespace"], release.inputs["values"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"model handles matchLabels only: {selector}"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def covering_policies(plan: Inventory, pod: dict[str, Any]) -> list[str]:
    """URNs (or `chart:<component>`) of the policies that select the pod and allow it some traffic
    (a default deny selects every pod too, and leaves it none)."""
    found = [
        policy.urn
        for policy in plan.of_type(NETWORK_POLICY)
        if policy.inputs["metadata"].get("namespace") == pod["namespace"]
        and _selects(policy.inputs["spec"]["podSelector"], pod["labels"])
        and (policy.inputs["spec"].get("ingress") or policy.inputs["spec"].get("egress"))
    ]
    namespace, values = _hub(plan)
    component = pod["labels"].get("component")
    if pod["namespace"] == namespace and component in CHART_POLICIES:
        setting: Any = values
        for key in CHART_POLICIES[component]:
            setting = setting.get(key, {})
        if setting.get("enabled", True):  # the chart's default is true
            found.append(f"chart:{component}")
    return found


def test_vpc_cni_enforces_in_strict_mode() -> None:
    configuration = vpc_cni_configuration()
    assert configuration["enableNetworkPolicy"] == "true"
    assert configuration["env"] == {"NETWORK_POLICY_ENFORCING_MODE": "strict"}  # type: ignore[comparison-overlap]


def test_every_pod_that_needs_the_network_is_selected_by_a_policy(plan: Inventory) -> None:
    uncovered = [
        f"{pod['namespace']}/{pod['name']}"
        for pod in contract_pods(plan)
        if not pod["hostNetwork"] and pod.get("needsNetwork", True) and not covering_policies(plan, pod)
    ]
    assert not uncovered, f"denied for good under strict enforcement: {uncovered}"


def _installer(plan: Inventory, installed_by: str) -> Recorded:
    for resource in plan.of_type("aws:eks/addon:Addon"):
        if resource.inputs["addonName"] == installed_by:
            return resource
    for kind in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"):
        for resource in plan.of_type(kind):
            if resource.inputs.get("name") == installed_by:
                return resource
    raise LookupError(installed_by)


def test_each_policy_is_in_place_before_its_pods_can_start(plan: Inventory) -> None:
    graph = DeployGraph(plan)
    for pod in contract_pods(plan):
        if pod["hostNetwork"] or not pod.get("needsNetwork", True) or "installedBy" not in pod:
            continue
        policies = covering_policies(plan, pod)
        if any(p.startswith("chart:") for p in policies):
            continue  # installed with the pods, by the same release
        installer = _installer(plan, pod["installedBy"])
        assert set(policies) & graph.waits_for(installer.urn), (
            f"{installer.name} may start {pod['name']} before its policy exists"
        )


def test_user_scheduler_reaches_only_the_api_and_dns(plan: Inventory) -> None:
    (policy,) = [p for p in plan.of_type(NETWORK_POLICY) if p.inputs["metadata"]["name"] == "user-scheduler"]
    spec = policy.inputs["spec"]
    assert spec["ingress"] == [] and set(spec["policyTypes"]) == {"Ingress", "Egress"}
    api, dns = spec["egress"]
    assert {"ipBlock": {"cidr": f"{KUBERNETES_API_CLUSTER_IP}/32"}} in api["to"]
    assert api["ports"] == [{"protocol": "TCP", "port": 443}]
    assert all("ipBlock" not in peer for peer in dns["to"])
    cluster = plan.one("eks:index:Cluster")
    assert cluster.inputs["kubernetesServiceIpAddressRange"] == KUBERNETES_SERVICE_CIDR


@pytest.mark.parametrize(("component", "policy"), [("hub", "hub"), ("singleuser-server", "user-servers")])
def test_the_coverage_check_bites(plans: dict[str, Inventory], component: str, policy: str) -> None:
    """Without the program's policy for a component (the chart's are off), its pods are uncovered."""
    import dataclasses

    plan = plans["dev"]
    without = dataclasses.replace(
        plan,
        resources=[
            r for r in plan.resources if not (r.type == NETWORK_POLICY and r.inputs["metadata"]["name"] == policy)
        ],
    )
    pod = next(p for p in contract_pods(without) if p["labels"].get("component") == component)
    assert covering_policies(plan, pod) and not covering_policies(without, pod)


def test_the_checklist_refuses_standard_enforcement_and_no_system_policy_reads_as_lockdown(plan: Inventory) -> None:
    import dataclasses
    import json

    from offline_plan.plan import checklist_view
    from policies.checklist import network_policies_enforced

    view = checklist_view(plan)
    assert network_policies_enforced(view) == []  # the allow-all system policies are no lockdown
    standard = []
    for resource in view:
        if resource.type == "aws:eks/addon:Addon" and resource.props.get("addonName") == "vpc-cni":
            configuration = json.loads(resource.props["configurationValues"])
            configuration["env"]["NETWORK_POLICY_ENFORCING_MODE"] = "standard"
            resource = dataclasses.replace(
                resource, props={**resource.props, "configurationValues": json.dumps(configuration)}
            )
        standard.append(resource)
    assert any("standard" in v.message for v in network_policies_enforced(standard))


# Namespaces an AWS service also creates (the CloudWatch add-on, GuardDuty's agent add-on). Since
# pulumi-kubernetes 4.29 (#2926) a Namespace resource is created client-side and fails with
# AlreadyExists when the namespace is there; a Patch resource applies server-side: it creates the
# namespace or adopts it, and never deletes it.
SHARED_NAMESPACES = ("amazon-cloudwatch", "amazon-guardduty")


def test_namespaces_shared_with_aws_services_are_patched_not_owned(plan: Inventory) -> None:
    owned = {r.inputs["metadata"]["name"] for r in plan.of_type("kubernetes:core/v1:Namespace")}
    patched = {r.inputs["metadata"]["name"] for r in plan.of_type("kubernetes:core/v1:NamespacePatch")}
    assert not owned & set(SHARED_NAMESPACES)
    assert set(SHARED_NAMESPACES) <= patched
    for namespace in SHARED_NAMESPACES:
        pod = next(p for p in contract_pods(plan) if p["namespace"] == namespace and not p["hostNetwork"])
        assert covering_policies(plan, pod), namespace


def test_the_label_contract_was_read_from_the_versions_the_stack_runs(plan: Inventory) -> None:
    """The policies select on labels the chart and KubeSpawner set; a version bump that changes a
    label would silently open or close the hub. So the contract names its versions, and a stack on
    another version fails here until the contract is read again."""
    versions = yaml.safe_load((ROOT / "data" / "pods" / "contract.yaml").read_text())["versions"]
    (hub,) = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == RELEASE_NAME]
    (autoscaler,) = [
        r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == "cluster-autoscaler"
    ]
    assert hub.inputs["version"] == versions["jupyterhubChart"]
    assert autoscaler.inputs["version"] == versions["clusterAutoscalerChart"]
    assert (ROOT / "data" / "charts" / f"jupyterhub-{versions['jupyterhubChart']}").is_dir()


# ---- The VPC CNI agent keys its eBPF maps by pod name, not by pod ---------------------------------
# aws-network-policy-agent (pkg/utils/utils.go GetPodIdentifier, at c8619c0, 2026-08) attaches one
# pair of maps per "pod identifier" on a node: the pod's name without its last `-segment`, plus its
# namespace, and fills them with the rules of every policy selecting any pod of that identifier
# (controllers/policyendpoints_controller.go). For pods a controller names
# (`<deployment>-<rs-hash>-<id>`, `<daemonset>-<id>`, `<statefulset>-<n>`) that is one workload. For
# KubeSpawner's bare pods (`jupyter-{username}`, no ownerReferences; aws-network-policy-agent#327,
# "does not support standalone pods") it is every user whose name has no `-` (`jupyter`), or
# users sharing a prefix (`jupyter-alice` for alice-smith and alice-jones). So the VPC CNI enforces
# the hub's policies exactly only while every policy that selects one user server selects them all:
# a per-user or per-profile policy would give its rules to other users' pods on the same node.
# (2i2c moved to Calico for this, 2i2c-org/infrastructure#5818.) The rule is checked here.

USERS = ("alice", "bob", "alice-smith", "alice-jones", "x")


def agent_pod_identifier(pod_name: str, namespace: str) -> str:
    """GetPodIdentifier, as the agent computes it."""
    name = pod_name.replace(".", "_")
    if "-" in name:
        name = "-".join(name.split("-")[:-1])
    return f"{name}@{namespace}"


def named_pods(plan: Inventory) -> list[dict[str, Any]]:
    """The contract's pods with the names Kubernetes or KubeSpawner gives them (two replicas each;
    user servers for USERS, with their per-user labels)."""
    _, values = _hub(plan)
    template = values["singleuser"]["podNameTemplate"]
    pods = []
    for pod in contract_pods(plan):
        if pod["hostNetwork"]:
            continue
        if pod.get("podNames"):  # bare pods a controller names (Dask Gateway's schedulers and workers)
            pods += [dict(pod, name=name) for name in pod["podNames"]]
            continue
        owner = pod.get("owner", "Deployment")
        if owner == "none":
            for user in USERS:  # names KubeSpawner's safe_slug keeps as they are
                labels = dict(pod["labels"], **{"hub.jupyter.org/username": user, "hub.jupyter.org/servername": ""})
                pods.append(dict(pod, name=template.format(username=user), labels=labels))
            continue
        names = {
            "Deployment": [f"{pod['name']}-7d4b9c8f6-{n}" for n in ("x2kqp", "9wz4r")],
            "DaemonSet": [f"{pod['name']}-{n}" for n in ("x2kqp", "9wz4r")],
            "StatefulSet": [f"{pod['name']}-{n}" for n in ("0", "1")],
            "CronJob": [f"{pod['name']}-29412345-{n}" for n in ("x2kqp", "9wz4r")],  # <cronjob>-<minute>-<job's pod>
        }[owner]
        pods += [dict(pod, name=name) for name in names]
    return pods


def _selecting(plan: Inventory, pod: dict[str, Any]) -> frozenset[str]:
    return frozenset(
        policy.inputs["metadata"]["name"]
        for policy in plan.of_type(NETWORK_POLICY)
        if policy.inputs["metadata"].get("namespace") == pod["namespace"]
        and _selects(policy.inputs["spec"]["podSelector"], pod["labels"])
    )


def pods_sharing_maps_with_other_policies(plan: Inventory) -> list[str]:
    """Pods the agent puts under one identifier while different policies select them."""
    groups: dict[str, dict[frozenset[str], list[str]]] = {}
    for pod in named_pods(plan):
        identifier = agent_pod_identifier(pod["name"], pod["namespace"])
        groups.setdefault(identifier, {}).setdefault(_selecting(plan, pod), []).append(pod["name"])
    return [
        f"{identifier}: " + "; ".join(f"{sorted(names)} by {sorted(policies)}" for policies, names in by.items())
        for identifier, by in groups.items()
        if len(by) > 1
    ]


def test_pods_the_vpc_cni_agent_groups_are_selected_by_the_same_policies(plan: Inventory) -> None:
    assert pods_sharing_maps_with_other_policies(plan) == []
    identifiers = {agent_pod_identifier(p["name"], p["namespace"]) for p in named_pods(plan)}
    assert "jupyter@jupyterhub" in identifiers and "jupyter-alice@jupyterhub" in identifiers


def test_agent_grouping_check_bites(plans: dict[str, Inventory]) -> None:
    """A policy for one user's server (or one profile's) would leak its rules to other users."""
    plan = plans["dev"]
    (user_policy,) = [p for p in plan.of_type(NETWORK_POLICY) if p.inputs["metadata"]["name"] == "user-servers"]
    only_alice = copy.deepcopy(user_policy)
    only_alice.inputs["metadata"]["name"] = "alice-extra-egress"
    only_alice.inputs["spec"]["podSelector"]["matchLabels"]["hub.jupyter.org/username"] = "alice"
    mutated = dataclasses.replace(plan, resources=[*plan.resources, only_alice])
    (problem,) = pods_sharing_maps_with_other_policies(mutated)
    assert problem.startswith("jupyter@jupyterhub: ") and "alice-extra-egress" in problem
    assert agent_pod_identifier("hub-7d4b9c8f6-x2kqp", "jupyterhub") == "hub-7d4b9c8f6@jupyterhub"
    assert agent_pod_identifier("jupyter-bob", "jupyterhub") == "jupyter@jupyterhub"
