"""Image tags that are no pin: the OCI referrers tag schema's `sha256-<hex of a digest>` (distribution-spec,
"Referrers Tag Schema"), under which actions/attest keeps a digest's attestations on ECR and which the program's
repositories therefore let move (components/registry.py REFERRERS_TAG_FILTER, IMMUTABLE_WITH_EXCLUSION). An image
named by such a tag alone runs whatever was last written under it; with a digest after it, the digest decides."""

from __future__ import annotations

REFERRERS_TAG_PREFIX = "sha256-"


def movable_tag_problem(tag: str | None) -> str | None:
    """Why `tag` does not pin an image, or None."""
    if tag is not None and tag.startswith(REFERRERS_TAG_PREFIX):
        return (
            f"the tag {tag} is a digest's attestations index (the {REFERRERS_TAG_PREFIX}* tags of the stack's "
            "registry may move), not an image"
        )
    return None
