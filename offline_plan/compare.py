"""Compare two offline plans resource by resource: the proof that a refactor changes nothing.

    python -m offline_plan.compare build-before/plan-dev.json build/plan-dev.json

Reads two inventories written by ``./plan`` (``build/plan-<stack>.json``) and prints, per URN, each
resource added or removed and each field that differs (type, name, parent, inputs, dependencies,
provider, the lifecycle options), plus the stack outputs and lookups that differ. Exits 0 when the
plans are identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# What a reviewer of `pulumi preview` sees change; ids and ARNs are the mocks' and follow the URN.
COMPARED_FIELDS = (
    "type",
    "name",
    "parent",
    "custom",
    "inputs",
    "secret_inputs",
    "dependencies",
    "provider",
    "retain_on_delete",
    "import_id",
    "protect",
    "additional_secret_outputs",
)


def _by_urn(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {resource["urn"]: resource for resource in plan["resources"]}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One line per difference, sorted by URN; empty when the plans are the same."""
    old, new = _by_urn(before), _by_urn(after)
    lines = [f"- {urn}" for urn in sorted(old.keys() - new.keys())]
    lines += [f"+ {urn}" for urn in sorted(new.keys() - old.keys())]
    for urn in sorted(old.keys() & new.keys()):
        for field in COMPARED_FIELDS:
            was, now = old[urn].get(field), new[urn].get(field)
            if was == now:
                continue
            if isinstance(was, list) and isinstance(now, list) and all(isinstance(v, str) for v in was + now):
                removed = [v for v in was if v not in now]
                added = [v for v in now if v not in was]
                lines.append(f"~ {urn} {field}: removed {removed} added {added}")
            else:
                lines.append(f"~ {urn} {field}: {json.dumps(was, sort_keys=True)} -> {json.dumps(now, sort_keys=True)}")
    for key in ("outputs", "secretOutputs", "reads"):
        if before.get(key) != after.get(key):
            lines.append(f"~ stack {key} differ")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    found = differences(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    for line in found:
        print(line)
    print(f"{len(found)} difference(s)" if found else "identical")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
