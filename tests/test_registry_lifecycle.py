"""The ECR lifecycle policy never expires a digest a pin names (components/registry.py), proved on a model of
ECR's documented evaluation (Amazon ECR user guide, "Lifecycle policy evaluation rules"):
  1. All rules are evaluated at the same time; then applied by rule priority, lowest number first.
  2. An image is expired by exactly one or zero rules.
  3. An image that matches the tagging requirements of a rule cannot be expired by a rule with a lower priority.
  4. Rules can never mark images marked by higher priority rules, but can still identify them as if not expired.
  5. tagPrefixList: matched if all of its prefixes match any of the image's tags.
  6. imageCountMoreThan: images sorted youngest to oldest by pushed_at_time, all beyond the count expire;
     sinceImagePushed: images older than the count expire.
  7. A rule with tagStatus `any` must have the highest rulePriority; only one rule may select untagged images."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest

from components.registry import PINNED_TAG_PREFIX, lifecycle_policy

NOW = datetime.datetime(2026, 12, 7, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed: datetime.datetime


def _matches_tagging(selection: dict[str, Any], image: Image) -> bool:
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return not image.tags
    prefixes = selection.get("tagPrefixList") or []
    return bool(image.tags) and all(any(tag.startswith(p) for tag in image.tags) for p in prefixes)


def expired_by(policy: dict[str, Any], images: list[Image], now: datetime.datetime = NOW) -> dict[str, int]:
    """digest -> priority of the rule that expires it, per the documented evaluation above."""
    rules = sorted(policy["rules"], key=lambda r: r["rulePriority"])
    assert rules[-1]["selection"]["tagStatus"] == "any" or all(r["selection"]["tagStatus"] != "any" for r in rules)
    assert sum(r["selection"]["tagStatus"] == "untagged" for r in rules) <= 1
    expired: dict[str, int] = {}
    for index, rule in enumerate(rules):
        selection = rule["selection"]
        selected = sorted((i for i in images if _matches_tagging(selection, i)), key=lambda i: i.pushed, reverse=True)
        if selection["countType"] == "imageCountMoreThan":
            marked = selected[selection["countNumber"] :]
        else:
            marked = [i for i in selected if now - i.pushed > datetime.timedelta(days=selection["countNumber"])]
        for image in marked:
            protected = any(_matches_tagging(higher["selection"], image) for higher in rules[:index])
            if image.digest not in expired and not protected:
                expired[image.digest] = rule["rulePriority"]
    return expired


def _repository(builds: int, pinned: list[int]) -> list[Image]:
    """`builds` images pushed a day apart, oldest first; those at the `pinned` indexes also carry a pinned tag."""
    images = []
    for n in range(builds):
        tags: tuple[str, ...] = (f"datascience-{n:012x}",)
        if n in pinned:
            tags += (f"{PINNED_TAG_PREFIX}datascience-{n:012x}",)
        images.append(Image(f"sha256:{n:064x}", tags, NOW - datetime.timedelta(days=builds - n)))
    return images


def test_pinned_digests_survive_however_old() -> None:
    images = _repository(60, pinned=[0, 1, 45])
    expired = expired_by(lifecycle_policy(keep_last_images=20, untagged_expire_days=7), images)
    assert not {images[0].digest, images[1].digest, images[45].digest} & set(expired)
    # The rest beyond the last 20 go (the pinned ones still count among the 20: rule 4).
    assert len(expired) == 60 - 20 - 2


def test_untagged_images_expire_after_their_days_and_tagged_ones_stay_within_the_count() -> None:
    images = [*_repository(5, pinned=[]), Image("sha256:" + "f" * 64, (), NOW - datetime.timedelta(days=8))]
    assert expired_by(lifecycle_policy(keep_last_images=20, untagged_expire_days=7), images) == {
        "sha256:" + "f" * 64: 2
    }


def test_without_the_pinned_rule_an_old_pin_would_expire() -> None:
    """The mutation: the same repository under the policy minus its first rule loses the old pinned digests."""
    policy = lifecycle_policy(keep_last_images=20, untagged_expire_days=7)
    policy["rules"] = policy["rules"][1:]
    images = _repository(60, pinned=[0, 1])
    assert {images[0].digest, images[1].digest} <= set(expired_by(policy, images))


@pytest.mark.parametrize("keep", [1, 30, 1000])
def test_the_any_rule_is_last_and_pinned_first(keep: int) -> None:
    rules = sorted(lifecycle_policy(keep, 7)["rules"], key=lambda r: r["rulePriority"])
    assert rules[0]["selection"]["tagPrefixList"] == [PINNED_TAG_PREFIX]
    assert rules[-1]["selection"]["tagStatus"] == "any"
