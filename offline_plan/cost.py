"""What a stack costs, from the offline plan and a dated snapshot of AWS list prices
(data/prices/<region>.json): the monthly fixed cost by component, at the node groups' minimum and
desired sizes; the unit prices of what is billed by use (data processed, logs, storage); and the
cost of one more active user per server profile.

Every resource type the program declares must be classified here — priced (ESTIMATORS) or free
with the reason (FREE) — so a new billable type cannot be silently free (tests/test_cost.py).
Node prices are on-demand list prices: for Spot groups they are an upper bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from catalog.instance_types import allocatable, lookup, quantity_kib
from components.jupyterhub_values import kubespawner_kib
from components.warm_capacity_scaler import warm_hours_per_week
from components.warm_capacity_schedule import CONFIG as SCALER_CONFIG
from components.warm_capacity_schedule import NAME as SCALER_NAME
from offline_plan.dask_cost import dask_gateway_costs
from offline_plan.mock_engine import Inventory, Recorded

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT / "data" / "prices"
RELEASE = "kubernetes:helm.sh/v3:Release"
GIB_KIB = 1024 * 1024


HOURS_PER_MONTH = 730
"""The month AWS's pricing pages and calculator use (24 x 365 / 12)."""


def load_prices(region: str) -> dict[str, Any]:
    """The region's price snapshot; a region without one gets an empty snapshot, so its plan still
    runs and its cost estimate lists every item as unpriced (maintenance/prices.py --region creates one)."""
    path = PRICES / f"{region}.json"
    if not path.exists():
        return {
            "region": region,
            "currency": "USD",
            "snapshot": None,
            "hoursPerMonth": HOURS_PER_MONTH,
            "prices": {},
            "instances": {},
        }
    return json.loads(path.read_text())


def instance_hourly_usd(prices: dict[str, Any], instance_type: str) -> float | None:
    """The on-demand USD per hour of an instance type in the region's snapshot, or None where the snapshot has no
    price for it (a type it does not list, or lists with `usd: null`: most snapshots of regions no public source
    covers have entries without a price), so the estimate calls the item unpriced instead of failing."""
    usd = (prices["instances"].get(instance_type) or {}).get("usd")
    return None if usd is None else float(usd)


@dataclass
class Line:
    component: str
    item: str
    monthly_min: float | None
    """USD per month at the node groups' minimum sizes (None: price not in the snapshot)."""
    monthly_desired: float | None
    estimated: bool = False
    """A price not confirmed for the region (`verified: false` in the snapshot)."""
    detail: str = ""
    """What tells lines of the same item apart (listed when they are summed)."""


@dataclass
class UnitPrice:
    component: str
    item: str
    usd: float | None
    per: str
    estimated: bool = False


@dataclass
class UserCost:
    profile: str
    pool: str
    instance_type: str
    share: float
    """The fraction of a node one server reserves (its largest request against the node's allocatable)."""
    per_hour: float | None
    per_month_active: float | None
    storage_per_month: float | None
    capacity_type: str


@dataclass
class CostReport:
    stack: str
    region: str
    snapshot: str | None
    """The snapshot's date; None when the region has no snapshot file."""
    hours_per_month: int
    active_hours_per_month: int
    lines: list[Line] = field(default_factory=list)
    unit_prices: list[UnitPrice] = field(default_factory=list)
    users: list[UserCost] = field(default_factory=list)

    def total(self, which: str = "min") -> float:
        return sum((getattr(line, f"monthly_{which}") or 0.0) for line in self.lines)

    def unpriced(self) -> list[str]:
        """The fixed-cost items without a price (each once): the total leaves them out."""
        ordered = sorted(self.lines, key=lambda line: line.component)  # the table's order
        return list(dict.fromkeys(line.item for line in ordered if line.monthly_min is None))

    def by_component(self, which: str = "min") -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.component] = totals.get(line.component, 0.0) + (getattr(line, f"monthly_{which}") or 0.0)
        return totals

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "totalMin": self.total("min"),
            "totalDesired": self.total("desired"),
            "partial": bool(self.unpriced()),
            "unpriced": self.unpriced(),
        }


# ---- Classification of every declared type -----------------------------------------------------

