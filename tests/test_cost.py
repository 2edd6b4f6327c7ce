"""The cost estimate (offline_plan/cost.py): nothing the program declares is silently free, the fixed cost
follows the stack's settings (counted here from the settings, not from the estimator's own reading
of the plan), and one more active user costs the share of a node their profile reserves."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog import instance_types
from offline_plan import cost
from offline_plan.mock_engine import Inventory, Recorded
from policies import checklist
from settings import NetworkSettings
from tests.conftest import ROOT

PRICES = cost.load_prices("eu-west-1")
HOURS = PRICES["hoursPerMonth"]


def price(key: str) -> float:
    return float(PRICES["prices"][key]["usd"])


def config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


def report(plan: Inventory, active_hours: int = 160) -> cost.CostReport:
    return cost.estimate(plan, PRICES, checklist.support_phase, active_hours)


# ---- Nothing new is silently free ----------------------------------------------------------------


def test_every_declared_type_is_priced_or_known_to_be_free(
    plans: dict[str, Inventory], variant_plans: dict[str, Inventory]
) -> None:
    for name, plan in {**plans, **variant_plans}.items():
        assert cost.unclassified(plan) == [], name


def test_a_new_billable_type_fails_the_check(plans: dict[str, Inventory]) -> None:
    plan = plans["dev"]
    database = Recorded(
        type="aws:elasticache/cluster:Cluster", name="db", urn="urn:db", parent="", custom=True, inputs={}
    )
    mutated = Inventory(plan.stack, [*plan.resources, database], plan.outputs, plan.secret_outputs)
    assert cost.unclassified(mutated) == ["aws:elasticache/cluster:Cluster"]


def test_every_instance_type_a_stack_runs_has_a_price_and_a_size(plans: dict[str, Inventory]) -> None:
    for stack, plan in plans.items():
        prices = cost.load_prices(config(stack)["aws:region"])  # the stack's own region
        for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
            for instance_type in group.inputs["instanceTypes"]:
                instance = prices["instances"].get(instance_type)
                assert instance and instance["usd"] > 0 and instance["vcpu"] and instance["memoryMib"], instance_type


def test_the_snapshot_says_where_each_price_comes_from() -> None:
    assert date.fromisoformat(PRICES["snapshot"])
    for key, entry in {**PRICES["prices"], **PRICES["instances"]}.items():
        assert entry["source"] and entry["serviceCode"] and isinstance(entry["verified"], bool), key
        # A price the refresh tool cannot look up again is not a snapshot price.
        assert entry["filters"] or entry["usd"] is None or key.startswith(("kms.", "budgets.")), key
        assert entry["usd"] is not None or not entry["verified"], f"{key}: no price yet marked verified"


# ---- The fixed cost follows the settings ---------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_network_cost_is_nat_gateways_their_addresses_and_endpoints_per_zone(
    plans: dict[str, Inventory], stack: str
) -> None:
    network = config(stack)["jhub-eks:network"]
    zones = len(network["availabilityZones"])
    nats = zones if network["natGateways"] == "perAz" else 1
    # The stack's list, or the settings' default one.
    default = NetworkSettings.model_fields["interface_endpoints"].get_default(call_default_factory=True)
    endpoints = len(network.get("interfaceEndpoints", default))
    expected = HOURS * (
        nats * (price("vpc.nat-gateway-hour") + price("vpc.public-ipv4-hour"))
        + endpoints * zones * price("vpc.interface-endpoint-hour")
    )
    assert report(plans[stack]).by_component()["Network"] == pytest.approx(expected)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_node_cost_at_minimum_and_desired_sizes(plans: dict[str, Inventory], stack: str) -> None:
    groups = config(stack)["jhub-eks:nodeGroups"]
    for which, size in (("min", "minSize"), ("desired", "desiredSize")):
        expected = sum(
            group[size] * (PRICES["instances"][group["instanceTypes"][0]]["usd"] * HOURS)
            + group[size] * group["diskSizeGib"] * price("ebs.gp3-gb-month")
            for group in groups.values()
            if isinstance(group, dict) and "instanceTypes" in group
        )
        assert report(plans[stack]).by_component(which)["NodeGroups"] == pytest.approx(expected), which


def test_the_control_plane_costs_more_in_extended_support(
    plans: dict[str, Inventory], monkeypatch: pytest.MonkeyPatch
) -> None:
    standard = report(plans["dev"]).by_component()["Cluster"]
    assert standard == pytest.approx(price("eks.cluster-hour") * HOURS)
    monkeypatch.setattr(checklist, "today", lambda: date(2027, 4, 1))  # 1.35 left standard support 2027-03-27
    extended = report(plans["dev"]).by_component()["Cluster"]
    assert extended == pytest.approx((price("eks.cluster-hour") + price("eks.extended-support-hour")) * HOURS)


def test_the_hub_load_balancer_and_its_addresses(plans: dict[str, Inventory]) -> None:
    for stack, plan in plans.items():
        zones = len(config(stack)["jhub-eks:network"]["availabilityZones"])
        items = {line.item: line.monthly_min for line in report(plan).lines if line.component == "JupyterHub"}
        assert items["hub load balancer (NLB)"] == pytest.approx(price("elb.network-lb-hour") * HOURS)
        assert items[f"hub load balancer public IPv4 x {zones}"] == pytest.approx(
            price("vpc.public-ipv4-hour") * HOURS * zones
        )


# ---- One more active user ------------------------------------------------------------------------


def test_each_profile_costs_its_share_of_a_node(plans: dict[str, Inventory]) -> None:
    users = {u.profile: u for u in report(plans["prod"], active_hours=100).users}
    standard, large, gpu = users["standard"], users["large"], users["gpu"]
    assert 0 < standard.share < large.share < 1
    assert gpu.share == 1.0 and gpu.instance_type == "g5.xlarge"  # one GPU of a one-GPU node
    assert gpu.per_month_active == pytest.approx(PRICES["instances"]["g5.xlarge"]["usd"] * 100)
    capacity_gib = 20  # prod's userServers.storageCapacity
    assert standard.storage_per_month == pytest.approx(
        capacity_gib * (price("ebs.gp3-gb-month") + price("ebs.snapshot-gb-month"))
    )


def test_a_memory_bound_profile_is_priced_by_memory(plans: dict[str, Inventory]) -> None:
    (user,) = [u for u in report(plans["dev"]).users if u.profile == "large"]
    millicores, memory_mib = instance_types.allocatable("t3.xlarge")  # tests/test_instance_types.py
    # large: 1 CPU, 2G guaranteed on a t3.xlarge: the CPU share (1/3.92) is larger than the memory share.
    assert user.share == pytest.approx(max(1000 / millicores, 2 * 1024 / memory_mib))


# ---- What the plan prints and writes -------------------------------------------------------------


def test_the_plan_prints_the_cost_and_writes_it(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = subprocess.run(
        [sys.executable, "-m", "offline_plan.plan", "prod", "--out", str(out), "--no-reachability"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Monthly cost of 'prod'" in result.stdout
    assert "TOTAL fixed per month" in result.stdout
    assert "one more active user" in result.stdout and "gpu" in result.stdout
    written = json.loads((tmp_path / "cost-prod.json").read_text())
    assert written["totalMin"] > 0 and written["totalDesired"] >= written["totalMin"]
    assert {u["profile"] for u in written["users"]} == {"standard", "large", "curator", "gpu"}


# ---- The refresh tool (maintenance/prices.py), against GetProducts' response shape ----------------------


def _product(
    sku: str, *tiers: tuple[str, str], usagetype: str = "", region: str = "eu-west-1", **attributes: str
) -> str:
    """One GetProducts PriceList item (a JSON string), as the Price List Query API returns it."""
    dimensions = {
        f"{sku}.JRTCKXETXF.{i}": {"beginRange": begin, "endRange": "Inf", "unit": "Hrs", "pricePerUnit": {"USD": usd}}
        for i, (begin, usd) in enumerate(tiers)
    }
    return json.dumps(
        {
            "product": {"sku": sku, "attributes": {"regionCode": region, "usagetype": usagetype, **attributes}},
            "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"priceDimensions": dimensions}}},
        }
    )


class _PriceList:
    """The Price List Query API over a list of products: TERM_MATCH (case-insensitive equality, as the
    API does) and CONTAINS (substring) on product attributes, in pages of two with a NextToken."""

    def __init__(self, products: dict[str, list[str]]) -> None:
        self.products = products  # by service code
        self.calls: list[dict[str, Any]] = []

    def get_products(self, ServiceCode: str, Filters: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:  # noqa: N803
        self.calls.append({"service": ServiceCode, **{f"{f['Type']}:{f['Field']}": f["Value"] for f in Filters}})
        assert {f["Type"] for f in Filters} <= {"TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF"}

        def matches(item: str) -> bool:
            attributes = json.loads(item)["product"]["attributes"]
            for f in Filters:
                value = str(attributes.get(f["Field"], ""))
                if f["Type"] == "CONTAINS" and f["Value"] not in value:
                    return False
                if f["Type"] == "TERM_MATCH" and f["Value"].lower() != value.lower():
                    return False
            return True

        found = [item for item in self.products.get(ServiceCode, []) if matches(item)]
        start = int(kwargs.get("NextToken", 0))
        page = {"PriceList": found[start : start + 2]}
        return page | ({"NextToken": str(start + 2)} if start + 2 < len(found) else {})


def test_refresh_reads_the_first_tier_and_marks_the_entry_verified() -> None:
    from maintenance import prices

    snapshot = {
        "region": "eu-west-1",
        "snapshot": "2026-01-01",
        "prices": {
            "vpc.interface-endpoint-gb": {
                "usd": None,
                "verified": False,
                "serviceCode": "AmazonVPC",
                "filters": {"productFamily": "VpcEndpoint", "usagetype": "EU-VpcEndpoint-Bytes"},
                "source": "",
            },
            "kms.key-month": {"usd": 1.0, "verified": True, "serviceCode": "awskms", "filters": {}, "source": "x"},
        },
        "instances": {},
    }
    endpoint_bytes = _product(
        "ABC", ("1048576", "0.006"), ("0", "0.01"), usagetype="EU-VpcEndpoint-Bytes", productFamily="VpcEndpoint"
    )
    # Another region's product, and a longer usage type in the region: neither is the entry's.
    others = [
        _product("USE", ("0", "0.01"), usagetype="VpcEndpoint-Bytes", region="us-east-1", productFamily="VpcEndpoint"),
        _product("GWLB", ("0", "0.0035"), usagetype="EU-VpcEndpoint-Bytes-GWLB", productFamily="VpcEndpoint"),
    ]
    client = _PriceList({"AmazonVPC": [*others, endpoint_bytes]})
    prices.refresh(snapshot, client, date(2027, 1, 5))
    entry = snapshot["prices"]["vpc.interface-endpoint-gb"]
    assert (entry["usd"], entry["verified"], snapshot["snapshot"]) == (0.01, True, "2027-01-05")
    # The region is named twice: regionCode, and the usage type's prefix (asked for without it).
    assert client.calls[0] == {
        "service": "AmazonVPC",
        "TERM_MATCH:productFamily": "VpcEndpoint",
        "CONTAINS:usagetype": "VpcEndpoint-Bytes",
        "TERM_MATCH:regionCode": "eu-west-1",
    }
    # Two products for one entry: its filters are not exact, and nothing is guessed.
    twice = _product("B", ("0", "0.02"), usagetype="EU-VpcEndpoint-Bytes", productFamily="VpcEndpoint")
    client = _PriceList({"AmazonVPC": [endpoint_bytes, twice]})
    with pytest.raises(prices.PriceLookupError, match="2 products"):
        prices.refresh(snapshot, client, date(2027, 1, 5))
    assert prices.endpoint_region("eu-west-1") == "eu-central-1"


def _region_offer(region: str, prefix: str) -> dict[str, list[str]]:
    """A few of a region's products as the Price List has them: EC2 usage types without a prefix in
    us-east-1 (`BoxUsage:t3.large`), other services' with one (`USE1-AmazonEKS-Hours:perCluster`)."""
    ec2_prefix = "" if region == "us-east-1" else prefix
    box = {"productFamily": "Compute Instance", "operatingSystem": "Linux", "tenancy": "Shared"}
    box |= {"preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required"}
    box |= {"marketoption": "OnDemand", "instanceType": "t3.large"}
    return {
        "AmazonEKS": [
            _product("EKS", ("0", "0.10"), usagetype=f"{prefix}AmazonEKS-Hours:perCluster", region=region),
            _product("EKSX", ("0", "0.50"), usagetype=f"{prefix}AmazonEKS-Hours:extendedSupport", region=region),
        ],
        "AmazonEC2": [
            _product(
                "NAT",
                ("0", "0.059"),
                usagetype=f"{ec2_prefix}NatGateway-Hours",
                region=region,
                productFamily="NAT Gateway",
            ),
            _product("T3L", ("0", "0.1056"), usagetype=f"{ec2_prefix}BoxUsage:t3.large", region=region, **box),
            # Dedicated hosts of the same type: another usage type, not the entry's.
            _product("T3D", ("0", "0.2"), usagetype=f"{ec2_prefix}DedicatedUsage:t3.large", region=region, **box),
        ],
    }


