"""The publish job attaches two attestations to each digest it pushes (build provenance, then the SBOM:
actions/attest-build-provenance and actions/attest-sbom with push-to-registry). Their client, sigstore-js's
@sigstore/oci (OCIImage.addArtifact), pings the referrers API and, where the registry does not answer it (its
own comment: "AWS ECR does NOT support the referrers API"), keeps the image's attestations in an OCI index tagged
`sha256-<hex>` (distribution-spec "Referrers Tag Schema"), read, extended and PUT again for each new attestation.

Modelled here on ECR's tag mutability (ECR user guide, "Preventing image tags from being overwritten"): in an
IMMUTABLE repository a PUT of an existing tag to another manifest is refused (ImageTagAlreadyExistsException /
TAG_INVALID); with IMMUTABLE_WITH_EXCLUSION, tags matching an exclusion filter (wildcards `*`) may move.
The repository's settings are read from each stack's plan."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from offline_plan.mock_engine import Inventory


class TagImmutableError(Exception):
    pass


@dataclass
class EcrRepository:
    mutability: str
    exclusions: list[str]
    tags: dict[str, str] = field(default_factory=dict)

    def _may_move(self, tag: str) -> bool:
        excluded = any(fnmatch.fnmatchcase(tag, pattern) for pattern in self.exclusions)
        if self.mutability == "IMMUTABLE":
            return False
        if self.mutability == "IMMUTABLE_WITH_EXCLUSION":
            return excluded
        return not (self.mutability == "MUTABLE_WITH_EXCLUSION" and excluded)

    def put_manifest(self, tag: str, manifest: dict[str, Any]) -> str:
        digest = "sha256:" + hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
        if tag in self.tags and self.tags[tag] != digest and not self._may_move(tag):
            raise TagImmutableError(f"The image tag '{tag}' already exists and cannot be overwritten")
        self.tags[tag] = digest
        return digest


def attach_by_tag_schema(repository: EcrRepository, image_digest: str, artifact_digest: str) -> None:
    """@sigstore/oci #createReferrersIndexByTag: read the index at `sha256-<hex>` (or start one), add the artifact,
    PUT it back under the same tag."""
    tag = image_digest.replace(":", "-")
    index: dict[str, Any] = repository.__dict__.setdefault("indexes", {}).get(tag, {"manifests": []})
    index = {"manifests": [*index["manifests"], {"digest": artifact_digest}]}
    repository.put_manifest(tag, index)
    repository.__dict__["indexes"][tag] = index


def repository_of(plan: Inventory) -> EcrRepository:
    inputs = plan.one("aws:ecr/repository:Repository").inputs
    filters = inputs.get("imageTagMutabilityExclusionFilters") or []
    assert all(f["filterType"] == "WILDCARD" for f in filters)
    return EcrRepository(inputs["imageTagMutability"], [f["filter"] for f in filters])


IMAGE = "sha256:" + "ab" * 32


@pytest.mark.parametrize("plan", ["dev", "prod"], indirect=True)
def test_both_attestations_of_a_pushed_digest_are_stored(plan: Inventory) -> None:
    repository = repository_of(plan)
    repository.put_manifest("datascience-0123456789ab", {"image": IMAGE})
    attach_by_tag_schema(repository, IMAGE, "sha256:" + "01" * 32)  # build provenance
    attach_by_tag_schema(repository, IMAGE, "sha256:" + "02" * 32)  # SBOM: the same tag, moved


@pytest.mark.parametrize("plan", ["dev", "prod"], indirect=True)
def test_every_other_tag_stays_immutable(plan: Inventory) -> None:
    repository = repository_of(plan)
    for tag in ("pinned-datascience-abababababab", "datascience-0123456789ab", "latest"):
        repository.put_manifest(tag, {"image": IMAGE})
        with pytest.raises(TagImmutableError):
            repository.put_manifest(tag, {"image": "sha256:" + "cd" * 32})


def test_an_immutable_repository_refuses_the_second_attestation() -> None:
    """The model bites: the repository as first declared (IMMUTABLE, no exclusion) fails the SBOM step."""
    repository = EcrRepository("IMMUTABLE", [])
    attach_by_tag_schema(repository, IMAGE, "sha256:" + "01" * 32)
    with pytest.raises(TagImmutableError):
        attach_by_tag_schema(repository, IMAGE, "sha256:" + "02" * 32)
