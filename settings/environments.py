"""User environments by digest (issue 23): the stack file's `jhub-eks:environments` pins each
environment of environments/ (or a public image) to `<repository>@sha256:<digest>`, and user servers
and profiles name an environment (`jupyterhub.userServers.environment`, a profile's `environment`).

The pins are in the stack file, not a file of their own: the settings stay one pure function of the
stack's config (the program, the plan and the tests read the same map), and a promotion's pull request
changes the same file the plan diff is read from, next to any infrastructure change.
maintenance/promote.py writes them, keeping the file's comments.
"""

from __future__ import annotations

import datetime
import re

from pydantic import Field, model_validator

from settings.base import PROJECT, _field_error, _Model
from settings.hub import UserServerSettings
from settings.image_tags import movable_tag_problem

# The account stack's CI roles of the environments workflows (bootstrap/__main__.py names them; a test checks the
# names agree): each stack's repository policy lets them pull, which its Deny refuses everyone else.
ENVIRONMENT_CI_ROLE_NAMES = ("ci-jhub-eks-environments-push", "ci-jhub-eks-environments-promote")
ENVIRONMENT_NAME = r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$"
# <repository>[:<tag>][@sha256:<digest>]: a registry host, then path components (Docker's reference grammar,
# lower case).
IMAGE_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+)(:(?P<tag>[\w][\w.-]{0,127}))?(@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


class EnvironmentPin(_Model):
    """One environment's image as this stack runs it."""

    image: str = Field(pattern=IMAGE_REFERENCE.pattern)
    """`<repository>@sha256:<digest>` (a `:<tag>` before the digest is allowed, for readers): what the
    environment's servers run. Prod refuses an image without a digest, public ones included."""
    built: datetime.date | None = None
    """When the image was built (the build workflow's date; a public image's release date)."""
    compressed_size_bytes: int | None = Field(None, ge=1)
    """The image's compressed size (the sum of its layers in the registry), recorded by the build: what a
    node pulls on a cold spawn."""
    scan: str | None = Field(None, max_length=200)
    """The vulnerability gate's summary for this digest (written by maintenance/promote.py from the gate
    record, environments/gates/)."""
    source: str = Field(min_length=1, max_length=300)
    """Where the digest comes from: the build (workflow run) or the public image and where its digest was read."""

    @property
    def repository(self) -> str:
        return self._parts().group("repository")

    @property
    def tag(self) -> str | None:
        return self._parts().group("tag")

    @property
    def digest(self) -> str | None:
        return self._parts().group("digest")

    def _parts(self) -> re.Match[str]:
        found = IMAGE_REFERENCE.match(self.image)
        assert found, self.image  # the field's pattern
        return found

    @model_validator(mode="after")
    def _check(self) -> EnvironmentPin:
        tag = self._parts().group("tag")
        if (tag is None or tag == "latest") and not self.digest:
            raise _field_error("image", f"{self.image} moves; pin the image by digest (<repository>@sha256:<digest>)")
        movable = None if self.digest else movable_tag_problem(tag)
        if movable:
            raise _field_error("image", f"{movable}; pin the image by digest (<repository>@sha256:<digest>)")
        return self


def environment_name_problem(name: str | None, pins: dict[str, EnvironmentPin], key: str) -> str | None:
    if name is None or name in pins:
        return None
    known = ", ".join(sorted(pins)) or "none"
    return (
        f"{key}: environment {name!r} is not pinned in this stack; add it under jhub-eks:environments "
        f"(maintenance/promote.py writes it) or name one of: {known}"
    )


def _environments_pattern_check(pins: dict[str, EnvironmentPin]) -> list[str]:
    return [
        f"jhub-eks:environments.{name}: the name must match {ENVIRONMENT_NAME} (an environments/ folder's name)"
        for name in pins
        if not re.match(ENVIRONMENT_NAME, name)
    ]


def environment_problems(environments: dict[str, EnvironmentPin], user: UserServerSettings, prod: bool) -> list[str]:
    """Each named environment is pinned; prod runs images by digest only, public ones included."""
    key = f"{PROJECT}:jupyterhub.userServers"
    named = [(f"{key}.environment", user.environment)] + [
        (f"{key}.profiles[{i}].environment", p.environment) for i, p in enumerate(user.profiles)
    ]
    problems = [problem for k, name in named if (problem := environment_name_problem(name, environments, k))]
    if not prod:
        return problems
    fix = "name an environment pinned by digest under jhub-eks:environments (docs/environments.md)"
    for name, pin in environments.items():
        if pin.digest is None:
            problems.append(
                f"{PROJECT}:environments.{name}.image: prod runs images by digest only; pin {pin.image} as "
                f"{pin.repository}@sha256:<digest> (maintenance/promote.py writes it)"
            )
    if user.environment is None:
        problems.append(
            f"{key}.environment: prod runs images by digest only, and userServers.image "
            f"({user.image.name}:{user.image.tag}) is a tag; {fix}"
        )
    for i, profile in enumerate(user.profiles):
        if profile.image is not None:
            problems.append(
                f"{key}.profiles[{i}].image: prod runs images by digest only, and profile {profile.slug!r}'s "
                f"image ({profile.image.name}:{profile.image.tag}) is a tag; replace it with `environment`: {fix}"
            )
    return problems