@pytest.mark.parametrize(("region", "prefix"), [("ap-southeast-2", "APS2-"), ("us-east-1", "USE1-")])
def test_a_missing_region_is_created_from_the_template_items(region: str, prefix: str) -> None:
    from maintenance import prices

    snapshot = prices.skeleton(region, PRICES)
    assert set(snapshot["prices"]) == set(PRICES["prices"]) and set(snapshot["instances"]) == set(PRICES["instances"])
    assert all(e["usd"] is None and not e["verified"] for g in ("prices", "instances") for e in snapshot[g].values())
    # Sizes are the same in every region; the filters lose only eu-west-1's usage type prefix.
    assert snapshot["instances"]["t3.large"]["vcpu"] == PRICES["instances"]["t3.large"]["vcpu"]
    assert snapshot["prices"]["vpc.nat-gateway-hour"]["filters"]["usagetype"] == "NatGateway-Hours"
    client = _PriceList(_region_offer(region, prefix))
    missing = prices.refresh(snapshot, client, date(2027, 1, 5), strict=False)
    nat, eks = snapshot["prices"]["vpc.nat-gateway-hour"], snapshot["prices"]["eks.cluster-hour"]
    t3 = snapshot["instances"]["t3.large"]
    assert (nat["usd"], eks["usd"], t3["usd"]) == (0.059, 0.10, 0.1056)
    assert nat["verified"] and t3["verified"] and snapshot["snapshot"] == "2027-01-05"
    # The exact usage type found is written back, so the next refresh asks for that product.
    ec2_prefix = "" if region == "us-east-1" else prefix
    assert nat["filters"]["usagetype"] == f"{ec2_prefix}NatGateway-Hours"
    assert eks["filters"]["usagetype"] == f"{prefix}AmazonEKS-Hours:perCluster"
    assert {c["TERM_MATCH:regionCode"] for c in client.calls if "TERM_MATCH:regionCode" in c} == {region}
    # What the offer lacks stays unpriced and is listed; nothing is guessed.
    assert "ebs.gp3-gb-month" in missing and snapshot["prices"]["ebs.gp3-gb-month"]["usd"] is None
    assert "t3.large" not in missing and "vpc.nat-gateway-hour" not in missing


