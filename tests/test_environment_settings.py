"""Stack settings name environments, which resolve to `<repository>@sha256:<digest>` (settings/environments.py);
prod refuses any image without a digest, public ones included, with one message naming the key."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.jupyterhub_values import build_values, environment_image, redacted_secrets
from offline_plan.environments import environment_lines
from offline_plan.mock_engine import load_stack_config
from settings import PROJECT, Settings, SettingsError, parse_settings
from tests import charts

GPU_DIGEST = "sha256:69c72823a4e0dbee17114bbe44d0377bc9a39504a76f6314995f7d5bfaa98d60"


def _settings(stack: str, edit: Any = None) -> Settings:
    config, secret_keys = load_stack_config(stack)
    config = copy.deepcopy(config)
    documents = {
        key: json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
        for key, value in config.items()
    }
    if edit is not None:
        edit(documents)
    flat = {key: json.dumps(value) if isinstance(value, dict | list) else value for key, value in documents.items()}
    return parse_settings(stack, flat, frozenset(secret_keys))


def _refused(stack: str, edit: Any) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        _settings(stack, edit)
    return str(raised.value).splitlines()


def test_the_stacks_run_every_profile_by_digest() -> None:
    for stack in ("dev", "prod"):
        settings = _settings(stack)
        for profile in [None, *(p.slug for p in settings.jupyterhub.user_servers.profiles)]:
            environment = settings.environment_of(profile)
            assert environment is not None and environment[1].digest, (stack, profile)
    assert _settings("prod").environment_of("gpu") == ("pytorch-gpu", _settings("prod").environments["pytorch-gpu"])


def test_prod_refuses_a_tag_only_pin_with_one_message_naming_the_key() -> None:
    def tag_only(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:environments"]["datascience"]["image"] = "quay.io/jupyter/scipy-notebook:2026-06-15"

    assert _refused("prod", tag_only) == [
        f"{PROJECT}:environments.datascience.image: prod runs images by digest only; pin "
        "quay.io/jupyter/scipy-notebook:2026-06-15 as quay.io/jupyter/scipy-notebook@sha256:<digest> "
        "(maintenance/promote.py writes it)"
    ]
    _settings("dev", tag_only)  # dev may try a tag


def test_prod_refuses_the_image_key_by_tag() -> None:
    def by_tag(config: dict[str, Any]) -> None:
        user = config[f"{PROJECT}:jupyterhub"]["userServers"]
        del user["environment"]
        user["profiles"][3]["image"] = {"name": "quay.io/jupyter/pytorch-notebook", "tag": "cuda12-2026-09-01"}
        del user["profiles"][3]["environment"]

    problems = _refused("prod", by_tag)
    assert [p.split(":", 2)[1].split(" ")[0] for p in problems] == [
        "jupyterhub.userServers.environment",
        "jupyterhub.userServers.profiles[3].image",
    ]


def test_a_name_that_is_not_pinned_is_refused() -> None:
    def unknown(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:jupyterhub"]["userServers"]["environment"] = "datasceince"

    (problem,) = _refused("dev", unknown)
    assert problem.startswith(f"{PROJECT}:jupyterhub.userServers.environment: environment 'datasceince' is not pinned")


def test_a_moving_pin_is_refused_everywhere() -> None:
    def latest(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:environments"]["datascience"]["image"] = "quay.io/jupyter/scipy-notebook:latest"

    (problem,) = _refused("dev", latest)
    assert "environments.datascience.image" in problem and "moves" in problem


def test_image_and_environment_together_are_refused() -> None:
    def both(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:jupyterhub"]["userServers"]["image"] = {"name": "quay.io/x/y", "tag": "1"}

    (problem,) = _refused("dev", both)
    assert "userServers.image" in problem and "beside `environment`" in problem


def test_the_plan_prints_each_profiles_environment_digest_date_and_size() -> None:
    text = "\n".join(environment_lines(_settings("prod")))
    assert f"gpu -> pytorch-gpu: quay.io/jupyter/pytorch-notebook@{GPU_DIGEST}" in text
    assert "built 2026-08-03; 4.94 GiB compressed" in text
    assert "standard, large, curator -> datascience" in text


def test_the_chart_pulls_and_runs_exactly_the_pinned_digest() -> None:
    """Rendered by the real z2jh 4.4.0 templates: the continuous puller pulls `<repository>@sha256:<hex>`, and
    the hub's config joins name and tag the same way (files/hub/jupyterhub_config.py)."""
    settings = _settings("prod")
    pin = settings.environments["datascience"]
    image = environment_image(pin.repository, pin.tag, pin.digest)
    values = build_values(
        settings.jupyterhub,
        storage_class="gp3",
        secrets=redacted_secrets(),
        user_image=image,
        certificate_arn="arn:aws:acm:eu-west-1:444455556666:certificate/11111111-2222-3333-4444-555555555555",
    )
    objects = charts.render("jupyterhub", "4.4.0", values, release="jupyterhub", namespace="jupyterhub")
    (puller,) = [o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "continuous-image-puller"]
    pulled = {c["name"]: c["image"] for c in puller["spec"]["template"]["spec"]["initContainers"]}
    assert pulled["image-pull-singleuser"] == f"{pin.repository}@{pin.digest}"
    assert (
        f"{values['singleuser']['image']['name']}:{values['singleuser']['image']['tag']}"
        == f"{pin.repository}@{pin.digest}"
    )
