"""Write EC2 on-demand prices into the region snapshots (data/prices/<region>.json) from SkyPilot's
AWS catalog (skypilot-org/skypilot-catalog, catalogs/v8/aws/vms.csv: one row per instance type and
availability zone, its `Price` the on-demand Linux price SkyPilot's fetcher read from the AWS Price
List EC2 offer files). Karpenter's generated table (maintenance/karpenter_prices.py) holds us-east-1
only; this catalog holds every region SkyPilot crawls (about 25 commercial regions).

    python -m maintenance.skypilot_prices --file vms.csv --commit SHA --read YYYY-MM-DD

The file may be the whole vms.csv or an excerpt with its `InstanceType`, `Price` and `Region`
columns (data/prices/sources/ keeps the excerpt the snapshots were written from). Only entries
without a price are written: a price from the Price List API or an earlier source stays, and a
catalog price that disagrees with it is listed, not applied. A region the catalog lacks, or an
instance type it does not list in a region, stays unpriced.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline_plan.cost import PRICES

REPOSITORY = "skypilot-org/skypilot-catalog"
CATALOG_PATH = "catalogs/v8/aws/vms.csv"


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class Origin:
    commit: str
    read: str

    def source(self) -> str:
        return (
            f"{REPOSITORY} {CATALOG_PATH} at {self.commit[:12]} (read {self.read}; SkyPilot's catalog of the "
            "AWS Price List EC2 offer files: on demand, Linux)"
        )


def parse(csv_text: str) -> dict[str, dict[str, float]]:
    """{region: {instance type: USD per hour}}; a type's rows of one region (one per zone) must agree."""
    table: dict[str, dict[str, float]] = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        if not row.get("Price"):
            continue  # a type SkyPilot lists without an on-demand price
        region, name, usd = row["Region"], row["InstanceType"], float(row["Price"])
        known = table.setdefault(region, {}).setdefault(name, usd)
        if known != usd:
            raise CatalogError(f"{name} in {region}: two on-demand prices in the catalog ({known} and {usd})")
    return table


def apply(snapshot: dict[str, Any], prices: dict[str, float], origin: Origin) -> dict[str, list[str]]:
    """Price the snapshot's unpriced instance types the catalog lists; return what was written, what
    kept a price that disagrees with the catalog, and what the catalog lacks."""
    outcome: dict[str, list[str]] = {"written": [], "disagrees": [], "absent": []}
    for name, entry in snapshot["instances"].items():
        if name not in prices:
            outcome["absent"].append(name)
        elif entry["usd"] is None:
            entry.update(usd=prices[name], verified=True, source=origin.source())
            outcome["written"].append(name)
        elif entry["usd"] != prices[name]:
            outcome["disagrees"].append(f"{name} {entry['usd']} (catalog {prices[name]})")
    return outcome


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m maintenance.skypilot_prices", description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, required=True, help=f"{CATALOG_PATH}, whole or an excerpt")
    parser.add_argument("--commit", required=True, help=f"the {REPOSITORY} commit the file was taken from")
    parser.add_argument("--read", required=True, help="the date the file was read (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    origin = Origin(args.commit, args.read)
    try:
        table = parse(args.file.read_text())
    except CatalogError as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return 2
    for region, prices in sorted(table.items()):
        path = PRICES / f"{region}.json"
        if not path.exists():
            continue  # a region without EKS (the snapshots are EKS's regions)
        snapshot = json.loads(path.read_text())
        outcome = apply(snapshot, prices, origin)
        path.write_text(json.dumps(snapshot, indent=1) + "\n")
        line = f"{path.name}: {len(outcome['written'])} instance price(s) from {REPOSITORY}@{args.commit[:12]}"
        if outcome["disagrees"]:
            line += f"; kept, the catalog disagrees: {', '.join(outcome['disagrees'])}"
        if outcome["absent"]:
            line += f"; not in the catalog: {', '.join(outcome['absent'])}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