def test_the_tool_creates_a_missing_region_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from maintenance import prices

    (tmp_path / "eu-west-1.json").write_text(json.dumps(PRICES))
    monkeypatch.setattr(prices, "PRICES", tmp_path)
    clients: list[tuple[str, str]] = []

    def client(service: str, region_name: str) -> _PriceList:
        clients.append((service, region_name))
        return _PriceList(_region_offer("ap-southeast-2", "APS2-"))

    monkeypatch.setattr(boto3, "client", client)
    assert prices.main(["--region", "ap-southeast-2"]) == 1  # created, with unpriced entries listed
    created = json.loads((tmp_path / "ap-southeast-2.json").read_text())
    assert created["region"] == "ap-southeast-2" and created["prices"]["vpc.nat-gateway-hour"]["usd"] == 0.059
    assert clients == [("pricing", "ap-south-1")]


# ---- Every region, and a region or item without a price -------------------------------------------


def test_every_commercial_eks_region_has_a_snapshot_with_sources() -> None:
    """The regions EKS is offered in (botocore's endpoints.json, partition aws: not China, GovCloud, ISO)."""
    import botocore

    endpoints = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    aws = next(p for p in endpoints["partitions"] if p["partition"] == "aws")
    regions = {r for r in aws["services"]["eks"]["endpoints"] if r in aws["regions"]}
    assert len(regions) >= 30
    assert regions <= {p.stem for p in cost.PRICES.glob("*.json")}
    for region in sorted(regions):
        snapshot = cost.load_prices(region)
        assert snapshot["region"] == region and date.fromisoformat(snapshot["snapshot"]), region
        assert set(snapshot["prices"]) == set(PRICES["prices"]), region
        assert set(snapshot["instances"]) == set(PRICES["instances"]), region
        for key, entry in {**snapshot["prices"], **snapshot["instances"]}.items():
            assert entry["source"] and isinstance(entry["verified"], bool), (region, key)
            assert entry["usd"] is not None or not entry["verified"], (region, key)
        for name, instance in snapshot["instances"].items():  # sizes do not depend on the region
            sizes = ("vcpu", "memoryMib", "gpus", "defaultMaxENIs", "ipv4AddressesPerInterface")
            assert [instance[k] for k in sizes] == [PRICES["instances"][name][k] for k in sizes], (region, name)


