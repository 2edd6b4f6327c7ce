"""The reachability change a pull request makes, per stack, as a PR comment: the lines of the base
branch's table (build/reachability-<stack>.txt) that the head drops, and those it adds. A change
that opens a path shows as an added line.

    python -m offline_plan.reachability_diff STACK BASE_TABLE HEAD_TABLE > comment.md
"""

from __future__ import annotations

import sys
from pathlib import Path

MARKER = "<!-- reachability-diff:{stack} -->"


def _lines(path: Path) -> list[str]:
    """The table's connection lines (the heading and blank lines left out); none if the base
    branch had no table yet."""
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if "=>" in line]


def comment(stack: str, base: list[str], head: list[str]) -> str:
    added = sorted(set(head) - set(base))
    removed = sorted(set(base) - set(head))
    lines = [MARKER.format(stack=stack), f"### Reachability change for `{stack}` (network-config-analyzer)", ""]
    if not base:
        lines.append("The base branch has no reachability table; the whole table of this branch is new.")
    if not added and not removed:
        lines.append("No connection is added or removed.")
    else:
        lines += ["```diff", *(f"- {line}" for line in removed), *(f"+ {line}" for line in added), "```"]
        if added:
            lines += ["", f"**{len(added)} path(s) opened**: review each `+` line."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    stack, base, head = argv
    sys.stdout.write(comment(stack, _lines(Path(base)), _lines(Path(head))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
