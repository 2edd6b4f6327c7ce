"""Adapts the engine's view of a stack (CrossGuard) to the checklist rules."""

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.checklist import RULES, Resource, Rule


def to_resource(resource: PolicyResource) -> Resource:
    return Resource(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=dict(resource.props),
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
        enforcement_level=EnforcementLevel.MANDATORY,
    )


POLICIES: list[Any] = [stack_policy(rule) for rule in RULES]