def test_the_trails_data_events_are_billed_per_100k_events(plans: dict[str, Inventory]) -> None:
    for name, plan in plans.items():
        billed = {u.item: u for u in report(plan).unit_prices if u.component == "AuditTrail"}
        data = billed["CloudTrail data events (every one billed)"]
        assert (data.usd, data.per) == (price("cloudtrail.data-events-100k"), "100,000 data events"), name
        # The stack's own trail records management events too: a second copy if the account has a trail.
        assert "CloudTrail management events if the account has another trail" in billed, name
        # And those events, data events included, are ingested into the trail's log group.
        assert any(item.startswith("logs /aws/cloudtrail/") and item.endswith(" ingested") for item in billed), name


def test_the_data_event_price_is_one_price_in_every_region() -> None:
    """The CloudTrail pricing page gives one price and names no region: every snapshot carries it
    with that source, confirmed only where a regional source confirmed it."""
    entries = {
        path.stem: json.loads(path.read_text())["prices"]["cloudtrail.data-events-100k"]
        for path in cost.PRICES.glob("*.json")
    }
    assert len(entries) >= 30
    assert {(e["usd"], e["per"]) for e in entries.values()} == {(0.1, "100,000 data events")}
    assert all("aws.amazon.com/cloudtrail/pricing" in e["source"] for e in entries.values())
    assert {region for region, e in entries.items() if e["verified"]} == {"us-east-1"}
    assert all("not confirmed" in e["source"] for e in entries.values() if not e["verified"])


