"""The stack's AWS Budget: it counts what the stack's resources cost (its tag filter names a tag every
resource carries, and bootstrap/ activates that key), and its alerts reach the encrypted alert topic
(the topic policy and the key policy let AWS Budgets publish, as its user guide requires)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from bootstrap.account_prerequisites import COST_ALLOCATION_TAG_KEYS
from components import tagging
from offline_plan import cost
from offline_plan.mock_engine import ACCOUNT_ID, Inventory
from policies import checklist
from tests.conftest import ROOT, key_arn, region_of, run_plan
from tests.iam_eval import IamRequest, evaluate
from tests.test_bootstrap import run_bootstrap
from tests.test_cost_tags import expected_tags

BUDGET = "aws:budgets/budget:Budget"


def stack_settings(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["jhub-eks:cost"]


def tag_filter(budget: dict[str, Any]) -> tuple[str, str]:
    """The (key, value) a `TagKeyValue` filter matches: `user:<key>$<value>` (Budgets' format; a value
    without the `user:` prefix matches no cost at all)."""
    (cost_filter,) = budget["costFilters"]
    assert cost_filter["name"] == "TagKeyValue"
    (value,) = cost_filter["values"]
    assert value.startswith("user:"), value
    key, _, tag_value = value.removeprefix("user:").partition("$")
    return key, tag_value


def test_the_budget_counts_what_the_stack_s_resources_cost(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        budget = plan.one(BUDGET).inputs
        key, value = tag_filter(budget)
        # Every component's resources carry that tag with that value (test_cost_tags checks them all),
        # and it is one of the keys bootstrap/ activates (Budgets ignores inactive tags).
        assert expected_tags(plan, "Network")[key] == value == f"jhub-{plan.stack}"
        assert key in COST_ALLOCATION_TAG_KEYS
        assert (budget["budgetType"], budget["timeUnit"], budget["limitUnit"]) == ("COST", "MONTHLY", "USD")
        limit = stack_settings(plan.stack)["budget"]["monthlyLimitUsd"]
        assert float(budget["limitAmount"]) == limit


def test_another_stack_s_resources_are_not_counted(plans: dict[str, Inventory]) -> None:
    dev, prod = plans["dev"], plans["prod"]
    assert tag_filter(dev.one(BUDGET).inputs) != tag_filter(prod.one(BUDGET).inputs)
    key, value = tag_filter(dev.one(BUDGET).inputs)
    assert prod.one("aws:ec2/vpc:Vpc").inputs["tags"][key] != value


def test_alerts_go_to_the_alert_topic_at_the_settings_thresholds(plans: dict[str, Inventory]) -> None:
    for plan in plans.values():
        topic = plan.one("aws:sns/topic:Topic").arn
        notifications = plan.one(BUDGET).inputs["notifications"]
        assert all(n["subscriberSnsTopicArns"] == [topic] for n in notifications)
        assert all(
            n["thresholdType"] == "PERCENTAGE" and n["comparisonOperator"] == "GREATER_THAN" for n in notifications
        )
        # Defaults: 80 and 100 % of the actual cost, 100 % of the forecast.
        assert sorted((n["notificationType"], n["threshold"]) for n in notifications) == [
            ("ACTUAL", 80.0),
            ("ACTUAL", 100.0),
            ("FORECASTED", 100.0),
        ]


def _publish_requests(plan: Inventory, source_account: str) -> list[IamRequest]:
    topic = plan.one("aws:sns/topic:Topic")
    key = plan.one("aws:kms/key:Key", "alerts")
    budget_arn = f"arn:aws:budgets::{source_account}:budget/jhub-{plan.stack}-monthly"
    # What Budgets sends with its publish (the Budgets user guide's topic policy conditions on both).
    context = {"aws:SourceAccount": source_account, "aws:SourceArn": budget_arn}
    service = "budgets.amazonaws.com"
    return [
        IamRequest(
            action="sns:Publish",
            resource=topic.arn,
            identity_policies=[],
            principal=service,
            context={**context, "aws:SecureTransport": "true"},
            resource_policy=json.loads(plan.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"]),
        ),
        # SNS asks KMS for a data key on the publisher's behalf (encrypted topic).
        *(
            IamRequest(
                action=action,
                resource=key_arn(plan, "alerts"),
                identity_policies=[],
                principal=service,
                context=context,
                resource_policy=json.loads(key.inputs["policy"]),
            )
            for action in ("kms:GenerateDataKey", "kms:Decrypt")
        ),
    ]


def test_budgets_may_publish_to_the_encrypted_alert_topic(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    assert evaluate(_publish_requests(plan, ACCOUNT_ID)) == ["Allowed"] * 3
    # Another account's budget may not (the key statement is unconditioned, as AWS documents it; the
    # topic policy is what confines it).
    assert evaluate(_publish_requests(plan, "999999999999"))[0] == "ImplicitlyDenied"


def test_without_the_key_statement_budget_alerts_would_be_lost(plans: dict[str, Inventory]) -> None:
    """The mutation: drop Budgets from the alert key's policy and SNS can no longer encrypt its message."""
    plan = plans["prod"]
    key = plan.one("aws:kms/key:Key", "alerts")
    policy = json.loads(key.inputs["policy"])
    policy["Statement"] = [s for s in policy["Statement"] if "budgets" not in json.dumps(s.get("Principal"))]
    requests = _publish_requests(plan, ACCOUNT_ID)
    mutated = IamRequest(**{**requests[1].__dict__, "resource_policy": policy})
    assert evaluate([mutated]) == ["ImplicitlyDenied"]


