"""The bootstrap stack's keys, checked before anything is declared.

`pulumi.Config` reads only the keys the program asks for, so a misspelt one (`guardDutty: false`) was
ignored and its default deployed: here, GuardDuty's detector in an account whose administrator meant to
keep their own. Every key of the stack file must be one this program reads (KEYS, checked against
__main__.py's reads by tests/test_bootstrap_config.py), one the AWS provider reads, or an engine option.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from collections.abc import Iterable
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


def config_problems(keys: Iterable[str]) -> list[str]:
    """One message per key of the stack's config that nothing reads, naming the key and the fix."""
    problems = []
    for full_key in sorted(keys):
        namespace, _, key = full_key.partition(":")
        if namespace == PROJECT and key not in KEYS:
            problems.append(_unknown(full_key, PROJECT, KEYS))
        elif namespace == "aws" and key not in aws_provider_keys():
            problems.append(_unknown(full_key, "aws", aws_provider_keys()))
        elif namespace not in (PROJECT, "aws", "pulumi"):
            problems.append(
                f"{full_key}: unknown namespace {namespace!r}; the bootstrap stack reads {PROJECT}:<key> and the AWS "
                "provider's aws:<key> (the environment stacks' jhub-eks: keys belong in stacks/Pulumi.<stack>.yaml)"
            )
    return problems
