"""The hub's contract for a user environment (environments/<name>/), checked from its files before any
build: `python -m maintenance.environments check [NAME...]` (the build workflow runs it on every pull
request; tests/test_environments.py runs it with one mutation per rule). `... changed < paths` prints the
environments a change builds (the workflow's matrix).

The Dockerfile is read by dockerfile-parse (the containerbuildsystem parser: continuation lines, ARG
and ENV substitution, multi-stage FROMs), the lock by its requirement lines. What only a running
container shows (UID 1000 with every capability dropped, no new privileges and no service-account
token) is the build workflow's smoke test, which runs the built image exactly so.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ROOT / "environments"

# The hub's JupyterHub: the z2jh chart the hub runs ships it (data/charts/jupyterhub-<chart>/SOURCE.md
# names it, "(JupyterHub X.Y.Z)"); the singleuser server must be of the same major.minor.
HUB_CHART_SOURCE = ROOT / "data" / "charts" / "jupyterhub-4.4.0" / "SOURCE.md"
# The Dask Gateway server's version (the dask-gateway chart 2026.3.0): the client must match it exactly,
# the gateway refuses a client of another version's protocol.
DASK_GATEWAY_SERVER_VERSION = "2026.3.0"
# Client libraries of the services the hub offers, by distribution name, and the module each imports as
# (the smoke test imports each).
CLIENT_LIBRARIES = {"boto3": "boto3", "s3fs": "s3fs", "dask-gateway": "dask_gateway"}
USER_UID = "1000"
# Bases the hub's contract was read against: Jupyter's docker-stacks (its start scripts, the jovyan user
# of UID 1000 and group users) and Pangeo's images built on the same.
BASE_REPOSITORIES = re.compile(r"^(quay\.io/jupyter|docker\.io/jupyter|jupyter|pangeo|quay\.io/pangeo)/[a-z0-9-]+$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# jupyter_core.paths: the directories every Jupyter application reads its config files from on Linux,
# besides the user's (~/.jupyter) and the environment's (sys.prefix/etc/jupyter, which conda packages use).
JUPYTER_SYSTEM_CONFIG_PATH = ("/usr/local/etc/jupyter", "/etc/jupyter")
# The file the hub mounts into every user server (components/jupyterhub_values.SINGLE_USER_SECURE_XSRF, with the
# department's kernel culling): a mount hides the image's file at the same path, so an environment's own
# defaults go one step lower on the config path, /etc/jupyter, where the hub's settings rank above them.
HUB_MOUNTED_SERVER_CONFIG = "/usr/local/etc/jupyter/jupyter_server_config.json"
SERVER_CONFIG_NAMES = ("jupyter_server_config.json", "jupyter_server_config.py")
# Wheels that would replace a base's CUDA build of PyTorch with another one.
PACKAGE_MANAGERS = ("apt-get", "apt", "mamba", "conda", "micromamba", "pip", "yum", "dnf", "apk")
BASE_OWNED = re.compile(r"^(torch|torchvision|torchaudio|nvidia-[a-z0-9-]+)$")


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def hub_jupyterhub_version() -> str:
    found = re.search(r"\(JupyterHub (\d+\.\d+\.\d+)\)", HUB_CHART_SOURCE.read_text())
    assert found, f"{HUB_CHART_SOURCE} names no JupyterHub version"
    return found.group(1)


def read_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (pinned version, hashes) of a `uv pip compile --generate-hashes` file; a requirement that is
    not `name==version` is kept with version ''."""
    pins: dict[str, tuple[str, list[str]]] = {}
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement, *options = line.split()
        found = re.match(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;]+)$", requirement)
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
        hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:")]
        pins[canonical(name)] = (found.group(3) if found else "", hashes)
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _shell_commands(run: str) -> Iterable[list[str]]:
    """The simple commands of a RUN line (split at &&, ||, ; and |)."""
    try:
        tokens = shlex.split(run, comments=False, posix=True)
    except ValueError:
        tokens = run.split()
    command: list[str] = []
    for token in tokens:
        if token in {"&&", "||", ";", "|"} or token.endswith(";"):
            if token.endswith(";") and token != ";":
                command.append(token[:-1])
            if command:
                yield command
            command = []
        else:
            command.append(token)
    if command:
        yield command