def test_an_item_without_a_price_leaves_the_total_partial(plans: dict[str, Inventory]) -> None:
    complete = report(plans["dev"])
    prices = json.loads(json.dumps(PRICES))
    prices["prices"]["vpc.nat-gateway-hour"]["usd"] = None  # not found for the region
    del prices["prices"]["kms.key-month"]  # not in the snapshot at all
    del prices["instances"]["t3.large"]
    partial = cost.estimate(plans["dev"], prices, checklist.support_phase, 160)
    assert partial.unpriced() == ["KMS key", "NAT gateway", "core node groups, t3.large"]
    left_out = sum(
        line.monthly_min or 0.0
        for line in complete.lines
        if line.item in ("KMS key", "NAT gateway", "core node groups, t3.large")
    )
    assert partial.total() == pytest.approx(complete.total() - left_out)
    assert partial.to_json()["partial"] and not complete.to_json()["partial"]
    rendered = cost.render(partial).splitlines()
    (total,) = [line for line in rendered if "TOTAL fixed per month" in line]
    assert "PARTIAL" in total and "KMS key; NAT gateway; core node groups, t3.large" in total
    assert "PARTIAL" not in cost.render(complete)


def _plan_costs(
    tmp_path: Path, stack_files: dict[str, Path]
) -> dict[str, tuple[subprocess.CompletedProcess[str], Any]]:
    """Plan dev from each stack file in its own process and folder; each one's printout and cost JSON."""
    processes = {}
    for name, stack_file in stack_files.items():
        (tmp_path / name).mkdir()
        command = [
            sys.executable,
            "-m",
            "offline_plan.plan",
            "dev",
            "--stack-file",
            str(stack_file),
            "--no-reachability",
        ]
        command += ["--out", str(tmp_path / name / "plan.json")]
        processes[name] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        cost_file = tmp_path / name / "cost-dev.json"
        results[name] = (done, json.loads(cost_file.read_text()) if cost_file.exists() else None)
    return results


def test_a_region_without_a_snapshot_plans_with_a_partial_total(tmp_path: Path) -> None:
    """A region AWS opens after the snapshots were taken: the plan runs and says what it could not price."""
    region = "ap-southeast-9"
    assert not (cost.PRICES / f"{region}.json").exists()
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"]["aws:region"] = region
    document["config"]["aws:skipRegionValidation"] = True  # the pinned provider does not know the region yet
    document["config"]["jhub-eks:network"]["availabilityZones"] = [f"{region}a", f"{region}b"]
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    ((result, written),) = _plan_costs(tmp_path, {"new-region": stack_file}).values()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"AWS list prices in {region}, NO price snapshot for the region" in result.stdout
    (total,) = [line for line in result.stdout.splitlines() if "TOTAL fixed per month" in line]
    assert "PARTIAL" in total and f"data/prices/{region}.json (no such file)" in total
    assert "NAT gateway" in total and "EKS control plane (1.35)" in total
    assert written["partial"] and "NAT gateway" in written["unpriced"] and written["totalMin"] == 0


