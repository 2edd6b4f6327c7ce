"""A new CRITICAL finding on an image a stack runs reaches the alert topic (components/environment_alerts.py),
matched by an independent event-ruler port (tests/patterns.py) against the ECR user guide's example event."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from components.environment_alerts import critical_findings_pattern
from offline_plan.mock_engine import Inventory
from tests.patterns import event_pattern_matches

EXAMPLE = json.loads((Path(__file__).parent / "fixtures" / "inspector2-ecr-finding.json").read_text())
REPOSITORY = "jhub-prod/jupyter-user"
PINNED = "sha256:" + "ab" * 32


def _event(
    *, severity: str = "CRITICAL", status: str = "ACTIVE", repository: str = REPOSITORY, digest: str = PINNED
) -> dict[str, Any]:
    event = copy.deepcopy(EXAMPLE)
    event["detail"].update(severity=severity, status=status)
    image = event["detail"]["resources"][0]["details"]["awsEcrContainerImage"]
    image.update(repositoryName=repository, imageHash=digest)
    return event


@pytest.mark.parametrize(
    ("event", "alerts"),
    [
        (_event(), True),
        (_event(severity="HIGH"), False),
        (_event(status="CLOSED"), False),
        (_event(repository="jhub-dev/jupyter-user"), False),
        (_event(digest="sha256:" + "cd" * 32), False),  # an image of the repository no pin names
    ],
    ids=["critical on a pinned digest", "high", "closed", "other stack's repository", "unpinned digest"],
)
def test_critical_findings_on_pinned_digests_alert(event: dict[str, Any], alerts: bool) -> None:
    assert event_pattern_matches(critical_findings_pattern(REPOSITORY, [PINNED]), event) is alerts


def test_before_any_pin_of_its_own_every_image_of_the_repository_counts() -> None:
    pattern = critical_findings_pattern(REPOSITORY, [])
    assert event_pattern_matches(pattern, _event(digest="sha256:" + "cd" * 32))
    assert not event_pattern_matches(pattern, _event(repository="other/repository"))


def test_the_example_event_itself_is_medium_and_does_not_alert() -> None:
    assert not event_pattern_matches(critical_findings_pattern("amazon/amazon-ecs-sample", []), EXAMPLE)


@pytest.mark.parametrize("plan", ["prod"], indirect=True)
def test_the_rule_targets_the_alert_topic(plan: Inventory) -> None:
    rule = plan.one("aws:cloudwatch/eventRule:EventRule", "critical-image-findings")
    assert json.loads(rule.inputs["eventPattern"]) == critical_findings_pattern(REPOSITORY, [])
    target = plan.one("aws:cloudwatch/eventTarget:EventTarget", "critical-image-findings")
    topic = plan.one("aws:sns/topic:Topic", "alerts")
    assert target.inputs["arn"] == topic.outputs["arn"]
