"""Adapts the engine's view of a stack (CrossGuard) to the checklist rules.

The engine passes each resource's *outputs* (a component's registered outputs only), its parent and
direct dependencies. pulumi_policy wraps the properties in a proxy that raises `UnknownValueError`
on any value not known yet (a preview), which would skip the whole rule as "can't run during
preview"; the adapter instead hands the rules plain data with `UNKNOWN` in those places, and each
rule treats a value it cannot know yet as no violation (the update checks the real value).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import _is_unknown

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.checklist import RULES, UNKNOWN, Resource, Rule


def plain(value: Any) -> Any:
    """The SDK's proxied properties as plain dicts and lists, unknowns as `UNKNOWN`."""
    if type(value).__name__ in ("_DictProxy", "_ListProxy"):
        value = value["__target"]  # the proxies' own escape hatch (pulumi_policy.deserialize uses it)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return UNKNOWN if _is_unknown(value) else value


def to_resource(resource: PolicyResource) -> Resource:
    return Resource(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=plain(resource.props),
        parent=resource.parent.urn if resource.parent else "",
        dependencies=[d.urn for d in resource.dependencies],
    )


def stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for violation in rule.check([to_resource(r) for r in args.resources]):
            report_violation(violation.message, violation.urn)

    return StackValidationPolicy(
        name=rule.id,
        description=f"{rule.checklist_item}: {rule.description}",
        validate=validate,
        enforcement_level=EnforcementLevel.ADVISORY if rule.advisory else EnforcementLevel.MANDATORY,
    )


POLICIES: list[Any] = [stack_policy(rule) for rule in RULES]
