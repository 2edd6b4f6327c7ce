"""Every action the workflows pin is the commit its release tag names in the action's own repository
(data/github_actions/tags.json, read from the repositories' tags). GitHub resolves a `uses:` SHA when the job is
set up; a SHA that is no commit of the action fails the whole job before its first step, which no offline schema
or zizmor check sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_workflows import REVIEWED_ACTIONS, Pin

TAGS = json.loads((Path(__file__).resolve().parents[1] / "data" / "github_actions" / "tags.json").read_text())


def pin_problem(action: str, pin: Pin) -> str | None:
    recorded = TAGS.get(action)
    if recorded is None:
        return f"{action}: no tag listing in data/github_actions/tags.json; add the action's tags"
    commit = recorded["tags"].get(pin.version)
    if commit is None:
        if pin.version in recorded.get("unconfirmed", {}):
            return None
        return f"{action}: no tag {pin.version} in the recorded tags {sorted(recorded['tags'])}"
    if commit != pin.sha:
        return f"{action}@{pin.sha} is not {pin.version}: that tag is commit {commit}"
    return None


@pytest.mark.parametrize("action", sorted(REVIEWED_ACTIONS))
def test_each_pin_is_its_release_tag_commit(action: str) -> None:
    assert pin_problem(action, REVIEWED_ACTIONS[action]) is None


def test_a_sha_that_is_not_the_tag_commit_is_reported() -> None:
    # The attest-build-provenance pin as first written: one public page's SHA, which is no commit of the action
    # (its first 18 hex digits are those of v3.0.0's commit).
    wrong = Pin("977bb373ede98d70efbf0b7b13af9c3d6651dc60", "v4.1.0", frozenset())
    problem = pin_problem("actions/attest-build-provenance", wrong)
    assert problem is not None and "a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32" in problem
