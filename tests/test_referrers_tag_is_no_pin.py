"""A tag the stack's ECR repository lets move is never accepted as a pin (security review of the repository's
IMMUTABLE_WITH_EXCLUSION). The exclusion exists for the OCI referrers tag schema: actions/attest keeps a digest's
attestations in an index tagged `sha256-<hex>` and rewrites that tag for each attestation (tests/
test_registry_attestations.py). Before the exclusion every tag of the repository was immutable, so a dev stack's
environment or userServers.image named by a tag (dev accepts any tag but `latest`) always ran the image it was
first given; a tag matching the exclusion would now run whatever the push role (or an admin) last wrote under it.
The settings refuse such a tag unless a digest follows it; the filters are read from each stack's plan, so a new
exclusion the settings do not refuse fails here."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from offline_plan.mock_engine import Inventory
from settings.environments import EnvironmentPin
from settings.hub import ImageSettings

REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/jhub-eks-user"
DIGEST = "sha256:" + "ab" * 32


def movable_tags(plan: Inventory) -> list[str]:
    """One tag each exclusion filter of the stack's repository matches (its wildcards filled in)."""
    repository = plan.one("aws:ecr/repository:Repository").inputs
    filters = [f["filter"] for f in repository.get("imageTagMutabilityExclusionFilters") or []]
    if repository["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION":
        assert filters, "IMMUTABLE_WITH_EXCLUSION without a filter"
    return [pattern.replace("*", "ab" * 32) for pattern in filters]


@pytest.mark.parametrize("plan", ["dev", "prod"], indirect=True)
def test_an_environment_is_not_pinned_by_a_movable_tag(plan: Inventory) -> None:
    tags = movable_tags(plan)
    assert tags, "the repository lets no tag move: this test has nothing to check"
    for tag in tags:
        with pytest.raises(ValidationError, match="pin the image by digest"):
            EnvironmentPin(image=f"{REPOSITORY}:{tag}", source="test")
        # A digest after the tag pins it (the tag is then only for readers).
        EnvironmentPin(image=f"{REPOSITORY}:{tag}@{DIGEST}", source="test")


@pytest.mark.parametrize("plan", ["dev", "prod"], indirect=True)
def test_user_servers_do_not_run_a_movable_tag(plan: Inventory) -> None:
    for tag in movable_tags(plan):
        with pytest.raises(ValidationError, match="tag"):
            ImageSettings(name=REPOSITORY, tag=tag)


def test_ordinary_tags_are_still_accepted() -> None:
    EnvironmentPin(image=f"{REPOSITORY}:datascience-0123456789ab-1", source="test")
    ImageSettings(name=REPOSITORY, tag="4.4.0")
    ImageSettings(name=REPOSITORY, tag="sha256")  # not the referrers form
