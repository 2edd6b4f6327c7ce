"""The cost change a pull request makes, per stack, as a PR comment: the monthly fixed cost by
component and the cost of one more active user per profile, base branch against head, from the
offline plans' build/cost-<stack>.json (offline_plan/cost.py).

    python -m offline_plan.cost_diff STACK BASE_COST_JSON HEAD_COST_JSON > comment.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MARKER = "<!-- cost-diff:{stack} -->"


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _by_component(report: dict[str, Any], which: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in report["lines"]:
        totals[line["component"]] = totals.get(line["component"], 0.0) + (line[f"monthly_{which}"] or 0.0)
    return totals


def _delta(before: float, after: float) -> str:
    change = after - before
    return "±0" if abs(change) < 0.005 else f"{change:+,.2f}"


def comment(stack: str, base: dict[str, Any] | None, head: dict[str, Any]) -> str:
    lines = [
        MARKER.format(stack=stack),
        f"### Monthly cost change for `{stack}` (USD, list prices in {head['region']}, snapshot {head['snapshot']})",
        "",
    ]
    if base is None:
        lines.append("The base branch has no cost estimate; this branch's is below.")
        base = {"lines": [], "users": [], "totalMin": 0.0, "totalDesired": 0.0}
    rows = []
    for which in ("min", "desired"):
        before, after = _by_component(base, which), _by_component(head, which)
        for component in sorted(set(before) | set(after)):
            b, a = before.get(component, 0.0), after.get(component, 0.0)
            if abs(a - b) >= 0.005:
                rows.append((component, which, b, a))
    lines += ["| | base | head | change |", "|---|---:|---:|---:|"]
    for label, key in (("fixed, minimum nodes", "totalMin"), ("fixed, desired nodes", "totalDesired")):
        lines.append(f"| **{label}** | {base[key]:,.2f} | {head[key]:,.2f} | {_delta(base[key], head[key])} |")
    for component, which, b, a in rows:
        lines.append(f"| {component} ({which} nodes) | {b:,.2f} | {a:,.2f} | {_delta(b, a)} |")
    before_users = {u["profile"]: u for u in base["users"]}
    for user in head["users"]:
        old = before_users.pop(user["profile"], None)
        is_now: float | None = user["per_month_active"]
        was: float | None = old["per_month_active"] if old else None
        if is_now is None or (was is not None and abs(is_now - was) < 0.005):
            continue
        lines.append(
            f"| one more active user, `{user['profile']}` | {'new' if was is None else f'{was:,.2f}'} | "
            f"{is_now:,.2f} | {'' if was is None else _delta(was, is_now)} |"
        )
    for profile, gone in before_users.items():
        lines.append(f"| one more active user, `{profile}` | {gone['per_month_active'] or 0:,.2f} | removed | |")
    if not rows and abs(head["totalMin"] - base["totalMin"]) < 0.005:
        lines += ["", "No change to the fixed monthly cost."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    stack, base, head = argv
    head_report = _load(Path(head))
    if head_report is None:
        print(f"no cost estimate at {head}: run ./plan {stack} first", file=sys.stderr)
        return 2
    sys.stdout.write(comment(stack, _load(Path(base)), head_report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
