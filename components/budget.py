"""The stack's AWS Budget: its monthly cost, split out by the cost allocation tag `stack` that every
resource carries (components/tagging.py), alerting the alert topic at the settings' percentages.

Budgets count a user tag only once it is activated as a cost allocation tag (account-level: the
bootstrap stack, in the management or a standalone account); until then the budget tracks $0. The
filter names the tag as `user:<key>$<value>`: without `user:` the budget tracks nothing either
(terraform-provider-aws #39850)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

STACK_TAG_KEY = "stack"


def tag_filter_value(key: str, value: str) -> str:
    """A cost allocation tag as AWS Budgets' `TagKeyValue` filter names it."""
    return f"user:{key}${value}"


@dataclass(frozen=True)
class StackBudgetArgs:
    stack_tag: str
    """The value of the `stack` tag on the stack's resources."""
    monthly_limit_usd: float
    alert_percentages: Sequence[int]
    forecast_percentage: int | None
    alert_topic_arn: pulumi.Input[str]
    tags: dict[str, str] | None = None


class StackBudget(pulumi.ComponentResource):
    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: StackBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:StackBudget", name, None, opts)

        def alert(percentage: int, kind: str) -> aws.budgets.BudgetNotificationArgs:
            return aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                threshold=float(percentage),
                threshold_type="PERCENTAGE",
                notification_type=kind,
                subscriber_sns_topic_arns=[args.alert_topic_arn],
            )

        budget = aws.budgets.Budget(
            f"{name}-monthly",
            name=f"{name}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{args.monthly_limit_usd:.2f}",
            limit_unit="USD",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[tag_filter_value(STACK_TAG_KEY, args.stack_tag)]
                )
            ],
            notifications=[
                *(alert(p, "ACTUAL") for p in sorted(set(args.alert_percentages))),
                *([alert(args.forecast_percentage, "FORECASTED")] if args.forecast_percentage else []),
            ],
            tags=args.tags or {},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.budget_name = budget.name
        self.register_outputs({"budget_name": self.budget_name})
