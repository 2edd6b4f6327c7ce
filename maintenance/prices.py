"""Refresh a region's price snapshot (data/prices/<region>.json) from the AWS Price List Query API, or
create it when the region has none.

    AWS_PROFILE=... .venv/bin/python -m maintenance.prices --region eu-west-1      # refresh
    AWS_PROFILE=... .venv/bin/python -m maintenance.prices --region ap-southeast-2 # create (from eu-west-1's items)

Needs AWS credentials allowed `pricing:GetProducts` (boto3 is in the dev requirements). Each entry of
a snapshot carries the service code and the attribute filters that find its product. The filters
name the region in two places: the `regionCode` attribute (added here, not stored) and the prefix of
the `usagetype` (`EU-NatGateway-Hours` in eu-west-1, `APS2-NatGateway-Hours` in ap-southeast-2,
`NatGateway-Hours` for EC2 in us-east-1 but `USE1-AmazonEKS-Hours:perCluster` for EKS there: the
prefix is not one per region). So the lookup asks for the usage type without its prefix
(`CONTAINS`) and keeps the products whose usage type is exactly that, with or without a prefix;
the one found is written back as the entry's filter. A created region takes its items (service
code, filters, unit, instance sizes) from a template snapshot, eu-west-1's by default.

Refreshing stops at an entry whose product is not found, or is found more than once, with the
entry's name: fix its filters, the price is not guessed. Creating keeps going and leaves such
entries unpriced (`usd: null`), listed at the end, so the cost estimate says which items are
missing.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

from offline_plan.cost import HOURS_PER_MONTH, PRICES

# The Price List Query API is served from these regions only; any of them prices every region.
PRICING_ENDPOINT_REGION = {"eu": "eu-central-1", "ap": "ap-south-1"}
TEMPLATE_REGION = "eu-west-1"
# A usage type's region prefix: `EU-`, `USE1-`, `APS2-`, `EUC1-`, `MXC1-` ...
USAGETYPE_REGION_PREFIX = re.compile(r"^[A-Z]{2,4}[0-9]{0,2}-")


class PriceLookupError(RuntimeError):
    pass


def endpoint_region(region: str) -> str:
    return PRICING_ENDPOINT_REGION.get(region.split("-")[0], "us-east-1")


def regionless(usagetype: str) -> str:
    """A usage type without its region prefix (`EU-NatGateway-Hours` -> `NatGateway-Hours`)."""
    return USAGETYPE_REGION_PREFIX.sub("", usagetype, count=1)


def first_tier_usd(price_list_item: str) -> float:
    """The on-demand USD price of one GetProducts `PriceList` item (a JSON string): the dimension whose
    range begins at 0 (tiered prices such as data processed have several)."""
    product = json.loads(price_list_item)
    terms = product.get("terms", {}).get("OnDemand", {})
    dimensions = [d for term in terms.values() for d in term.get("priceDimensions", {}).values()]
    if not dimensions:
        raise PriceLookupError(f"no on-demand price for SKU {product.get('product', {}).get('sku')}")
    first = min(dimensions, key=lambda d: float(d.get("beginRange", "0")))
    return float(first["pricePerUnit"]["USD"])


def _matches_usagetype(price_list_item: str, usagetype: str) -> bool:
    found = str(json.loads(price_list_item).get("product", {}).get("attributes", {}).get("usagetype", ""))
    return regionless(found) == usagetype


def lookup(client: Any, region: str, name: str, entry: dict[str, Any]) -> tuple[float, str | None]:
    """The entry's price in the region and the exact usage type of its product (None without one)."""
    usagetype = regionless(entry["filters"]["usagetype"]) if "usagetype" in entry["filters"] else None
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in entry["filters"].items() if k != "usagetype"]
    if usagetype is not None:
        filters.append({"Type": "CONTAINS", "Field": "usagetype", "Value": usagetype})
    if not entry.get("global"):  # global products (dashboards) have no region
        filters.append({"Type": "TERM_MATCH", "Field": "regionCode", "Value": region})
    items: list[str] = []
    token = None
    while True:
        page = client.get_products(
            ServiceCode=entry["serviceCode"], Filters=filters, **({"NextToken": token} if token else {})
        )
        items += page["PriceList"]
        token = page.get("NextToken")
        if not token:
            break
    if usagetype is not None:  # CONTAINS also finds longer usage types (`...-Hours:perCluster-Foo`)
        items = [item for item in items if _matches_usagetype(item, usagetype)]
    if len(items) != 1:
        raise PriceLookupError(f"{name}: {len(items)} products match {entry['filters']}; make the filters exact")
    exact = json.loads(items[0]).get("product", {}).get("attributes", {}).get("usagetype")
    return first_tier_usd(items[0]), exact if usagetype is not None else None