def test_a_stack_may_turn_its_budget_off_only_explicitly(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"]["jhub-eks:cost"] = {"budget": {"enabled": False}}
    stack_file.write_text(yaml.safe_dump(document))
    result = run_plan("dev", tmp_path / "plan.json", stack_file)
    assert result.returncode == 0, result.stderr
    assert not Inventory.from_json(json.loads((tmp_path / "plan.json").read_text())).of_type(BUDGET)


# ---- Cost allocation tags: activated by bootstrap/, when asked -------------------------------------


def test_bootstrap_activates_exactly_the_tags_the_stacks_carry() -> None:
    assert tuple(COST_ALLOCATION_TAG_KEYS) == tagging.COST_TAG_KEYS
    assert run_bootstrap().of_type("aws:costexplorer/costAllocationTag:CostAllocationTag") == []
    activated = run_bootstrap(config={"jhub-eks-bootstrap:activateCostAllocationTags": "true"}).of_type(
        "aws:costexplorer/costAllocationTag:CostAllocationTag"
    )
    assert sorted((t.inputs["tagKey"], t.inputs["status"]) for t in activated) == sorted(
        (k, "Active") for k in tagging.COST_TAG_KEYS
    )


def test_the_plan_warns_when_the_budget_is_below_the_fixed_cost(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"]["jhub-eks:cost"] = {"budget": {"monthlyLimitUsd": 100}}
    stack_file.write_text(yaml.safe_dump(document))
    result = run_plan("dev", tmp_path / "plan.json", stack_file)
    assert result.returncode == 0, result.stderr
    assert "[WARN] cost.budget.monthlyLimitUsd 100 is below the stack's fixed monthly cost" in result.stdout


def test_the_committed_budgets_are_above_the_fixed_cost(plans: dict[str, Inventory]) -> None:
    for stack, plan in plans.items():
        fixed = cost.estimate(plan, cost.load_prices(region_of(plan)), checklist.support_phase, 160).total("min")
        assert stack_settings(stack)["budget"]["monthlyLimitUsd"] > fixed, stack


def test_the_budget_and_alarms_wait_for_the_topic_policy(plans: dict[str, Inventory]) -> None:
    """Created before the policy lets them publish, a budget may be refused (and alerts lost)."""
    for plan in plans.values():
        policy = plan.one("aws:sns/topicPolicy:TopicPolicy").urn
        for resource in [plan.one(BUDGET), *plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]:
            assert policy in resource.dependencies, resource.name
