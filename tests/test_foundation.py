"""Properties a security reviewer checks in the foundation, asserted on what the real program
declares for every stack file (see conftest.py)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster import CONTROL_PLANE_LOG_TYPES
from offline_plan.mock_engine import STACKS, Inventory, Recorded
from settings import AUTOSCALER_CHARTS
from tests.conftest import key_arn, run_plan, stack_config

KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
CLUSTER = "eks:index:Cluster"
ADDON = "aws:eks/addon:Addon"


def by_id(plan: Inventory) -> dict[str, Recorded]:
    return {r.id: r for r in plan.resources if r.id}


def policy(document: str) -> dict[str, Any]:
    return json.loads(document)


# ---- Encryption ----------------------------------------------------------------------------------


def test_every_key_rotates_and_waits_30_days(plan: Inventory) -> None:
    keys = plan.of_type(KEY)
    assert {k.name.rsplit("-", 1)[-1] for k in keys} >= {"secrets", "logs", "data"}
    for key in keys:
        assert key.inputs["enableKeyRotation"] is True, key.name
        assert key.inputs["deletionWindowInDays"] == 30, key.name


def test_logs_key_lets_cloudwatch_logs_of_this_account_encrypt(plan: Inventory) -> None:
    region = stack_config(plan)["aws:region"]
    statements = policy(plan.one(KEY, "-logs").inputs["policy"])["Statement"]
    grant = next(s for s in statements if s.get("Principal", {}).get("Service") == f"logs.{region}.amazonaws.com")
    assert "kms:GenerateDataKey*" in grant["Action"]
    assert grant["Condition"]["StringLike"]["kms:EncryptionContext:aws:logs:arn"].startswith(
        f"arn:aws:logs:{region}:123456789012:log-group:"
    )


def test_volume_key_lets_auto_scaling_launch_encrypted_nodes(plan: Inventory) -> None:
    statements = policy(plan.one(KEY, "user-data").inputs["policy"])["Statement"]
    slr = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    granted = {
        action
        for s in statements
        if s.get("Principal", {}).get("AWS") == slr
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"kms:GenerateDataKey*", "kms:Decrypt", "kms:CreateGrant", "kms:ReEncrypt*"} <= granted


def test_every_log_group_is_encrypted_with_the_logs_key_and_expires(plan: Inventory) -> None:
    logs_key = key_arn(plan, "-logs")
    for group in plan.of_type(LOG_GROUP):
        assert group.inputs["kmsKeyId"] == logs_key, group.name
        assert group.inputs["retentionInDays"] > 0, group.name


def test_keys_survive_destroy_only_where_data_is_retained(plan: Inventory) -> None:
    retained = stack_config(plan)["jhub-eks:data"]["retainOnDestroy"]
    assert retained is (plan.stack == "prod")
    for key in plan.of_type(KEY):
        assert key.retain_on_delete is retained, key.name


# ---- Cluster -------------------------------------------------------------------------------------


def test_control_plane_logs_all_five_types_into_our_log_group(plan: Inventory) -> None:
    cluster = plan.one(CLUSTER)
    assert sorted(cluster.inputs["enabledClusterLogTypes"]) == sorted(CONTROL_PLANE_LOG_TYPES)
    assert set(CONTROL_PLANE_LOG_TYPES) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    log_group = next(
        g for g in plan.of_type(LOG_GROUP) if g.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
    )
    # Created first, so EKS does not create an unencrypted, never-expiring group of the same name.
    assert log_group.urn in cluster.dependencies


def test_kubernetes_secrets_are_envelope_encrypted_with_the_secrets_key(plan: Inventory) -> None:
    cluster = plan.one(CLUSTER)
    assert cluster.inputs["encryptionConfigKeyArn"] == key_arn(plan, "k8s-secrets")
    role_policy = plan.one("aws:iam/rolePolicy:RolePolicy", "control-plane-secrets-key")
    resources = {s["Resource"] for s in policy(role_policy.inputs["policy"])["Statement"]}
    assert resources == {key_arn(plan, "k8s-secrets")}


def test_api_endpoint_is_private_and_never_open_to_the_world(plan: Inventory) -> None:
    cluster = plan.one(CLUSTER)
    assert cluster.inputs["endpointPrivateAccess"] is True
    cidrs = cluster.inputs.get("publicAccessCidrs", [])
    if cluster.inputs["endpointPublicAccess"]:
        assert cidrs, "public endpoint without CIDR limits is open to 0.0.0.0/0"
    assert all(ipaddress.IPv4Network(c).prefixlen > 0 for c in cidrs)
    if plan.stack == "prod":
        assert cluster.inputs["endpointPublicAccess"] is False or cidrs


def _ingress_admits(rule: dict[str, Any], port: int, source_group: str | None, source_ip: str | None) -> bool:
    """EC2 semantics of one ingress rule (aws.vpc.SecurityGroupIngressRule) for a TCP connection."""
    if rule["ipProtocol"] not in ("tcp", "-1"):
        return False
    if rule["ipProtocol"] == "tcp" and not rule["fromPort"] <= port <= rule["toPort"]:
        return False
    if "referencedSecurityGroupId" in rule:
        return rule["referencedSecurityGroupId"] == source_group
    if "cidrIpv4" in rule and source_ip is not None:
        return ipaddress.IPv4Address(source_ip) in ipaddress.IPv4Network(rule["cidrIpv4"])
    return False


def _api_reachable(plan: Inventory, source_group: str | None = None, source_ip: str | None = None) -> bool:
    """Can a host reach the private API endpoint on 443? Its ENIs carry the security groups of the
    control plane's vpcConfig: the ones passed in (none, with pulumi-eks's defaults skipped) and the
    one EKS creates, which admits its own members only unless rules are added to it."""
    eks_cluster = plan.one("aws:eks/cluster:Cluster")
    vpc_config = eks_cluster.outputs["vpcConfig"]
    assert not vpc_config.get("securityGroupIds"), "the test models only EKS's own group on the ENIs"
    eni_groups = {vpc_config["clusterSecurityGroupId"]}
    rules = [r.inputs for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
    return any(
        _ingress_admits(rule, 443, source_group, source_ip) for rule in rules if rule["securityGroupId"] in eni_groups
    )


def test_private_endpoint_admits_exactly_the_configured_deployers(plan: Inventory) -> None:
    access = stack_config(plan)["jhub-eks:cluster"].get("privateEndpointAccess", {})
    if plan.stack == "prod":
        assert not plan.one(CLUSTER).inputs["endpointPublicAccess"]
        assert access.get("securityGroupIds") or access.get("cidrs"), "a private-only API must admit its deployer"
    for group in access.get("securityGroupIds", []):
        assert _api_reachable(plan, source_group=group), f"runner group {group} cannot reach the API"
    for cidr in access.get("cidrs", []):
        host = str(next(ipaddress.IPv4Network(cidr).hosts()))
        assert _api_reachable(plan, source_ip=host), f"{cidr} cannot reach the API"
    # Nothing else: another group, or an address outside the listed networks, is not admitted.
    assert not _api_reachable(plan, source_group="sg-0ffffffffffffffff")
    assert not _api_reachable(plan, source_ip="192.0.2.10")


def test_the_kubernetes_provider_waits_for_the_rules_that_let_it_reach_the_api(plan: Inventory) -> None:
    """The provider checks the cluster once per run; unreachable then, it skips every Kubernetes
    resource of the run. With a private-only endpoint the 443 rules must be in place first."""
    (provider,) = plan.of_type("pulumi:providers:kubernetes")
    # The rules that admit 443 (the API); not, say, the hub database's 5432 (components/hub_database.py).
    rules = [
        rule
        for rule in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if rule.inputs.get("fromPort", 0) <= 443 <= rule.inputs.get("toPort", 65535)
    ]
    if plan.stack == "prod":
        assert rules
    for rule in rules:
        assert rule.urn in provider.dependencies, f"the provider may connect before {rule.name}"


def test_access_entries_only_and_admins_from_settings(plan: Inventory) -> None:
    cluster = plan.one(CLUSTER)
    assert cluster.inputs["authenticationMode"] == "API"
    admins = {e["principalArn"] for e in cluster.inputs["accessEntries"].values()}
    assert admins == set(stack_config(plan)["jhub-eks:cluster"]["adminRoleArns"])
    assert cluster.inputs["createOidcProvider"] is True
    assert cluster.inputs["skipDefaultNodeGroup"] is True


def test_vpc_cni_enforces_network_policies_with_its_own_irsa_role(plan: Inventory) -> None:
    cni = next(a for a in plan.of_type(ADDON) if a.inputs["addonName"] == "vpc-cni")
    assert json.loads(cni.inputs["configurationValues"])["enableNetworkPolicy"] == "true"
    roles = {f"arn:aws:iam::123456789012:role/{r.name}": r for r in plan.of_type(ROLE)}
    trust = policy(roles[cni.inputs["serviceAccountRoleArn"]].inputs["assumeRolePolicy"])
    conditions = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:aws-node" in conditions.values()
    # The cluster's own default CNI is replaced, not doubled.
    assert plan.one(CLUSTER).inputs["useDefaultVpcCni"] is True


def test_every_irsa_role_trusts_one_exact_service_account_of_this_cluster(plan: Inventory) -> None:
    provider_arn = plan.outputs["oidc_provider_arn"]
    issuer = provider_arn.split("oidc-provider/", 1)[1]
    irsa = [r for r in plan.of_type(ROLE) if "AssumeRoleWithWebIdentity" in r.inputs["assumeRolePolicy"]]
    assert len(irsa) >= 3  # vpc-cni, ebs-csi, cluster-autoscaler
    for role in irsa:
        (statement,) = policy(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Federated": provider_arn}
        assert set(statement["Condition"]) == {"StringEquals"}, "no StringLike / wildcard trust"
        equals = statement["Condition"]["StringEquals"]
        assert equals[f"{issuer}:aud"] == "sts.amazonaws.com"
        subject = equals[f"{issuer}:sub"]
        assert subject.startswith("system:serviceaccount:") and "*" not in subject, role.name


def _groups(plan: Inventory, purpose: str) -> list[Recorded]:
    return [g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if g.inputs["labels"]["node-purpose"] == purpose]


def test_in_cluster_addons_wait_for_core_nodes(plan: Inventory) -> None:
    # Checked on each resource: a component's own depends_on does not reach its children.
    for core in _groups(plan, "core"):
        for addon in ("coredns", "aws-ebs-csi-driver"):
            resource = next(a for a in plan.of_type(ADDON) if a.inputs["addonName"] == addon)
            assert core.urn in resource.dependencies, addon
        assert core.urn in plan.one("kubernetes:helm.sh/v3:Release", "cluster-autoscaler").dependencies


def test_nodes_join_after_the_cni_enforces_policies(plan: Inventory) -> None:
    cni = next(a for a in plan.of_type(ADDON) if a.inputs["addonName"] == "vpc-cni")
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert cni.urn in group.dependencies, group.name


# ---- Node groups ---------------------------------------------------------------------------------


def test_every_node_group_uses_imdsv2_hop_limit_1_and_encrypted_root_volumes(plan: Inventory) -> None:
    templates = {t.id: t for t in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
    groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    config = stack_config(plan)
    # core, user (, gpu) (, Dask workers): one group per zone.
    pools = 2 + ("gpu" in config["jhub-eks:nodeGroups"]) + config.get("jhub-eks:daskGateway", {}).get("enabled", False)
    assert len(groups) == pools * len(stack_config(plan)["jhub-eks:network"]["availabilityZones"])
    for group in groups:
        template = templates[group.inputs["launchTemplate"]["id"]]
        metadata = template.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required"
        assert metadata["httpPutResponseHopLimit"] == 1
        (root,) = template.inputs["blockDeviceMappings"]
        assert root["ebs"]["encrypted"] == "true"
        assert root["ebs"]["kmsKeyId"] == key_arn(plan, "user-data")
        assert root["ebs"]["volumeType"] == "gp3"
        assert "keyName" not in template.inputs, "no SSH key on nodes"
        assert "remoteAccess" not in group.inputs


def _private_subnet_ids(plan: Inventory) -> set[str]:
    """Subnets whose route table sends 0.0.0.0/0 to a NAT gateway (not an internet gateway)."""
    nat_tables = {
        r.inputs["routeTableId"]
        for r in plan.of_type("aws:ec2/route:Route")
        if r.inputs.get("destinationCidrBlock") == "0.0.0.0/0" and "natGatewayId" in r.inputs
    }
    return {
        a.inputs["subnetId"]
        for a in plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.inputs["routeTableId"] in nat_tables
    }


def test_nodes_and_control_plane_live_in_private_subnets_only(plan: Inventory) -> None:
    private = _private_subnet_ids(plan)
    assert len(private) == len(stack_config(plan)["jhub-eks:network"]["availabilityZones"])
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert set(group.inputs["subnetIds"]) <= private, group.name
    assert set(plan.one(CLUSTER).inputs["privateSubnetIds"]) == private


def _subnet_zones(plan: Inventory) -> dict[str, str]:
    return {s.id: s.inputs["availabilityZone"] for s in plan.of_type("aws:ec2/subnet:Subnet")}


@pytest.mark.parametrize("purpose", ["core", "user"])
def test_one_node_group_per_zone_so_the_autoscaler_can_follow_a_zonal_volume(plan: Inventory, purpose: str) -> None:
    # EBS volumes (user homes, the hub database) are zonal: a pending pod can only use a node in its
    # volume's zone, and cluster-autoscaler can only add one there if a group lives in that zone alone.
    zones = stack_config(plan)["jhub-eks:network"]["availabilityZones"]
    subnet_zones = _subnet_zones(plan)
    groups = _groups(plan, purpose)
    group_zones = []
    for group in groups:
        (zone,) = {subnet_zones[s] for s in group.inputs["subnetIds"]}
        group_zones.append(zone)
    assert sorted(group_zones) == sorted(zones)
    settings = stack_config(plan)["jhub-eks:nodeGroups"][purpose]
    scaling = [g.inputs["scalingConfig"] for g in groups]
    assert sum(c["minSize"] for c in scaling) == settings["minSize"]
    assert sum(c["desiredSize"] for c in scaling) == settings["desiredSize"]
    assert all(c["maxSize"] == settings["maxSize"] for c in scaling)
    values = plan.one("kubernetes:helm.sh/v3:Release", "cluster-autoscaler").inputs["values"]
    assert values["extraArgs"]["balance-similar-node-groups"] is True


def test_user_nodes_are_labelled_and_tainted_for_user_pods(plan: Inventory) -> None:
    for user in _groups(plan, "user"):
        assert user.inputs["labels"]["hub.jupyter.org/node-purpose"] == "user"
        taint = {"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NO_SCHEDULE"}
        assert user.inputs["taints"] == [taint]
    for core in _groups(plan, "core"):
        assert "taints" not in core.inputs or not core.inputs["taints"]


def test_user_group_can_scale_through_cluster_autoscaler(plan: Inventory) -> None:
    release = plan.one("kubernetes:helm.sh/v3:Release", "cluster-autoscaler")
    values = release.inputs["values"]
    cluster_name = plan.one(CLUSTER).inputs["name"]
    assert values["autoDiscovery"]["clusterName"] == cluster_name
    role_arn = values["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    role_name = role_arn.rsplit("/", 1)[-1]
    inline = plan.one("aws:iam/rolePolicy:RolePolicy", f"{role_name}-inline")
    statements = policy(inline.inputs["policy"])["Statement"]
    resize = next(s for s in statements if "autoscaling:SetDesiredCapacity" in s["Action"])
    # May resize only the groups EKS tagged as owned by this cluster.
    assert resize["Condition"]["StringEquals"] == {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}
    assert any(s["Action"] == "eks:DescribeNodegroup" for s in statements), "needed to scale the user group from 0"


def test_autoscaler_chart_rbac_lets_its_image_start_on_this_kubernetes(plan: Inventory) -> None:
    """cluster-autoscaler 1.33 blocks at start until every informer cache syncs, and from 1.32 it informs
    on VolumeAttachments: a chart whose ClusterRole cannot list/watch one of them never scales. The
    ClusterRole and image of each chart version are data read from the chart's source."""
    release = plan.one("kubernetes:helm.sh/v3:Release", "cluster-autoscaler")
    chart = AUTOSCALER_CHARTS["charts"][release.inputs["version"]]
    kubernetes_minor = plan.one(CLUSTER).inputs["version"]
    assert chart["appVersion"].rsplit(".", 1)[0] == kubernetes_minor
    image_tag = release.inputs["values"]["image"]["tag"]
    assert image_tag.removeprefix("v").rsplit(".", 1)[0] == kubernetes_minor
    watched = AUTOSCALER_CHARTS["watchedByAutoscaler"]["storage.k8s.io"]
    assert "volumeattachments" in watched
    assert set(watched) <= set(chart["storageResources"])
    assert release.inputs["values"]["awsRegion"], "chart 9.46.4+ defaults awsRegion to empty: AWS_REGION unset"


