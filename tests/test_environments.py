"""Each environment meets the hub's contract (maintenance/environments.py), and each rule bites: a
copy of the environment with one mutation fails that rule and no other test of it passes by accident."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from traitlets.config.loader import JSONFileConfigLoader

from components.department_values import SERVER_CONFIG_PATH
from components.jupyterhub_values import SINGLE_USER_SECURE_XSRF
from maintenance import environments as contract
from tests.conftest import ROOT

NAMES = contract.environment_names()


def test_there_is_a_cpu_and_a_gpu_environment() -> None:
    assert {"datascience", "pytorch-gpu"} <= set(NAMES)
    assert "pytorch-notebook:cuda12" in (ROOT / "environments/pytorch-gpu/Dockerfile").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_environment_meets_the_contract(name: str) -> None:
    assert contract.check_environment(ROOT / "environments" / name) == []


def test_the_hub_version_is_read_from_the_chart_data() -> None:
    assert contract.hub_jupyterhub_version() == "5.5.0"


@pytest.mark.parametrize("name", NAMES)
def test_lock_pins_every_wheel_with_hashes_for_what_the_hub_offers(name: str) -> None:
    pins = contract.read_lock(ROOT / "environments" / name / "requirements.txt")
    assert pins["jupyterhub"][0].startswith("5.5.")
    assert pins["dask-gateway"][0] == "2026.3.0"
    assert {"boto3", "s3fs"} <= set(pins)
    assert all(version and hashes for version, hashes in pins.values())


@pytest.mark.parametrize("name", NAMES)
def test_culling_config_is_loaded_by_the_real_traitlets_loader(name: str) -> None:
    """The file the Dockerfile copies, read as a Jupyter application reads a config file."""
    environment = ROOT / "environments" / name
    destination = contract._copy_destinations(environment / "Dockerfile")["jupyter_server_config.json"]
    assert str(Path(destination).parent) in contract.JUPYTER_SYSTEM_CONFIG_PATH
    # docker-stacks keeps its own /etc/jupyter/jupyter_server_config.py: not replaced.
    assert destination != "/etc/jupyter/jupyter_server_config.py"
    config = JSONFileConfigLoader("jupyter_server_config.json", path=str(environment)).load_config()
    assert config.MappingKernelManager.cull_idle_timeout == 3600
    assert config.MappingKernelManager.cull_interval == 300
    assert config.TerminalManager.cull_inactive_timeout == 3600


def test_the_path_the_contract_keeps_free_is_the_one_the_hub_mounts() -> None:
    """The environments' culling defaults would be hidden by the hub's file at the same path (a mount hides
    what the image has there); the contract refuses that path, so it must be the path the hub really mounts."""
    assert contract.HUB_MOUNTED_SERVER_CONFIG == SINGLE_USER_SECURE_XSRF["mountPath"] == SERVER_CONFIG_PATH


def _edit(path: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(environment: Path) -> None:
        target = environment / path
        text = target.read_text()
        assert re.search(old, text, flags=re.M), f"mutation does not apply: {old!r} not in {path}"
        target.write_text(re.sub(old, new, text, count=1, flags=re.M))

    return edit


def _append(path: str, line: str) -> Callable[[Path], None]:
    def edit(environment: Path) -> None:
        with (environment / path).open("a") as file:
            file.write(line + "\n")

    return edit


def _culling_off(environment: Path) -> None:
    config = json.loads((environment / "jupyter_server_config.json").read_text())
    config["MappingKernelManager"]["cull_idle_timeout"] = 0
    (environment / "jupyter_server_config.json").write_text(json.dumps(config))


DIGEST_LINE = r"^FROM (\S+?)@sha256:[0-9a-f]{64}$"
MUTATIONS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "tag-only base": ("base-by-digest", _edit("Dockerfile", DIGEST_LINE, r"FROM \1")),
    "base outside docker-stacks": (
        "base-docker-stacks",
        _edit("Dockerfile", r"^FROM \S+?(@sha256)", r"FROM docker.io/library/python:3.13\1"),
    ),
    "user by name": ("user-1000", _edit("Dockerfile", r"^USER 1000\nWORKDIR", "USER jovyan\nWORKDIR")),
    "ends as root": ("user-1000", _append("Dockerfile", "USER root")),
    "sudo installed": (
        "no-sudo",
        _append(
            "Dockerfile", "USER root\nRUN apt-get update && apt-get install -y --no-install-recommends sudo\nUSER 1000"
        ),
    ),
    "sudoers written": ("no-sudo", _append("Dockerfile", "RUN echo 'jovyan ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers")),
    "GRANT_SUDO": ("no-sudo", _append("Dockerfile", "ENV GRANT_SUDO=yes")),
    "chmod u+s": ("no-setuid", _append("Dockerfile", "RUN chmod u+s /usr/bin/find")),
    "chmod +s": ("no-setuid", _append("Dockerfile", "RUN true && chmod +s /usr/bin/find")),
    "chmod 4755": ("no-setuid", _append("Dockerfile", "RUN chmod 4755 /usr/bin/find")),
    "COPY --chmod=2755": ("no-setuid", _append("Dockerfile", "COPY --chmod=2755 requirements.txt /usr/local/bin/x")),
    "setcap": ("no-file-capabilities", _append("Dockerfile", "RUN setcap cap_net_raw+ep /usr/bin/ping")),
    "service-account token read": (
        "no-service-account",
        _append("Dockerfile", "RUN cat /var/run/secrets/kubernetes.io/serviceaccount/token || true"),
    ),
    "pip without hashes": ("lock-installed", _edit("Dockerfile", r" --require-hashes", "")),
    "pip of a package outside the lock": (
        "lock-installed",
        _append("Dockerfile", "RUN pip install --require-hashes pandas"),
    ),
    "unpinned requirement": ("lock-hashes", _append("requirements.txt", "requests-oauthlib")),
    "jupyterhub of another minor": (
        "hub-version",
        _edit("requirements.txt", r"^jupyterhub==5\.5\.0", "jupyterhub==5.3.0"),
    ),
    "dask-gateway of another version": (
        "client-libraries",
        _edit("requirements.txt", r"^dask-gateway==2026\.3\.0", "dask-gateway==2025.4.0"),
    ),
    "s3fs missing": ("client-libraries", _edit("requirements.txt", r"^s3fs==", "s3fs-not==")),
    "torch in the lock": (
        "base-owned",
        _append("requirements.txt", "torch==2.9.0 \\\n    --hash=sha256:" + "0" * 64),
    ),
    "culling off": ("kernel-culling", _culling_off),
    "culling config not on the config path": (
        "kernel-culling",
        _edit(
            "Dockerfile",
            r"/etc/jupyter/jupyter_server_config\.json",
            "/home/jovyan/jupyter_server_config.json",
        ),
    ),
    "culling config where the hub's mount hides it": (
        "kernel-culling",
        _edit(
            "Dockerfile",
            r" /etc/jupyter/jupyter_server_config\.json",
            " /usr/local/etc/jupyter/jupyter_server_config.json",
        ),
    ),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_rule_bites(name: str, mutation: str, tmp_path: Path) -> None:
    rule, mutate = MUTATIONS[mutation]
    environment = tmp_path / name
    shutil.copytree(ROOT / "environments" / name, environment)
    mutate(environment)
    rules = {problem.rule for problem in contract.check_environment(environment)}
    assert rule in rules, f"{mutation}: {rule} did not fail (got {rules})"


def test_command_line_passes_the_environments_and_refuses_a_bad_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert contract.main(["check"]) == 0
    shutil.copytree(ROOT / "environments" / "datascience", tmp_path / "broken")
    _append("Dockerfile", "USER root")(tmp_path / "broken")
    monkeypatch.setattr(contract, "ENVIRONMENTS", tmp_path)
    assert contract.main(["check", "broken"]) == 1