FREE: dict[str, str] = {
    "pulumi:pulumi:Stack": "Pulumi's own",
    "pulumi:providers:kubernetes": "Pulumi's own",
    "random:index/randomId:RandomId": "generated locally",
    "random:index/randomPassword:RandomPassword": "generated locally",
    "aws:rds/subnetGroup:SubnetGroup": "free (the instance is priced)",
    "kubernetes:core/v1:Secret": "stored in the cluster",
    "kubernetes:core/v1:ResourceQuota": "a cluster object",
    "kubernetes:core/v1:LimitRange": "a cluster object",
    "kubernetes:traefik.io/v1alpha1:Middleware": "a cluster object",
    "aws:iam/role:Role": "IAM is free",
    "aws:iam/rolePolicy:RolePolicy": "IAM is free",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM is free",
    "aws:kms/alias:Alias": "aliases are free (the key is priced)",
    "aws:ec2/vpc:Vpc": "VPCs are free",
    "aws:ec2/subnet:Subnet": "subnets are free",
    "aws:ec2/route:Route": "routes are free",
    "aws:ec2/routeTable:RouteTable": "route tables are free",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "free",
    "aws:ec2/internetGateway:InternetGateway": "free (its data is billed as transfer out)",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security groups are free",
    "aws:ec2/securityGroup:SecurityGroup": "security groups are free",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "free",
    "aws:ec2/launchTemplate:LaunchTemplate": "free (its instances are priced with the node groups)",
    "aws:autoscaling/tag:Tag": "free",
    "aws:ec2/flowLog:FlowLog": "billed as log ingestion into its log group (priced there)",
    "aws:eks/addon:Addon": "EKS add-ons are free (their pods run on the priced nodes)",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": "free",
    "eks:index:Cluster": "priced as the aws:eks/cluster:Cluster it creates",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "free (transitions are per request)",
    "aws:s3/bucketLogging:BucketLogging": (
        "server access logging is free; its log files are storage, priced with the target bucket"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "free",
    "aws:s3/bucketPolicy:BucketPolicy": "free",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "free",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "free (bucket keys keep KMS requests few)"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "free (old versions are storage, priced with the bucket)",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "free",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "free",
    "aws:sns/topic:Topic": "the SNS free tier covers alert volumes; KMS requests are priced with the key",
    "aws:sns/topicPolicy:TopicPolicy": "free",
    "aws:sns/topicSubscription:TopicSubscription": "free (deliveries: SNS free tier covers alert volumes)",
    "aws:cloudwatch/eventRule:EventRule": "EventBridge rules on AWS service events are free",
    "aws:cloudwatch/eventTarget:EventTarget": "free",
    "aws:acm/certificate:Certificate": "public ACM certificates are free",
    "aws:acm/certificateValidation:CertificateValidation": "free",
    "aws:route53/record:Record": "records are free (the hosted zone is not the stack's)",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": "free",
    "aws:backup/selection:Selection": "free (recovery points priced with the vault)",
    "aws:backup/plan:Plan": "free (recovery points priced with the vault)",
    "aws:budgets/budget:Budget": "budgets without actions are free",
    "kubernetes:storage.k8s.io/v1:StorageClass": (
        "its volumes are priced with the hub (database) and per user (homes)"
    ),
    "kubernetes:core/v1:Namespace": "Kubernetes objects run on the priced nodes",
    "kubernetes:core/v1:NamespacePatch": "Kubernetes objects run on the priced nodes",
    "kubernetes:core/v1:ServiceAccount": "Kubernetes objects run on the priced nodes",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": "Kubernetes objects run on the priced nodes",
    "kubernetes:apps/v1:DeploymentPatch": "lockdown scales the hub down; nothing billed",
    "kubernetes:apps/v1:DaemonSet": (
        "the GPU environment puller: a pause pod per GPU node (1m CPU, 8Mi) on nodes priced with their group"
    ),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": "Kubernetes objects run on the priced nodes",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": "Kubernetes objects run on the priced nodes",
    "kubernetes:rbac.authorization.k8s.io/v1:Role": "Kubernetes objects run on the priced nodes",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": "Kubernetes objects run on the priced nodes",
    "kubernetes:core/v1:ConfigMap": "Kubernetes objects run on the priced nodes",
    "kubernetes:batch/v1:CronJob": (
        "the warm capacity's scaler and the home usage job: short runs on the priced core nodes"
    ),
}

Estimator = Callable[["_Context", Recorded], Iterator[Line | UnitPrice]]


@dataclass
class _Context:
    inventory: Inventory
    prices: dict[str, Any]
    kubernetes_support: Callable[[str], str]

    @property
    def hours(self) -> int:
        return int(self.prices["hoursPerMonth"])

    def price(self, key: str) -> tuple[float | None, bool]:
        """The price and whether it is unconfirmed; (None, False) when the snapshot lacks the item."""
        entry = self.prices["prices"].get(key)
        if entry is None:
            return None, False
        return entry["usd"], not entry["verified"]

    def component(self, resource: Recorded) -> str:
        return self.inventory.component_of(resource) or "(stack)"

    def monthly(self, resource: Recorded, item: str, key: str, count: float = 1.0) -> Line:
        usd, estimated = self.price(key)
        amount = None if usd is None else usd * count
        return Line(self.component(resource), item, amount, amount, estimated)

    def unit(self, resource: Recorded, item: str, key: str) -> UnitPrice:
        usd, estimated = self.price(key)
        per = (self.prices["prices"].get(key) or {}).get("per", "")
        return UnitPrice(self.component(resource), item, usd, per, estimated)


def _eks_cluster(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    version = str(resource.inputs.get("version"))
    yield ctx.monthly(resource, f"EKS control plane ({version})", "eks.cluster-hour", ctx.hours)
    if ctx.kubernetes_support(version) == "extended":
        yield ctx.monthly(resource, f"EKS extended support ({version})", "eks.extended-support-hour", ctx.hours)


def _nat(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    yield ctx.monthly(resource, "NAT gateway", "vpc.nat-gateway-hour", ctx.hours)
    yield ctx.unit(resource, "NAT gateway data processed", "vpc.nat-gateway-gb")


def _eip(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    yield ctx.monthly(resource, "public IPv4 address (NAT)", "vpc.public-ipv4-hour", ctx.hours)


def _endpoint(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    if resource.inputs.get("vpcEndpointType") != "Interface":
        return  # gateway endpoints (S3) are free
    zones = len(resource.inputs.get("subnetIds") or [])
    service = str(resource.inputs.get("serviceName", "")).rsplit(".", 1)[-1]
    line = ctx.monthly(
        resource, f"interface endpoints ({zones} AZ each)", "vpc.interface-endpoint-hour", ctx.hours * zones
    )
    line.detail = service
    yield line
    yield ctx.unit(resource, "interface endpoints data processed", "vpc.interface-endpoint-gb")


def _kms_key(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    yield ctx.monthly(resource, "KMS key", "kms.key-month")


def _log_group(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    name = str(resource.inputs.get("name", resource.name))
    vended = "flow" in resource.name
    yield ctx.unit(resource, f"logs {name} ingested", "logs.vended-ingestion-gb" if vended else "logs.ingestion-gb")
    yield ctx.unit(resource, f"logs {name} stored", "logs.storage-gb-month")


def _metric_filter(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    transformation = (resource.inputs.get("metricTransformation") or {}).get("name", "")
    yield ctx.unit(resource, f"custom metric {transformation} (per metric)", "cloudwatch.custom-metric-month")


def _alarm(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    # An anomaly detection alarm is billed as three metrics (the metric and the band's two bounds).
    metrics = 3 if resource.inputs.get("thresholdMetricId") else 1
    yield ctx.monthly(
        resource, "alarm" + (" (anomaly detection)" if metrics == 3 else ""), "cloudwatch.alarm-month", metrics
    )


def _dashboard(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    yield ctx.monthly(resource, "CloudWatch dashboard", "cloudwatch.dashboard-month")


def _bucket(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    yield ctx.unit(resource, f"S3 {resource.name} stored", "s3.standard-gb-month")


def _bucket_metric(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    yield ctx.unit(resource, "S3 request metrics (each a custom metric)", "cloudwatch.custom-metric-month")


def _repository(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    yield ctx.unit(resource, "ECR images stored", "ecr.storage-gb-month")


def _vault(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    yield ctx.unit(resource, "EBS recovery points (incremental snapshots)", "ebs.snapshot-gb-month")


def _trail_records(inputs: dict[str, Any]) -> set[str]:
    """The event categories a trail records: without selectors, management events only."""
    advanced = inputs.get("advancedEventSelectors") or []
    if advanced:
        return {
            value
            for selector in advanced
            for field in selector.get("fieldSelectors", [])
            if field.get("field") == "eventCategory"
            for value in field.get("equals", [])
        }
    basic = inputs.get("eventSelectors") or []
    if not basic:
        return {"Management"}
    categories = {"Data"} if any(s.get("dataResources") for s in basic) else set()
    return categories | ({"Management"} if any(s.get("includeManagementEvents", True) for s in basic) else set())


def _trail(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    records = _trail_records(resource.inputs)
    if "Management" in records:
        yield ctx.unit(
            resource,
            "CloudTrail management events if the account has another trail",
            "cloudtrail.extra-management-copy-100k",
        )
    if "Data" in records:
        # Every delivery of a data event is billed, the first included (CloudTrail pricing).
        yield ctx.unit(resource, "CloudTrail data events (every one billed)", "cloudtrail.data-events-100k")


def _node_group(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    scaling = resource.inputs["scalingConfig"]
    instance_type = resource.inputs["instanceTypes"][0]
    hourly = instance_hourly_usd(ctx.prices, instance_type)
    spot = resource.inputs.get("capacityType") == "SPOT"
    pool = (resource.inputs.get("labels") or {}).get("node-purpose", resource.name)
    label = f"{pool} node groups, {instance_type}" + (" (Spot: on-demand price, an upper bound)" if spot else "")
    usd = None if hourly is None else hourly * ctx.hours
    yield Line(
        ctx.component(resource),
        label,
        None if usd is None else usd * scaling["minSize"],
        None if usd is None else usd * scaling["desiredSize"],
    )
    disk = _root_disk_gib(ctx, resource)
    gp3, estimated = ctx.price("ebs.gp3-gb-month")
    if disk:
        yield Line(
            ctx.component(resource),
            f"{pool} node groups, root volumes {disk} GiB",
            None if gp3 is None else gp3 * disk * scaling["minSize"],
            None if gp3 is None else gp3 * disk * scaling["desiredSize"],
            estimated,
        )
    yield ctx.unit(resource, "GuardDuty runtime monitoring of these nodes", "guardduty.runtime-vcpu-month")


def _root_disk_gib(ctx: _Context, node_group: Recorded) -> int | None:
    template_id = (node_group.inputs.get("launchTemplate") or {}).get("id")
    for template in ctx.inventory.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        if template.id == template_id or template.outputs.get("id") == template_id:
            return int(template.inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"])
    return None


def _release(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    values = resource.inputs.get("values")
    if resource.inputs.get("chart") != "jupyterhub" or not isinstance(values, dict):
        return  # the autoscaler and device plugin run on the priced nodes
    service = values["proxy"]["service"]
    if service.get("type") != "LoadBalancer":
        return
    annotations = service.get("annotations") or {}
    nlb = annotations.get("service.beta.kubernetes.io/aws-load-balancer-type") == "nlb"
    component = ctx.component(resource)
    key = "elb.network-lb-hour" if nlb else "elb.classic-lb-hour"
    usd, estimated = ctx.price(key)
    amount = None if usd is None else usd * ctx.hours
    yield Line(component, "hub load balancer (" + ("NLB" if nlb else "Classic") + ")", amount, amount, estimated)
    # An internet-facing load balancer has a public IPv4 address in each public subnet (AZ).
    zones = len(
        [
            s
            for s in ctx.inventory.of_type("aws:ec2/subnet:Subnet")
            if s.inputs.get("tags", {}).get("kubernetes.io/role/elb")
        ]
    )
    ipv4, ipv4_estimated = ctx.price("vpc.public-ipv4-hour")
    if zones:
        addresses = None if ipv4 is None else ipv4 * ctx.hours * zones
        yield Line(component, f"hub load balancer public IPv4 x {zones}", addresses, addresses, ipv4_estimated)
    if nlb:
        yield ctx.unit(resource, "hub load balancer capacity units", "elb.network-lcu-hour")
    if (values["hub"].get("db") or {}).get("type") == "postgres":
        return  # the hub's database is on RDS (priced with the aws:rds/instance:Instance)
    # The hub's database volume (chart default 1Gi), from the same storage class.
    database_gib = quantity_kib(str(((values["hub"].get("db") or {}).get("pvc") or {}).get("storage", "1Gi"))) / GIB_KIB
    gp3, gp3_estimated = ctx.price("ebs.gp3-gb-month")
    database = None if gp3 is None else gp3 * database_gib
    yield Line(component, f"hub database volume {database_gib:g} GiB", database, database, gp3_estimated)
    yield ctx.unit(resource, "user home volumes (see per user)", "ebs.gp3-gb-month")


def _placeholders(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    """Warm capacity (components/warm_capacity.py): the user nodes a zone's placeholders hold all month, whether
    anyone comes or not (their pods request the default profile's guarantees)."""
    from catalog.capacity import node_fit
    from settings.capacity import daemonset_load

    spec = resource.inputs.get("spec") or {}
    pod = spec["template"]["spec"]
    if (spec["template"]["metadata"].get("labels") or {}).get("component") != "user-placeholder":
        return
    requests = pod["containers"][0]["resources"]["requests"]
    group = _pools(ctx.inventory).get("user")
    name = (resource.inputs.get("metadata") or {}).get("name", resource.name)
    schedule = _warm_schedule(ctx, name)
    replicas = schedule["replicas"] if schedule else spec.get("replicas")
    if group is None or not replicas:
        return
    # On a schedule the nodes run (and their root volumes exist) in the working hours only.
    share = warm_hours_per_week(schedule["schedule"]) / (7 * 24) if schedule else 1.0
    instance_type = group.inputs["instanceTypes"][0]
    per_node = node_fit(instance_type, requests["cpu"], requests["memory"], daemonset_load("user")).servers
    nodes = -(-int(replicas) // max(per_node, 1))
    hourly = instance_hourly_usd(ctx.prices, instance_type)
    usd = None if hourly is None else hourly * ctx.hours * share * nodes
    disk = _root_disk_gib(ctx, group)
    gp3, estimated = ctx.price("ebs.gp3-gb-month")
    if usd is not None and disk and gp3 is not None:
        usd += gp3 * disk * share * nodes
    zone = name.removeprefix("user-placeholder-")
    # The one line the plan gives the schedule: the hours it prices (capacity.warm.schedule), not the month's.
    hours = f", {ctx.hours * share:.0f} h scheduled" if schedule else ""
    item = f"warm capacity: nodes held by placeholders, {instance_type}{hours}"
    line = Line(ctx.component(resource), item, usd, usd)
    line.detail, line.estimated = zone, estimated
    yield line


def _warm_schedule(ctx: _Context, statefulset: str) -> dict[str, Any] | None:
    """The config of the warm capacity's schedule job (components/warm_capacity_schedule.py) that scales this
    StatefulSet, or None (placeholders all the time)."""
    for config_map in ctx.inventory.of_type("kubernetes:core/v1:ConfigMap"):
        if (config_map.inputs.get("metadata") or {}).get("name") != SCALER_NAME:
            continue
        config: dict[str, Any] = json.loads((config_map.inputs.get("data") or {})[SCALER_CONFIG])
        if statefulset in config["statefulSets"]:
            return config
    return None


def _rds_instance(ctx: _Context, resource: Recorded) -> Iterator[Line | UnitPrice]:
    """The hub's database: the instance-hours (a Multi-AZ instance bills two), its gp3 storage, its backups beyond
    the free storage equal to the database's size. Keys `rds.<engine>.<class>.<single-az|multi-az>-hour`."""
    inputs = resource.inputs
    multi = bool(inputs.get("multiAz"))
    deployment = "multi-az" if multi else "single-az"
    klass = inputs.get("instanceClass")
    yield ctx.monthly(
        resource,
        f"hub database RDS {inputs.get('engine')} {klass} ({'Multi-AZ' if multi else 'one zone'})",
        f"rds.{inputs.get('engine')}.{klass}.{deployment}-hour",
        ctx.hours,
    )
    yield ctx.monthly(
        resource,
        f"hub database storage {inputs.get('allocatedStorage')} GiB gp3 ({deployment})",
        f"rds.gp3-gb-month.{deployment}",
        float(inputs.get("allocatedStorage") or 0),
    )
    yield ctx.unit(resource, "hub database backups beyond its size", "rds.backup-gb-month")


ESTIMATORS: dict[str, Estimator] = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _endpoint,
    "aws:kms/key:Key": _kms_key,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": _metric_filter,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketMetric:BucketMetric": _bucket_metric,
    "aws:ecr/repository:Repository": _repository,
    "aws:backup/vault:Vault": _vault,
    "aws:cloudtrail/trail:Trail": _trail,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "kubernetes:helm.sh/v3:Release": _release,
    "kubernetes:apps/v1:StatefulSet": _placeholders,
    "aws:rds/instance:Instance": _rds_instance,
    # Dask Gateway: its pods run on the priced nodes (traefik stays ClusterIP: no load balancer).
    "kubernetes:helm.sh/v4:Chart": dask_gateway_costs,
}


def unclassified(inventory: Inventory) -> list[str]:
    """Declared types neither priced nor known to be free (components are not billed themselves)."""
    return sorted({r.type for r in inventory.resources if not r.type.startswith("jhub:")} - set(ESTIMATORS) - set(FREE))


# ---- One more active user --------------------------------------------------------------------------


def _pools(inventory: Inventory) -> dict[str, Recorded]:
    pools: dict[str, Recorded] = {}
    for group in inventory.of_type("aws:eks/nodeGroup:NodeGroup"):
        pools.setdefault(str((group.inputs.get("labels") or {}).get("node-purpose")), group)
    return pools


def user_costs(inventory: Inventory, prices: dict[str, Any], active_hours: int) -> list[UserCost]:
    release = next((r for r in inventory.of_type(RELEASE) if r.inputs.get("chart") == "jupyterhub"), None)
    values = release.inputs.get("values") if release else None
    if not isinstance(values, dict):
        return []
    single = values["singleuser"]
    base = {
        "cpu_guarantee": single.get("cpu", {}).get("guarantee", 0),
        "mem_guarantee": single.get("memory", {}).get("guarantee", "0M"),
    }
    profiles = single.get("profileList") or [{"slug": "default", "kubespawner_override": {}}]
    storage_gib = quantity_kib(str(single.get("storage", {}).get("capacity", "0Gi"))) / GIB_KIB
    gp3 = (prices["prices"].get("ebs.gp3-gb-month") or {}).get("usd")
    snapshot = (prices["prices"].get("ebs.snapshot-gb-month") or {}).get("usd")
    pools = _pools(inventory)
    costs = []
    for profile in profiles:
        override = {**base, **profile.get("kubespawner_override", {})}
        pool = str((override.get("node_selector") or {}).get("node-purpose", "user"))
        group = pools.get(pool)
        if group is None:
            continue
        instance_type = group.inputs["instanceTypes"][0]
        instance = prices["instances"].get(instance_type)
        hourly = instance_hourly_usd(prices, instance_type)
        if instance is None or hourly is None or lookup(instance_type) is None:
            costs.append(
                UserCost(
                    profile["slug"],
                    pool,
                    instance_type,
                    0.0,
                    None,
                    None,
                    None,
                    group.inputs.get("capacityType", "ON_DEMAND"),
                )
            )
            continue
        millicores, memory_mib = allocatable(instance_type)
        cpu, memory_kib = millicores / 1000, memory_mib * 1024
        gpus = float((override.get("extra_resource_limits") or {}).get("nvidia.com/gpu", 0))
        share = max(
            float(override.get("cpu_guarantee") or 0) / cpu,
            kubespawner_kib(override.get("mem_guarantee") or 0) / memory_kib,
            gpus / instance["gpus"] if instance["gpus"] else 0.0,
        )
        per_hour = share * hourly
        # A full snapshot: the upper bound.
        storage = None if gp3 is None or snapshot is None else storage_gib * gp3 + storage_gib * snapshot
        costs.append(
            UserCost(
                profile["slug"],
                pool,
                instance_type,
                share,
                per_hour,
                per_hour * active_hours,
                storage,
                group.inputs.get("capacityType", "ON_DEMAND"),
            )
        )
    return costs


def estimate(
    inventory: Inventory, prices: dict[str, Any], kubernetes_support: Callable[[str], str], active_hours: int
) -> CostReport:
    ctx = _Context(inventory, prices, kubernetes_support)
    report = CostReport(inventory.stack, prices["region"], prices["snapshot"], ctx.hours, active_hours)
    for resource in inventory.resources:
        estimator = ESTIMATORS.get(resource.type)
        if estimator is None:
            continue
        for entry in estimator(ctx, resource):
            if isinstance(entry, Line):
                report.lines.append(entry)
            else:
                report.unit_prices.append(entry)
    report.users = user_costs(inventory, prices, active_hours)
    return report


# ---- Rendering -------------------------------------------------------------------------------------


def _summed(lines: Iterator[Line]) -> list[tuple[str, list[Line]]]:
    groups: dict[str, list[Line]] = {}
    for line in lines:
        groups.setdefault(line.item, []).append(line)
    return list(groups.items())


def _sum(amounts: Iterator[float | None]) -> float | None:
    values = list(amounts)
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _usd(amount: float | None) -> str:
    return "   (no price)" if amount is None else f"{amount:>12,.2f}"


def _partial_note(report: CostReport) -> str:
    """What the total leaves out, and how to price it (empty when the total is complete)."""
    unpriced = report.unpriced()
    if not unpriced:
        return ""
    where = f"data/prices/{report.region}.json" + ("" if report.snapshot else " (no such file)")
    return (
        f"  PARTIAL: leaves out {len(unpriced)} item(s) without a price in {where}: {'; '.join(unpriced)} "
        f"(add them: python -m maintenance.prices --region {report.region}, with AWS credentials)"
    )


def render(report: CostReport) -> str:
    prices = f"snapshot {report.snapshot}" if report.snapshot else "NO price snapshot for the region"
    lines = [
        f"Monthly cost of '{report.stack}' (USD, AWS list prices in {report.region}, {prices}; "
        f"{report.hours_per_month} h a month; * = price not confirmed for the region)",
        f"  {'fixed cost by component':<78} {'min nodes':>12} {'desired':>12}",
    ]
    by_min, by_desired = report.by_component("min"), report.by_component("desired")
    for component in sorted(by_min):
        lines.append(f"  {component:<78} {by_min[component]:>12,.2f} {by_desired[component]:>12,.2f}")
        for item, group in _summed(x for x in report.lines if x.component == component):
            mark = "*" if any(x.estimated for x in group) else " "
            label = item if len(group) == 1 else f"{item} x {len(group)}"
            details = sorted({x.detail for x in group if x.detail})
            label += f": {', '.join(details)}" if details else ""
            lines.append(
                f"    {label[:75]:<75}{mark} {_usd(_sum(x.monthly_min for x in group))} "
                f"{_usd(_sum(x.monthly_desired for x in group))}"
            )
    total = f"  {'TOTAL fixed per month':<78} {report.total('min'):>12,.2f} {report.total('desired'):>12,.2f}"
    lines.append(total + _partial_note(report))
    lines.append("  billed by use (unit prices):")
    seen: set[tuple[str, str]] = set()
    for unit in report.unit_prices:
        if (unit.item, unit.per) in seen:
            continue
        seen.add((unit.item, unit.per))
        price = "price not in snapshot" if unit.usd is None else f"{unit.usd:g} per {unit.per}"
        lines.append(f"    {unit.component:<16} {unit.item[:60]:<60} {price}{' *' if unit.estimated else ''}")
    lines.append(
        f"  one more active user ({report.active_hours_per_month} h of server a month, "
        "cost.activeHoursPerMonth), per profile:"
    )
    for user in report.users:
        if user.per_hour is None:
            lines.append(f"    {user.profile:<16} on {user.instance_type}: instance type not in the price snapshot")
            continue
        spot = " (Spot: less)" if user.capacity_type == "SPOT" else ""
        storage = "no price" if user.storage_per_month is None else f"{user.storage_per_month:,.2f}/month"
        lines.append(
            f"    {user.profile:<16} {user.share:6.1%} of a {user.instance_type} ({user.pool} pool): "
            f"{user.per_hour:.3f}/h = {user.per_month_active or 0:,.2f}/month{spot}, + home volume and its "
            f"backups {storage}"
        )
    return "\n".join(lines)