# ---- Storage -------------------------------------------------------------------------------------


def test_default_storage_class_is_encrypted_gp3_with_the_user_data_key(plan: Inventory) -> None:
    storage_class = plan.one("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage_class.inputs["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert storage_class.inputs["provisioner"] == "ebs.csi.aws.com"
    parameters = storage_class.inputs["parameters"]
    assert {k: v for k, v in parameters.items() if not k.startswith("tagSpecification_")} == {
        "type": "gp3",
        "encrypted": "true",
        "kmsKeyId": key_arn(plan, "user-data"),
    }
    # The volume tags: the backup selection's (tests/test_backups.py) and the cost tags (test_cost_tags.py).
    assert {v.split("=", 1)[0] for k, v in parameters.items() if k.startswith("tagSpecification_")} == {
        "jhub-eks/backup",
        "project",
        "stack",
        "environment",
        "component",
    }
    expected = "Retain" if plan.stack == "prod" else "Delete"
    assert storage_class.inputs["reclaimPolicy"] == expected
    csi = next(a for a in plan.of_type(ADDON) if a.inputs["addonName"] == "aws-ebs-csi-driver")
    assert csi.inputs["serviceAccountRoleArn"].startswith("arn:aws:iam::123456789012:role/")


# ---- Network -------------------------------------------------------------------------------------


def test_vpc_endpoints_keep_aws_traffic_private(plan: Inventory) -> None:
    region = stack_config(plan)["aws:region"]
    endpoints = {
        e.inputs["serviceName"].removeprefix(f"com.amazonaws.{region}."): e
        for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    assert endpoints["s3"].inputs["vpcEndpointType"] == "Gateway"
    assert len(endpoints["s3"].inputs["routeTableIds"]) == len(_private_subnet_ids(plan))
    for service in ("ecr.api", "ecr.dkr", "sts", "logs", "ec2"):
        endpoint = endpoints[service]
        assert endpoint.inputs["vpcEndpointType"] == "Interface"
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert set(endpoint.inputs["subnetIds"]) == _private_subnet_ids(plan)


def test_endpoint_security_group_admits_only_https_from_the_vpc(plan: Inventory) -> None:
    vpc_cidr = plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"]
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", "endpoints")
    (rule,) = group.inputs["ingress"]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"], rule["cidrBlocks"]) == ("tcp", 443, 443, [vpc_cidr])
    assert group.inputs.get("egress", []) == []


def test_nat_gateways_per_environment(plan: Inventory) -> None:
    zones = stack_config(plan)["jhub-eks:network"]["availabilityZones"]
    expected = len(zones) if plan.stack == "prod" else 1
    assert len(plan.of_type("aws:ec2/natGateway:NatGateway")) == expected


def test_public_subnets_only_for_load_balancers(plan: Inventory) -> None:
    private = _private_subnet_ids(plan)
    for subnet in plan.of_type("aws:ec2/subnet:Subnet"):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
        role_tag = "kubernetes.io/role/internal-elb" if subnet.id in private else "kubernetes.io/role/elb"
        assert subnet.inputs["tags"][role_tag] == "1", subnet.name


def test_vpc_flow_logs_go_to_an_encrypted_log_group(plan: Inventory) -> None:
    flow_log = plan.one("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    groups = {
        f"arn:aws:logs:{stack_config(plan)['aws:region']}:123456789012:log-group:{g.inputs['name']}": g
        for g in plan.of_type(LOG_GROUP)
    }
    assert groups[flow_log.inputs["logDestination"]].inputs["kmsKeyId"] == key_arn(plan, "-logs")


def test_default_security_group_admits_nothing(plan: Inventory) -> None:
    default = plan.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs.get("ingress", []) == [] and default.inputs.get("egress", []) == []


# ---- Secrets -------------------------------------------------------------------------------------


def test_kubeconfig_is_a_secret_output_and_provider_input(plan: Inventory) -> None:
    assert "kubeconfig" in plan.secret_outputs
    provider = plan.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs


def test_node_groups_run_the_ami_release_aws_recommends_or_the_pinned_one(plan: Inventory) -> None:
    """The release comes from the public SSM parameter of each AMI type (the harness answers only the
    names AWS publishes, as SSM does: a wrong name fails the plan), unless nodeGroups.amiRelease pins one."""
    from offline_plan.mock_engine import AMI_RELEASE_DATE

    version = stack_config(plan)["jhub-eks:cluster"]["kubernetesVersion"]
    pinned = stack_config(plan)["jhub-eks:nodeGroups"].get("amiRelease", "latest")
    expected = f"{version}.5-{AMI_RELEASE_DATE}" if pinned == "latest" else pinned
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert group.inputs["releaseVersion"] == expected, group.name
        assert group.inputs["version"] == version
        assert group.inputs["updateConfig"] == {"maxUnavailable": 1}  # one node at a time per group
        assert group.inputs.get("forceUpdateVersion") is False  # drains respect disruption budgets
    # Where the release came from, in the plan's outputs.
    sources = plan.outputs["node_ami_releases"]
    assert {s["release"] for s in sources.values()} == {expected}
    if pinned == "latest":
        assert all(s["source"].startswith(f"SSM /aws/service/eks/optimized-ami/{version}/") for s in sources.values())


def test_a_pinned_release_is_used_as_written(tmp_path: Path) -> None:
    document = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    document["config"]["jhub-eks:nodeGroups"]["amiRelease"] = "1.35.2-20260301"
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    out = tmp_path / "plan.json"
    result = run_plan("dev", out, stack_file)
    assert result.returncode == 0, result.stdout + result.stderr
    plan = Inventory.from_json(json.loads(out.read_text()))
    assert {g.inputs["releaseVersion"] for g in plan.of_type("aws:eks/nodeGroup:NodeGroup")} == {"1.35.2-20260301"}
    assert (
        plan.outputs["node_ami_releases"]["AL2023_x86_64_STANDARD"]["source"]
        == "jhub-eks:nodeGroups.amiRelease (pinned)"
    )


def test_the_offline_ssm_answers_only_the_published_parameter_names() -> None:
    from components.node_groups import NVIDIA_AMI, STANDARD_AMI
    from offline_plan.mock_engine import EKS_AMI_RELEASE_PARAMETER
    from settings import ami_release_parameter

    for ami_type in (STANDARD_AMI, NVIDIA_AMI):
        assert EKS_AMI_RELEASE_PARAMETER.fullmatch(ami_release_parameter(ami_type, "1.33"))
    wrong = "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/gpu/recommended/release_version"
    assert not EKS_AMI_RELEASE_PARAMETER.fullmatch(wrong)