def _adds_setuid(mode: str) -> bool:
    """Whether a chmod mode sets the setuid or setgid bit: symbolic `+s` in any clause, or an octal mode
    whose special digit has 4 or 2."""
    if re.fullmatch(r"[0-7]{4,}", mode):
        return int(mode[-4]) & 0b110 != 0
    return any("+" in clause and "s" in clause.split("+", 1)[1] for clause in mode.split(","))


def _instructions(parser: DockerfileParser) -> list[dict[str, Any]]:
    return [i for i in parser.structure if i["instruction"] != "COMMENT"]


def check_dockerfile(path: Path) -> list[Problem]:
    parser = DockerfileParser(str(path))
    instructions = _instructions(parser)
    problems: list[Problem] = []
    for image in parser.parent_images:
        repository = re.sub(r"(:[\w][\w.-]*)?(@sha256:[0-9a-f]{64})?$", "", image)
        if not DIGEST.search(image):
            problems.append(Problem("base-by-digest", f"FROM {image}: pin the base by digest (<image>@sha256:...)"))
        if not BASE_REPOSITORIES.match(repository):
            problems.append(
                Problem("base-docker-stacks", f"FROM {image}: the contract is read against docker-stacks/pangeo bases")
            )
    users = [i["value"].strip() for i in instructions if i["instruction"] == "USER"]
    if not users or users[-1] not in (USER_UID, f"{USER_UID}:100"):
        last = users[-1] if users else "(none)"
        problems.append(Problem("user-1000", f"the last USER is {last}; end with `USER {USER_UID}` (numeric)"))
    for instruction in instructions:
        kind, value = instruction["instruction"], instruction["value"]
        where = f"line {instruction['startline'] + 1}"
        if kind in ("COPY", "ADD"):
            chmod = re.search(r"--chmod=(\S+)", value)
            if chmod and _adds_setuid(chmod.group(1)):
                problems.append(Problem("no-setuid", f"{where}: {kind} --chmod={chmod.group(1)} adds a setuid bit"))
        if kind in ("ENV", "ARG") and re.search(r"\bGRANT_SUDO\b", value):
            problems.append(Problem("no-sudo", f"{where}: {kind} GRANT_SUDO (docker-stacks' sudo for the user)"))
        if kind != "RUN":
            continue
        if re.search(r"/etc/sudoers", value):
            problems.append(Problem("no-sudo", f"{where}: writes /etc/sudoers"))
        if re.search(r"/var/run/secrets/kubernetes\.io|KUBERNETES_SERVICE_HOST", value):
            problems.append(Problem("no-service-account", f"{where}: reads the Kubernetes API credentials"))
        for command in _shell_commands(value):
            program = Path(command[0]).name if command else ""
            arguments = command[1:]
            if program in PACKAGE_MANAGERS and "sudo" in arguments:
                problems.append(Problem("no-sudo", f"{where}: {program} installs sudo"))
            if program == "chmod":
                modes = [a for a in arguments if not a.startswith("-")][:1]
                if modes and _adds_setuid(modes[0]):
                    problems.append(Problem("no-setuid", f"{where}: chmod {modes[0]} adds a setuid/setgid bit"))
            if program == "setcap":
                problems.append(
                    Problem("no-file-capabilities", f"{where}: setcap (user servers drop every capability)")
                )
            if program in ("pip", "pip3", "uv") and "install" in arguments:
                if "--require-hashes" not in arguments:
                    problems.append(Problem("lock-installed", f"{where}: {program} install without --require-hashes"))
                if "-r" not in arguments and "--requirement" not in arguments:
                    problems.append(
                        Problem("lock-installed", f"{where}: {program} install of packages outside the lock")
                    )
    return problems


def _copy_destinations(path: Path) -> dict[str, str]:
    """Source file -> destination of the build context's COPY instructions."""
    parser = DockerfileParser(str(path))
    copies = {}
    for instruction in _instructions(parser):
        if instruction["instruction"] != "COPY":
            continue
        parts = [p for p in instruction["value"].split() if not p.startswith("--")]
        *sources, destination = parts
        for source in sources:
            copies[source] = (
                destination.rstrip("/") + "/" + Path(source).name if destination.endswith("/") else destination
            )
    return copies