def refresh(snapshot: dict[str, Any], client: Any, today: date, strict: bool = True) -> list[str]:
    """Look every entry up again; return the entries left unpriced (strict: stop at the first)."""
    region = snapshot["region"]
    missing = []
    for group in ("prices", "instances"):
        for name, entry in snapshot[group].items():
            if not entry["filters"]:
                continue  # a price without a product to look up (kept as documented)
            try:
                usd, usagetype = lookup(client, region, name, entry)
            except PriceLookupError as error:
                if strict:
                    raise
                entry.update(usd=None, verified=False, source=f"not found by GetProducts {today.isoformat()}: {error}")
                missing.append(name)
                continue
            if usagetype:
                entry["filters"]["usagetype"] = usagetype
            entry["usd"] = usd
            entry["verified"] = True
            entry["source"] = f"AWS Price List API GetProducts, {today.isoformat()}"
    snapshot["snapshot"] = today.isoformat()
    return missing


def skeleton(region: str, template: dict[str, Any]) -> dict[str, Any]:
    """A region's snapshot with the template's items (service codes, region-free filters, units,
    instance sizes) and no prices yet: every entry unpriced until a source gives it one."""
    snapshot: dict[str, Any] = {
        "region": region,
        "currency": "USD",
        "snapshot": None,
        "about": (
            f"AWS on-demand list prices for {region}; each entry names its source (`verified: false`: not "
            "confirmed for the region; usd null: no price found). Items and instance sizes (vCPUs, memory, "
            f"GPUs, ENI limits: the same in every region) as in data/prices/{template['region']}.json, whose "
            "`about` names their sources."
        ),
        "hoursPerMonth": template.get("hoursPerMonth", HOURS_PER_MONTH),
        "prices": {},
        "instances": {},
    }
    for group in ("prices", "instances"):
        for name, entry in template[group].items():
            new = copy.deepcopy(entry)
            if "usagetype" in new["filters"]:
                new["filters"]["usagetype"] = regionless(new["filters"]["usagetype"])
            new.update(usd=None, verified=False, source="no public source found for the region yet")
            snapshot[group][name] = new
    return snapshot


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m maintenance.prices", description=__doc__.split("\n\n")[0])
    parser.add_argument("region_positional", nargs="?", metavar="REGION", help="same as --region")
    parser.add_argument("--region", help="the region whose snapshot to refresh, or create when it has none")
    parser.add_argument("--template", default=TEMPLATE_REGION, help="the snapshot a new region takes its items from")
    args = parser.parse_args(argv)
    region = args.region or args.region_positional or TEMPLATE_REGION
    path = PRICES / f"{region}.json"
    try:
        import boto3
    except ImportError:
        print("boto3 is needed: .venv/bin/python -m pip install boto3", file=sys.stderr)
        return 2
    client = boto3.client("pricing", region_name=endpoint_region(region))
    created = not path.exists()
    if not created:
        snapshot = json.loads(path.read_text())
        refresh(snapshot, client, date.today())
        missing: list[str] = []
    else:
        template = json.loads((PRICES / f"{args.template}.json").read_text())
        snapshot = skeleton(region, template)
        missing = refresh(snapshot, client, date.today(), strict=False)
    Path(path).write_text(json.dumps(snapshot, indent=1) + "\n")
    print(f"{path}: {'created' if created else 'refreshed'}, snapshot {snapshot['snapshot']}")
    if missing:
        print(f"unpriced (no single product found): {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
