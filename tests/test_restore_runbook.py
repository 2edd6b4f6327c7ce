"""The restore runbook (docs/restore.md) run as an operator runs it: its blocks marked `tested:` are
executed by bash against a stand-in `kubectl` that serves what the hub really creates, and the real
libjq (PyPI `jq`, behind a shim of jq's `-r`/`--arg` command line) evaluates their filters.

What is served: each user's home claim and server pod, built by the real KubeSpawner 7.0.0 with prod's
hub settings (tests/user_pods.py: the chart's mapping, then `hub.config`), for the user names the
real authenticator gives at login (tests/test_login.py) — `Alice.Smith@example.org`, an OIDC-style
name that KubeSpawner's safe slug scheme hashes, and `alice` and `alice-smith`, whose claims a guess
would hit. Claims are served as the API server returns them (namespace, bound volume, the
provisioner's annotations, uid, status).

The claim lookup must find exactly each user's claim and pod; the claim swap must recreate the claim
so that the API server accepts it, KubeSpawner finds it by name and the lookup finds it again."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from offline_plan.mock_engine import Inventory
from tests.test_jupyterhub import hub_settings, hub_values
from tests.test_login import logins
from tests.test_user_pods import spawner_config
from tests.user_pods import HubUser, claim, spawn

RUNBOOK = Path(__file__).resolve().parent.parent / "docs" / "restore.md"
LOGIN_NAMES = ("Alice.Smith@example.org", "alice", "alice-smith")
"""As the users type them at the identity provider; the first is the runbook's example."""
HUB_ANNOTATION = "hub.jupyter.org/"

KUBECTL = '''#!{python}
"""kubectl as far as the runbook's tested blocks use it: list or get objects as JSON, apply, patch
and delete (recorded in calls.jsonl with what was applied)."""
import json, os, sys

state = os.environ["KUBECTL_STATE"]
with open(os.path.join(state, "objects.json")) as f:
    objects = json.load(f)
args = sys.argv[1:]
namespace = None
if args[:1] == ["-n"]:
    namespace, args = args[1], args[2:]
applied = sys.stdin.read() if args[:3] == ["apply", "-f", "-"] else None
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps({{"namespace": namespace, "args": args, "applied": applied}}) + "\\n")
kinds = {{"pvc": "PersistentVolumeClaim", "pods": "Pod", "pod": "Pod", "pv": "PersistentVolume"}}
if args[:1] == ["get"] and len(args) >= 2 and args[1] in kinds:
    found = [o for o in objects.get(kinds[args[1]], []) if o["metadata"].get("namespace") == namespace]
    rest = args[2:]
    if rest[:1] and not rest[0].startswith("-"):
        found = [o for o in found if o["metadata"]["name"] == rest[0]]
        if not found:
            sys.exit(f"Error from server (NotFound): {{args[1]}} \\"{{rest[0]}}\\" not found")
        rest = rest[1:]
        if rest == ["-o", "json"]:
            print(json.dumps(found[0], indent=4))
        elif rest == []:
            print(found[0]["metadata"]["name"])
        else:
            sys.exit(f"stand-in kubectl: unsupported {{args}}")
    elif rest == ["-o", "json"]:
        print(json.dumps({{"apiVersion": "v1", "kind": "List", "items": found, "metadata": {{}}}}, indent=4))
    else:
        sys.exit(f"stand-in kubectl: unsupported {{args}}")
elif args[:1] in (["apply"], ["patch"], ["delete"]):
    print(f"{{args[0]}}ed")
else:
    sys.exit(f"stand-in kubectl: unsupported {{args}}")
'''

JQ = '''#!{python}
"""jq's command line as far as the runbook uses it (-r, --arg NAME VALUE, a filter, input files or
stdin), over the real libjq of PyPI's jq."""
import json, sys
import jq

args, raw, variables, files, program = sys.argv[1:], False, {{}}, [], None
while args:
    arg = args.pop(0)
    if arg == "-r":
        raw = True
    elif arg == "--arg":
        name, value = args.pop(0), args.pop(0)
        variables[name] = value
    elif arg.startswith("-"):
        sys.exit(f"jq shim: unsupported option {{arg}}")
    elif program is None:
        program = arg
    else:
        files.append(arg)
text = "".join(open(f).read() for f in files) if files else sys.stdin.read()
for value in jq.compile(program, args=variables).input_text(text):
    print(value if raw and isinstance(value, str) else json.dumps(value, indent=2))
'''