def check_culling(environment: Path) -> list[Problem]:
    copies = _copy_destinations(environment / "Dockerfile")
    installed = {
        source: destination
        for source, destination in copies.items()
        if Path(destination).name in SERVER_CONFIG_NAMES and str(Path(destination).parent) in JUPYTER_SYSTEM_CONFIG_PATH
    }
    if not installed:
        return [
            Problem(
                "kernel-culling",
                f"no jupyter_server_config file is copied onto Jupyter's config path {JUPYTER_SYSTEM_CONFIG_PATH}",
            )
        ]
    problems = [
        Problem(
            "kernel-culling",
            f"{source} is copied to {HUB_MOUNTED_SERVER_CONFIG}, where the hub mounts its own file and hides it: "
            "copy it to /etc/jupyter/jupyter_server_config.json",
        )
        for source, destination in installed.items()
        if destination == HUB_MOUNTED_SERVER_CONFIG
    ]
    for source in installed:
        config = json.loads((environment / source).read_text()) if source.endswith(".json") else {}
        kernels = config.get("MappingKernelManager", {})
        if not kernels.get("cull_idle_timeout", 0) > 0 or not kernels.get("cull_interval", 0) > 0:
            problems.append(
                Problem("kernel-culling", f"{source}: set MappingKernelManager.cull_idle_timeout and cull_interval > 0")
            )
    return problems


def check_lock(environment: Path) -> list[Problem]:
    lock = environment / "requirements.txt"
    if not lock.exists():
        return [Problem("lock-hashes", f"{lock.relative_to(ROOT)} is missing; run environments/lock")]
    pins = read_lock(lock)
    problems = [
        Problem("lock-hashes", f"{name}: pin it with == and its hashes (environments/lock)")
        for name, (version, hashes) in pins.items()
        if not version or not hashes
    ]
    hub = hub_jupyterhub_version()
    singleuser = pins.get("jupyterhub", ("", []))[0]
    if singleuser.split(".")[:2] != hub.split(".")[:2]:
        problems.append(
            Problem(
                "hub-version",
                f"jupyterhub {singleuser or '(absent)'} in the lock; the hub runs {hub} (same major.minor)",
            )
        )
    gateway = pins.get("dask-gateway", ("", []))[0]
    if gateway != DASK_GATEWAY_SERVER_VERSION:
        problems.append(
            Problem(
                "client-libraries", f"dask-gateway {gateway or '(absent)'}; the server is {DASK_GATEWAY_SERVER_VERSION}"
            )
        )
    for library in CLIENT_LIBRARIES:
        if library not in pins:
            problems.append(Problem("client-libraries", f"{library} is not in the lock"))
    replaced = sorted(name for name in pins if BASE_OWNED.match(name))
    if replaced:
        problems.append(Problem("base-owned", f"{replaced}: the base's CUDA build owns these; leave them out"))
    return problems


def check_environment(environment: Path) -> list[Problem]:
    return [*check_dockerfile(environment / "Dockerfile"), *check_lock(environment), *check_culling(environment)]


def environment_names() -> list[str]:
    return sorted(p.parent.name for p in ENVIRONMENTS.glob("*/Dockerfile"))


# What every environment's build depends on besides its own folder: a change to one of these builds them all.
SHARED_BUILD_INPUTS = (
    "environments/build.sh",
    "environments/scan-policy.yaml",
    "maintenance/environments.py",
    "maintenance/promote.py",
    ".github/workflows/environments.yml",
)


def environments_to_build(changed_paths: Iterable[str]) -> list[str]:
    """The environments a change builds (the environments workflow's matrix): those whose folder it touches, all of
    them when it touches what every build uses, none for a gate record (environments/gates/: the pin pull request
    the build itself opens) or documentation alone."""
    names = environment_names()
    selected: set[str] = set()
    for path in changed_paths:
        path = path.strip()
        if path in SHARED_BUILD_INPUTS:
            return names
        parts = path.split("/")
        if len(parts) > 2 and parts[0] == "environments" and parts[1] in names:
            selected.add(parts[1])
    return sorted(selected)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "changed":
        # The changed paths, one a line (git diff --name-only), on stdin; the environments to build, as JSON.
        print(json.dumps(environments_to_build(line for line in sys.stdin if line.strip())))
        return 0
    if not argv or argv[0] != "check":
        print("usage: python -m maintenance.environments check [NAME...] | changed < paths", file=sys.stderr)
        return 2
    failed = False
    for name in argv[1:] or environment_names():
        problems = check_environment(ENVIRONMENTS / name)
        for problem in problems:
            print(f"environments/{name}: {problem}")
        failed = failed or bool(problems)
        if not problems:
            print(f"environments/{name}: meets the hub's contract")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
