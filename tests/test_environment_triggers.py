"""What starts the environments workflow (.github/workflows/environments.yml `on:`), under GitHub's path filters
(GitHub docs, "Workflow syntax", on.<push|pull_request>.paths and "Filter pattern cheat sheet": the patterns are
read in order, a later `!pattern` excludes what an earlier one included, `*` matches within a path segment and
`**` across segments). Its publish job pins each new digest by a pull request that adds a gate record under
environments/gates/: if merging that pull request started the publish job again, each merged pin would rebuild
(another digest), push, and open the next pin pull request, without end."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GATE_RECORD = "environments/gates/datascience/sha256-" + "ab" * 32 + ".json"


def _regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def path_matches(patterns: list[str], path: str) -> bool:
    """GitHub's paths filter for one changed file: the last pattern that matches decides."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _regex(pattern.removeprefix("!")).match(path):
            matched = not negated
    return matched


def triggers(event: str, changed: list[str]) -> bool:
    document: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / "environments.yml").read_text())
    on = document.get("on", document.get(True))
    return any(path_matches(on[event]["paths"], path) for path in changed)


@pytest.mark.parametrize("event", ["push", "pull_request"])
def test_the_pin_pull_request_starts_no_build(event: str) -> None:
    assert not triggers(event, ["stacks/Pulumi.dev.yaml", GATE_RECORD])


@pytest.mark.parametrize("event", ["push", "pull_request"])
@pytest.mark.parametrize(
    "changed", ["environments/datascience/requirements.txt", "environments/pytorch-gpu/Dockerfile"]
)
def test_a_change_to_an_environment_builds_it(event: str, changed: str) -> None:
    assert triggers(event, [changed, GATE_RECORD])


def test_the_filter_model_bites() -> None:
    """Without the exclusion (the workflow as first written) the gate record alone starts it."""
    assert path_matches(["environments/**"], GATE_RECORD)
    assert not path_matches(["environments/**", "!environments/gates/**"], GATE_RECORD)
