"""Refresh the price snapshot (data/prices/<region>.json) from the AWS Price List Query API.

    .venv/bin/python -m pip install boto3        # once; not a dependency of the program or the tests
    AWS_PROFILE=... .venv/bin/python -m maintenance.prices eu-west-1

Needs AWS credentials allowed `pricing:GetProducts`. Each entry of the snapshot carries the service
code and the attribute filters that find its product (the region is added as `regionCode`); the
tool looks every entry up again, takes the on-demand price of the first tier, marks it verified
and dates the snapshot. An entry whose product is not found, or is found more than once, stops the
refresh with the entry's name: fix its filters, the price is not guessed.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from offline_plan.cost import PRICES

# The Price List Query API is served from these regions only; any of them prices every region.
PRICING_ENDPOINT_REGION = {"eu": "eu-central-1", "ap": "ap-south-1"}


class PriceLookupError(RuntimeError):
    pass


def endpoint_region(region: str) -> str:
    return PRICING_ENDPOINT_REGION.get(region.split("-")[0], "us-east-1")


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


def lookup(client: Any, region: str, name: str, entry: dict[str, Any]) -> float:
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in entry["filters"].items()]
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
    if len(items) != 1:
        raise PriceLookupError(f"{name}: {len(items)} products match {entry['filters']}; make the filters exact")
    return first_tier_usd(items[0])


def refresh(snapshot: dict[str, Any], client: Any, today: date) -> dict[str, Any]:
    region = snapshot["region"]
    for group in ("prices", "instances"):
        for name, entry in snapshot[group].items():
            if not entry["filters"]:
                continue  # a price without a product to look up (kept as documented)
            entry["usd"] = lookup(client, region, name, entry)
            entry["verified"] = True
            entry["source"] = f"AWS Price List API GetProducts, {today.isoformat()}"
    snapshot["snapshot"] = today.isoformat()
    return snapshot


def main(argv: list[str]) -> int:
    (region,) = argv or ["eu-west-1"]
    path = PRICES / f"{region}.json"
    try:
        import boto3
    except ImportError:
        print("boto3 is needed: .venv/bin/python -m pip install boto3", file=sys.stderr)
        return 2
    client = boto3.client("pricing", region_name=endpoint_region(region))
    snapshot = refresh(json.loads(path.read_text()), client, date.today())
    Path(path).write_text(json.dumps(snapshot, indent=1) + "\n")
    print(f"{path}: refreshed, snapshot {snapshot['snapshot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
