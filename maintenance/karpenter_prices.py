"""Write EC2 on-demand prices into the region snapshots (data/prices/<region>.json) from the price
table Karpenter generates from the AWS Price List API (aws/karpenter-provider-aws,
pkg/providers/pricing/zz_generated.pricing_aws.go: Linux, shared tenancy, on demand).

    python -m maintenance.karpenter_prices --git-dir PATH/karpenter-provider-aws [--rev HEAD]
    python -m maintenance.karpenter_prices --file zz_generated.pricing_aws.go --commit SHA --date YYYY-MM-DD

Each price written names its source: repository, path, commit, the commit's date and the table's
own "generated at" stamp. Only the instance types a snapshot lists are written (their sizes come
with them); a region without a snapshot gets one from the template's items, its other prices
unpriced. Since 2023 the table holds us-east-1 only (Karpenter asks the Price List API for the
other regions at run time), so in practice this prices us-east-1's instances.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maintenance.prices import TEMPLATE_REGION, skeleton
from offline_plan.cost import PRICES

REPOSITORY = "aws/karpenter-provider-aws"
TABLE_PATH = "pkg/providers/pricing/zz_generated.pricing_aws.go"

_GENERATED = re.compile(r"^// generated at (\S+)", re.MULTILINE)
_REGION = re.compile(r'^\s*"([a-z]{2}(?:-[a-z]+)+-\d)": \{', re.MULTILINE)
_PRICE = re.compile(r'"([a-z0-9-]+\.[a-z0-9-]+)": ([0-9.]+)')


@dataclass(frozen=True)
class Origin:
    commit: str
    date: str
    generated: str

    def source(self) -> str:
        return (
            f"{REPOSITORY} {TABLE_PATH} at {self.commit[:12]} ({self.date}; table generated {self.generated} "
            "from the AWS Price List API: on demand, Linux, shared tenancy)"
        )


def parse(go_source: str) -> dict[str, dict[str, float]]:
    """{region: {instance type: USD per hour}} from the generated Go map literal."""
    starts = [(m.start(), m.group(1)) for m in _REGION.finditer(go_source)]
    table: dict[str, dict[str, float]] = {}
    for i, (start, region) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(go_source)
        table[region] = {name: float(usd) for name, usd in _PRICE.findall(go_source[start:end])}
    return table


def generated_at(go_source: str) -> str:
    match = _GENERATED.search(go_source)
    return match.group(1) if match else "unknown"


def apply(snapshot: dict[str, Any], prices: dict[str, float], origin: Origin) -> tuple[list[str], list[str]]:
    """Write the table's price of each instance type the snapshot lists; return (written, absent)."""
    written, absent = [], []
    for name, entry in snapshot["instances"].items():
        if name not in prices:
            absent.append(name)
            continue
        entry.update(usd=prices[name], verified=True, source=origin.source())
        written.append(name)
    return written, absent


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=True).stdout


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m maintenance.karpenter_prices", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--git-dir", type=Path, help=f"a clone of {REPOSITORY} (its .git directory or a bare one)")
    parser.add_argument("--rev", default="HEAD", help="the revision to read in --git-dir")
    parser.add_argument("--file", type=Path, help=f"{TABLE_PATH} as a file (with --commit and --date)")
    parser.add_argument("--commit", help="the commit --file was taken from")
    parser.add_argument("--date", help="that commit's date")
    parser.add_argument("--template", default=TEMPLATE_REGION, help="the snapshot a new region takes its items from")
    args = parser.parse_args(argv)
    if args.git_dir:
        source = _git(args.git_dir, "show", f"{args.rev}:{TABLE_PATH}")
        commit, when = _git(args.git_dir, "log", "-1", "--format=%H %cs", args.rev, "--", TABLE_PATH).split()
    elif args.file and args.commit and args.date:
        source, commit, when = args.file.read_text(), args.commit, args.date
    else:
        parser.error("give --git-dir, or --file with --commit and --date")
    origin = Origin(commit, when, generated_at(source))
    template = json.loads((PRICES / f"{args.template}.json").read_text())
    for region, prices in sorted(parse(source).items()):
        path = PRICES / f"{region}.json"
        snapshot = json.loads(path.read_text()) if path.exists() else skeleton(region, template)
        written, absent = apply(snapshot, prices, origin)
        snapshot["snapshot"] = snapshot["snapshot"] or when  # a new region's first figures date it
        path.write_text(json.dumps(snapshot, indent=1) + "\n")
        print(f"{path.name}: {len(written)} instance price(s) from {REPOSITORY}@{commit[:12]}", end="")
        print(f"; not in the table: {', '.join(absent)}" if absent else "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
