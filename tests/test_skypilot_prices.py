"""maintenance/skypilot_prices.py: EC2 prices per region from SkyPilot's AWS catalog (vms.csv)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from maintenance import skypilot_prices
from offline_plan import cost

# The layout of skypilot-org/skypilot-catalog catalogs/v8/aws/vms.csv (rows from e385a0d): one row
# per type and zone, the region's on-demand price repeated on each.
HEADER = (
    "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,"
    "Price,SpotPrice,Region,AvailabilityZone,Arch\n"
)
VMS_CSV = (
    HEADER
    + """m6i.large,,,2.0,8.0,,0.12,0.049500,ap-southeast-2,apse2-az1,x86_64
m6i.large,,,2.0,8.0,,0.12,0.048000,ap-southeast-2,apse2-az2,x86_64
m6i.large,,,2.0,8.0,,0.115,0.050400,eu-central-1,euc1-az1,x86_64
m6i.large,,,2.0,8.0,,0.096,0.041700,us-east-1,use1-az1,x86_64
t3.large,,,2.0,8.0,,0.0832,0.030000,us-east-1,use1-az1,x86_64
m6i.large,,,2.0,8.0,,0.1,0.040000,xx-nowhere-1,xxn1-az1,x86_64
"""
)
COMMIT = "e385a0d348eda9cefd9806423e7725944dc249e4"
EXCERPT = cost.ROOT / "data" / "prices" / "sources" / "skypilot-catalog-v8-aws-vms-e385a0d.csv"


def test_one_price_per_type_and_region_from_the_zone_rows() -> None:
    table = skypilot_prices.parse(VMS_CSV)
    assert table["ap-southeast-2"] == {"m6i.large": 0.12}
    assert table["us-east-1"] == {"m6i.large": 0.096, "t3.large": 0.0832}


def test_zones_that_disagree_on_a_price_are_refused() -> None:
    conflicting = VMS_CSV + "m6i.large,,,2.0,8.0,,0.13,0.05,ap-southeast-2,apse2-az3,x86_64\n"
    with pytest.raises(skypilot_prices.CatalogError, match=r"m6i\.large in ap-southeast-2"):
        skypilot_prices.parse(conflicting)


def test_only_unpriced_entries_are_written_and_a_disagreement_is_reported() -> None:
    snapshot = {
        "instances": {
            "m6i.large": {"usd": None, "verified": False, "source": "none yet"},
            "t3.large": {"usd": 0.09, "verified": True, "source": "AWS Price List API GetProducts"},
            "g5.xlarge": {"usd": None, "verified": False, "source": "none yet"},
        }
    }
    origin = skypilot_prices.Origin(COMMIT, "2026-12-07")
    outcome = skypilot_prices.apply(snapshot, {"m6i.large": 0.096, "t3.large": 0.0832}, origin)
    assert outcome["written"] == ["m6i.large"] and outcome["absent"] == ["g5.xlarge"]
    assert outcome["disagrees"] == ["t3.large 0.09 (catalog 0.0832)"]
    assert snapshot["instances"]["m6i.large"]["usd"] == 0.096 and snapshot["instances"]["m6i.large"]["verified"]
    # A price from a better source is kept, and a type the catalog lacks stays unpriced.
    kept = {"usd": 0.09, "verified": True, "source": "AWS Price List API GetProducts"}
    assert snapshot["instances"]["t3.large"] == kept
    assert snapshot["instances"]["g5.xlarge"]["usd"] is None


def test_the_tool_writes_each_region_with_its_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = cost.load_prices("ap-southeast-2")
    for region in ("ap-southeast-2", "us-east-1"):
        snapshot = copy.deepcopy(template)
        snapshot["region"] = region
        snapshot["instances"]["m6i.large"].update(usd=None, verified=False)
        (tmp_path / f"{region}.json").write_text(json.dumps(snapshot))
    monkeypatch.setattr(skypilot_prices, "PRICES", tmp_path)
    catalog = tmp_path / "vms.csv"
    catalog.write_text(VMS_CSV)
    assert skypilot_prices.main(["--file", str(catalog), "--commit", COMMIT, "--read", "2026-12-07"]) == 0
    written = json.loads((tmp_path / "ap-southeast-2.json").read_text())["instances"]["m6i.large"]
    assert written["usd"] == 0.12 and written["verified"]
    assert "skypilot-org/skypilot-catalog catalogs/v8/aws/vms.csv" in written["source"]
    assert COMMIT[:12] in written["source"] and "2026-12-07" in written["source"]
    assert json.loads((tmp_path / "us-east-1.json").read_text())["instances"]["m6i.large"]["usd"] == 0.096
    # Regions without a snapshot (no EKS) are not created.
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["ap-southeast-2.json", "us-east-1.json"]


def test_the_snapshots_carry_the_committed_catalog_excerpt() -> None:
    """Each price the excerpt in data/prices/sources/ lists is in that region's snapshot, so the
    snapshots are what the generator writes from it (a price edited by hand fails here)."""
    table = skypilot_prices.parse(EXCERPT.read_text())
    assert {"ap-southeast-2", "eu-central-1", "us-east-1"} <= set(table)
    for region, prices in table.items():
        snapshot = cost.load_prices(region)
        for name, usd in prices.items():
            assert snapshot["instances"][name]["usd"] == usd, (region, name)


def _stack_instance_types(stack_file: Path) -> set[str]:
    groups = yaml.safe_load(stack_file.read_text())["config"]["jhub-eks:nodeGroups"]
    return {name for group in groups.values() if isinstance(group, dict) for name in group.get("instanceTypes", [])}


def test_every_example_stack_type_is_priced_in_the_fixture_regions() -> None:
    """dev and prod moved to us-east-1, ap-southeast-2 or eu-central-1 (tests/fixtures/stacks) price every
    node they run: prod's m6i and g5 as well as dev's t3."""
    stacks = cost.ROOT / "stacks"
    types = _stack_instance_types(stacks / "Pulumi.dev.yaml") | _stack_instance_types(stacks / "Pulumi.prod.yaml")
    assert {"t3.large", "m6i.large", "m6i.2xlarge", "g5.xlarge"} <= types
    for region in ("us-east-1", "ap-southeast-2", "eu-central-1"):
        instances = cost.load_prices(region)["instances"]
        unpriced = sorted(name for name in types if not (instances.get(name) or {}).get("usd"))
        assert not unpriced, (region, unpriced)