def test_dev_in_other_regions_is_priced_with_their_own_prices(tmp_path: Path) -> None:
    """Copies of dev with only the region and zones changed (tests/fixtures/stacks/Pulumi.dev-<region>.yaml)."""
    regions = ["us-east-1", "ap-southeast-2", "eu-central-1"]
    fixtures = ROOT / "tests" / "fixtures" / "stacks"
    results = _plan_costs(tmp_path, {region: fixtures / f"Pulumi.dev-{region}.yaml" for region in regions})
    for region, (result, written) in results.items():
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        prices = cost.load_prices(region)
        assert written["region"] == region and written["snapshot"] == prices["snapshot"]
        # dev's core groups (one per zone): one t3.large in all at the minimum, at the region's price.
        core = [line["monthly_min"] for line in written["lines"] if line["item"] == "core node groups, t3.large"]
        assert sum(core) == pytest.approx(prices["instances"]["t3.large"]["usd"] * HOURS), region
        # Honest: the items listed as unpriced are those with no amount, and only those.
        unpriced = {line["item"] for line in written["lines"] if line["monthly_min"] is None}
        assert set(written["unpriced"]) == unpriced, region
        assert written["partial"] == bool(written["unpriced"])
    assert not results["us-east-1"][1]["partial"]  # us-east-1 is complete


# ---- Karpenter's generated on-demand table (maintenance/karpenter_prices.py) ---------------------------

# The layout of aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go (lines
# from 6fc13b5, 2026-07-20; a second region added to show how the generator splits them).
KARPENTER_TABLE = """//go:build !ignore_autogenerated

package pricing

// generated at 2026-07-20T13:44:30Z for us-east-1

import ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

var InitialOnDemandPricesAWS = map[string]map[ec2types.InstanceType]float64{
	// us-east-1
	"us-east-1": {
		// g5 family
		"g5.12xlarge": 5.672000, "g5.xlarge": 1.006000,
		// t3 family
		"t3.2xlarge": 0.332800, "t3.large": 0.083200, "t3.medium": 0.041600,
		"t3.xlarge": 0.166400,
	},
	// ap-southeast-2
	"ap-southeast-2": {
		// t3 family
		"t3.large": 0.105600,
	},
}
"""


def test_the_karpenter_table_is_written_with_its_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maintenance import karpenter_prices

    table = karpenter_prices.parse(KARPENTER_TABLE)
    assert table["us-east-1"]["t3.xlarge"] == 0.1664 and table["us-east-1"]["g5.xlarge"] == 1.006
    assert table["ap-southeast-2"] == {"t3.large": 0.1056}
    assert karpenter_prices.generated_at(KARPENTER_TABLE) == "2026-07-20T13:44:30Z"
    (tmp_path / "eu-west-1.json").write_text(json.dumps(PRICES))
    monkeypatch.setattr(karpenter_prices, "PRICES", tmp_path)
    source = tmp_path / "zz_generated.pricing_aws.go"
    source.write_text(KARPENTER_TABLE)
    commit = "6fc13b5236fd04fd16ff3f9dc7490d0813994099"
    assert karpenter_prices.main(["--file", str(source), "--commit", commit, "--date", "2026-07-20"]) == 0
    written = json.loads((tmp_path / "us-east-1.json").read_text())
    t3 = written["instances"]["t3.large"]
    assert (t3["usd"], t3["verified"]) == (0.0832, True)
    assert "aws/karpenter-provider-aws" in t3["source"] and "zz_generated.pricing_aws.go" in t3["source"]
    assert commit[:12] in t3["source"] and "2026-07-20" in t3["source"]
    # Types the table lacks, and every non-EC2 item, stay unpriced: the table is EC2's only.
    assert written["instances"]["m6i.large"]["usd"] is None and written["prices"]["eks.cluster-hour"]["usd"] is None
    sydney = json.loads((tmp_path / "ap-southeast-2.json").read_text())
    assert sydney["instances"]["t3.large"]["usd"] == 0.1056 and sydney["instances"]["t3.xlarge"]["usd"] is None
    # An existing snapshot keeps what the table does not price.
    assert json.loads((tmp_path / "eu-west-1.json").read_text()) == PRICES
