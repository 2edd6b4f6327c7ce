"""The bootstrap stack's keys, checked before anything is declared.

`pulumi.Config` reads only the keys the program asks for, so a misspelt one (`guardDutty: false`) was
ignored and its default deployed: here, GuardDuty's detector in an account whose administrator meant to
keep their own. Every key of the stack file must be one this program reads (KEYS, checked against
__main__.py's reads by tests/test_bootstrap_config.py), one the AWS provider reads, or an engine option.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

PROJECT = "jhub-eks-bootstrap"

KEYS = (
    "githubRepository",
    "resourcePrefix",
    "existingOidcProviderArn",
    "groupLabelTags",
    "environmentsDevRepository",
    "environmentsProdRepository",
    "guardDuty",
    "registryEnhancedScanning",
    "activateCostAllocationTags",
    "activatePodLabelTags",
    "costExport",
)


# The keys read with get_bool, which takes true/True/false/False only (pulumi/config.py `_get_bool`), and with
# get_object (JSON: the engine passes a YAML list as JSON text).
BOOL_KEYS = (
    "guardDuty",
    "registryEnhancedScanning",
    "activateCostAllocationTags",
    "activatePodLabelTags",
    "costExport",
)
LIST_KEYS = ("groupLabelTags",)


@cache
def aws_provider_keys() -> frozenset[str]:
    """The keys the AWS provider reads from `aws:` config (pulumi_aws/config/vars.py, read as text)."""
    spec = importlib.util.find_spec("pulumi_aws")
    assert spec is not None and spec.submodule_search_locations, "pulumi_aws is a runtime requirement"
    source = (Path(next(iter(spec.submodule_search_locations))) / "config" / "vars.py").read_text()
    return frozenset(re.findall(r"__config__\.get\w*\('(\w+)'\)", source))


def _unknown(full_key: str, namespace: str, valid: Iterable[str]) -> str:
    key = full_key.partition(":")[2]
    close = difflib.get_close_matches(key, sorted(valid), n=3)
    hint = f" (did you mean {' or '.join(f'{namespace}:{c}' for c in close)}?)" if close else ""
    return f"{full_key}: unknown setting; remove it or fix its spelling{hint}; valid keys: {', '.join(sorted(valid))}"


def _is_json(value: object) -> bool:
    """A YAML list reaches the program as JSON text; plain text (`groupLabelTags: group.jhub-eks/x`) does not
    parse, and get_object refuses it as "not a valid 'JSON object'". JSON that is no list is __main__'s to name."""
    try:
        json.loads(str(value))
    except ValueError:
        return False
    return True


def config_problems(config: Mapping[str, object]) -> list[str]:
    """One message per key of the stack's config that nothing reads or whose value the program cannot take,
    naming the key and the fix."""
    problems = []
    for full_key in sorted(config):
        namespace, _, key = full_key.partition(":")
        value = config[full_key]
        if namespace == PROJECT and key in BOOL_KEYS and str(value) not in ("true", "True", "false", "False"):
            problems.append(f"{full_key}: {value!r} is not a boolean; write true or false")
        elif namespace == PROJECT and key in LIST_KEYS and not _is_json(value):
            problems.append(f"{full_key}: {value!r} is not a list; write [a, b] or one `- item` line each")
        elif namespace == PROJECT and key not in KEYS:
            problems.append(_unknown(full_key, PROJECT, KEYS))
        elif namespace == "aws" and key not in aws_provider_keys():
            problems.append(_unknown(full_key, "aws", aws_provider_keys()))
        elif namespace not in (PROJECT, "aws", "pulumi"):
            problems.append(
                f"{full_key}: unknown namespace {namespace!r}; the bootstrap stack reads {PROJECT}:<key> and the AWS "
                "provider's aws:<key> (the environment stacks' jhub-eks: keys belong in stacks/Pulumi.<stack>.yaml)"
            )
    return problems