def runbook_block(name: str, text: str | None = None) -> str:
    """The bash block the runbook marks `<!-- tested: name ... -->`, as an operator copies it."""
    text = RUNBOOK.read_text() if text is None else text
    found = re.search(rf"<!-- tested: {name}\b.*?-->\n(?P<indent> *)```bash\n(?P<body>.*?)\n(?P=indent)```", text, re.S)
    assert found, f"docs/restore.md has no bash block marked `tested: {name}`"
    return textwrap.dedent(found["body"])


@dataclass
class Cluster:
    namespace: str
    kubernetes_version: str
    hub_names: dict[str, str]
    """login name -> the hub's user name."""
    claims: dict[str, dict[str, Any]]
    """hub user name -> the home claim as the API server returns it."""
    pods: dict[str, dict[str, Any]]

    def objects(self, claims: list[dict[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
        hub_db = {  # the chart's hub-db-dir claim: no hub annotations at all
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "hub-db-dir", "namespace": self.namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
        return {
            "PersistentVolumeClaim": [*(self.claims.values() if claims is None else claims), hub_db],
            "Pod": list(self.pods.values()),
        }


def as_served(manifest: dict[str, Any], namespace: str, index: int) -> dict[str, Any]:
    """The object as `kubectl get -o json` shows it once created (and, for a claim, bound)."""
    served = copy.deepcopy(manifest)
    served["metadata"].update(
        namespace=namespace,
        uid=f"00000000-0000-4000-8000-{index:012d}",
        resourceVersion=str(1000 + index),
        creationTimestamp="2026-01-05T09:00:00Z",
    )
    if served["kind"] == "PersistentVolumeClaim":
        served["metadata"]["annotations"].update(
            {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                "volume.kubernetes.io/selected-node": "ip-10-0-1-23.eu-west-1.compute.internal",
            }
        )
        served["metadata"]["finalizers"] = ["kubernetes.io/pvc-protection"]
        served["spec"]["volumeName"] = f"pvc-00000000-0000-4000-8000-{index:012d}"
        served["spec"]["volumeMode"] = "Filesystem"
        served["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}}
    return served


@pytest.fixture(scope="module")
def cluster(plans: dict[str, Inventory]) -> Cluster:
    plan = plans["prod"]
    settings, values = hub_settings(plan), hub_values(plan)
    assert settings["auth"] == "oidc", "prod logs in with OpenID Connect: its user names are the example"
    oidc = settings["oidc"]
    username, groups = oidc.get("usernameClaim", "preferred_username"), oidc.get("groupsClaim", "groups")
    claims_at_login = {name: {username: name, groups: [oidc["allowedGroups"][0]]} for name in LOGIN_NAMES}
    hub_names = {login: model["name"] for login, model in logins(values, claims_at_login, set()).items()}
    config = spawner_config(plan)
    namespace = settings.get("namespace", "jupyterhub")
    claims, pods = {}, {}
    for index, name in enumerate(hub_names.values()):
        claims[name] = as_served(claim(config, HubUser(name, id=index + 1)), namespace, index)
        pods[name] = as_served(spawn(config, HubUser(name, id=index + 1))[1], namespace, 100 + index)
    version = plan.one("eks:index:Cluster").inputs["version"]
    return Cluster(namespace, version, hub_names, claims, pods)


def run(block: str, folder: Path, objects: dict[str, Any], env: dict[str, str], after: str = "") -> list[dict]:
    """Run the block (and `after`) in bash in `folder`, with the stand-in kubectl and the jq shim
    first on PATH; the kubectl calls it made."""
    tools, state = folder / "bin", folder / "state"
    tools.mkdir(exist_ok=True)
    state.mkdir(exist_ok=True)
    for name, source in (("kubectl", KUBECTL), ("jq", JQ)):
        (tools / name).write_text(source.format(python=sys.executable))
        (tools / name).chmod(0o755)
    (state / "objects.json").write_text(json.dumps(objects))
    (state / "calls.jsonl").write_text("")
    result = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{block}\n{after}"],
        cwd=folder,
        env={**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "KUBECTL_STATE": str(state), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"the block failed:\n{block}\n{result.stderr}"
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


def looked_up(block: str, login: str, folder: Path, objects: dict[str, Any], namespace: str) -> tuple[str, str]:
    """(USER_PVC, USER_POD) the lookup block sets for a user who logs in as `login`."""
    assert re.search(r"^HUB_USER=", block, re.M), "the lookup names the user in HUB_USER"
    block = re.sub(r"^HUB_USER=.*$", f"HUB_USER={shlex.quote(login)}", block, count=1, flags=re.M)
    after = 'printf %s "$USER_PVC" > found-claim; printf %s "$USER_POD" > found-pod'
    run(block, folder, objects, {"NS": namespace}, after)
    return (folder / "found-claim").read_text(), (folder / "found-pod").read_text()


def lookup_problems(block: str, cluster: Cluster, folder: Path) -> list[str]:
    problems = []
    for login, name in cluster.hub_names.items():
        expected = (cluster.claims[name]["metadata"]["name"], cluster.pods[name]["metadata"]["name"])
        found = looked_up(block, login, folder, cluster.objects(), cluster.namespace)
        if found != expected:
            problems.append(f"{login} (hub user {name}): found claim/pod {found}, theirs are {expected}")
    return problems


# ---- Finding one user's claim ---------------------------------------------------------------------


def test_the_example_is_a_name_kubespawner_hashes(cluster: Cluster) -> None:
    """The runbook's example is the hard case: the claim's name cannot be derived from the name."""
    (line,) = [line for line in runbook_block("claim-lookup").splitlines() if line.startswith("HUB_USER=")]
    assert shlex.split(line.partition("=")[2], comments=True) == [LOGIN_NAMES[0]]
    name = cluster.hub_names[LOGIN_NAMES[0]]
    assert name == "alice.smith@example.org"  # the authenticator lower-cases at login
    claim_name = cluster.claims[name]["metadata"]["name"]
    assert re.fullmatch(r"claim-alice-smith-example-org---[0-9a-f]{8}", claim_name), claim_name
    assert claim_name in RUNBOOK.read_text(), "the runbook shows what such a claim is called"
    assert cluster.claims["alice"]["metadata"]["name"] == "claim-alice"


def test_the_lookup_finds_each_users_claim_and_pod_and_no_one_elses(cluster: Cluster, tmp_path: Path) -> None:
    assert lookup_problems(runbook_block("claim-lookup"), cluster, tmp_path) == []


def test_the_hub_lower_cased_name_finds_the_claim_too(cluster: Cluster, tmp_path: Path) -> None:
    name = cluster.hub_names[LOGIN_NAMES[0]]
    found = looked_up(runbook_block("claim-lookup"), name, tmp_path, cluster.objects(), cluster.namespace)
    assert found == (cluster.claims[name]["metadata"]["name"], cluster.pods[name]["metadata"]["name"])


OLD_GUESS = "USER_PVC=claim-alice                      # KubeSpawner's claim-{user}"
"""Step 1 of the runbook before it looked claims up (git history of docs/restore.md)."""


@pytest.mark.parametrize(
    "replacement",
    [
        OLD_GUESS,
        'USER_PVC=claim-$(printf %s "$HUB_USER" | tr A-Z a-z)',
        'USER_PVC=$(kubectl -n $NS get pvc -o json | jq -r --arg user "$HUB_USER" '
        '\'.items[] | select(.metadata.labels["hub.jupyter.org/username"] == ($user | ascii_downcase)) '
        "| .metadata.name')",
        'USER_PVC=$(kubectl -n $NS get pvc -o json | jq -r --arg user "$HUB_USER" '
        "'.items[] | select(.metadata.annotations[\"hub.jupyter.org/username\"] == $user) | .metadata.name')",
    ],
    ids=["the old claim-alice", "claim-<lower-cased name>", "by the username label", "case-sensitive"],
)
def test_a_claim_found_another_way_is_someone_elses_or_none(cluster: Cluster, tmp_path: Path, replacement: str) -> None:
    block = runbook_block("claim-lookup")
    assert re.search(r"^USER_PVC=.*$", block, re.M)
    guessed = re.sub(r"^USER_PVC=.*$", lambda _: replacement, block, count=1, flags=re.M)
    problems = lookup_problems(guessed, cluster, tmp_path)
    assert any(p.startswith(f"{LOGIN_NAMES[0]} ") for p in problems), problems


# ---- Swapping the claim onto the restored volume ------------------------------------------------


def save_claim_command() -> str:
    """Step 1's (and the hub database's) copy of the claim, which step 3 recreates it from."""
    (command,) = {line.strip() for line in RUNBOOK.read_text().splitlines() if "-o json > claim-$USER_PVC.json" in line}
    return command


def test_the_swapped_claim_is_valid_bound_to_the_restored_volume_and_found_again(
    cluster: Cluster, tmp_path: Path
) -> None:
    name = cluster.hub_names[LOGIN_NAMES[0]]
    original = cluster.claims[name]
    user_pvc, volume = original["metadata"]["name"], original["spec"]["volumeName"]
    env = {
        "NS": cluster.namespace,
        "USER_PVC": user_pvc,
        "PV": volume,
        "SIZE": "10",
        "AZ": "eu-west-1b",
        "NEW_VOL": "vol-0123456789abcdef0",
    }
    # Step 1's copy of the claim, by the runbook's own command.
    run(save_claim_command(), tmp_path, cluster.objects(), env)
    calls = run(runbook_block("claim-swap"), tmp_path, cluster.objects(), env)

    verbs = [(c["args"][0], *c["args"][1:3]) for c in calls]
    assert verbs[:2] == [("patch", "pv", volume), ("delete", "pvc", user_pvc)]
    applied = [doc for c in calls if c["applied"] for doc in yaml.safe_load_all(c["applied"])]
    (pv,) = [d for d in applied if d["kind"] == "PersistentVolume"]
    (pvc,) = [d for d in applied if d["kind"] == "PersistentVolumeClaim"]
    for document in (pv, pvc):
        kubernetes_validate.validate(document, cluster.kubernetes_version, strict=True)

    assert pv["spec"]["claimRef"] == {"namespace": cluster.namespace, "name": user_pvc}
    assert pv["spec"]["csi"]["volumeHandle"] == env["NEW_VOL"]
    assert pvc["metadata"]["name"] == user_pvc  # KubeSpawner remembers the claim by name
    assert pvc["metadata"]["namespace"] == cluster.namespace
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    for key in ("accessModes", "storageClassName", "resources"):
        assert pvc["spec"][key] == original["spec"][key], key
    assert pvc["metadata"]["labels"] == original["metadata"]["labels"]
    hub_annotations = {k: v for k, v in original["metadata"]["annotations"].items() if k.startswith(HUB_ANNOTATION)}
    assert pvc["metadata"]["annotations"] == hub_annotations
    # Nothing of the old object's server-side state (uid, resourceVersion, binding, status) carried over.
    assert set(pvc["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    assert "status" not in pvc

    others = [c for n, c in cluster.claims.items() if n != name]
    restored = as_served(pvc, cluster.namespace, 99)
    found = looked_up(
        runbook_block("claim-lookup"), LOGIN_NAMES[0], tmp_path, cluster.objects([restored, *others]), cluster.namespace
    )
    assert found[0] == user_pvc


def test_the_hub_database_claim_has_no_hub_annotations_to_keep(cluster: Cluster, tmp_path: Path) -> None:
    """The swap's filter copes with a claim without annotations or labels (the hub's hub-db-dir)."""
    env = {"NS": cluster.namespace, "USER_PVC": "hub-db-dir", "PV": "pvc-hub", "SIZE": "1", "AZ": "eu-west-1a"}
    env["NEW_VOL"] = "vol-0fedcba9876543210"
    run(save_claim_command(), tmp_path, cluster.objects(), env)
    calls = run(runbook_block("claim-swap"), tmp_path, cluster.objects(), env)
    (pvc,) = [
        d for c in calls if c["applied"] for d in yaml.safe_load_all(c["applied"]) if d["kind"] != "PersistentVolume"
    ]
    kubernetes_validate.validate(pvc, cluster.kubernetes_version, strict=True)
    assert pvc["metadata"] == {"name": "hub-db-dir", "namespace": cluster.namespace, "labels": {}, "annotations": {}}
