"""The alert channel: a KMS-encrypted SNS topic that every alarm and finding rule notifies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


def topic_policy(topic_arn: str, account_id: str) -> dict[str, Any]:
    """CloudWatch alarms and AWS Budgets of this account and EventBridge rules may publish; nothing
    without TLS.

    EventBridge's statement has no condition: "You can't use Condition blocks in Amazon SNS topic
    policies for EventBridge" (EventBridge user guide, Amazon SNS permissions). Budgets' is the one the
    Budgets user guide gives ("Creating an Amazon SNS topic for budget notifications"): this account's
    budgets only (budget ARNs have no region)."""
    partition = topic_arn.split(":")[1]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AlarmsOfThisAccountPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "EventBridgeRulesPublish",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
            },
            {
                "Sid": "BudgetsOfThisAccountPublish",
                "Effect": "Allow",
                "Principal": {"Service": "budgets.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account_id}:*"},
                },
            },
            {
                "Sid": "DenyWithoutTLS",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


@dataclass(frozen=True)
class AlertTopicArgs:
    key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    emails: Sequence[str] = ()
    https_endpoints: Sequence[str] = ()
    tags: dict[str, str] | None = None


class AlertTopic(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:AlertTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-alerts",
            display_name=f"{name} security alerts",
            kms_master_key_id=args.key_arn,
            tags=args.tags or {},
            opts=child,
        )
        policy = aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, args.account_id).apply(lambda v: json.dumps(topic_policy(v[0], v[1]))),
            opts=child,
        )
        for index, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-alerts-email-{index}", topic=topic.arn, protocol="email", endpoint=email, opts=child
            )
        for index, url in enumerate(args.https_endpoints):
            aws.sns.TopicSubscription(
                f"{name}-alerts-https-{index}", topic=topic.arn, protocol="https", endpoint=url, opts=child
            )
        # Through the policy: alarms, rules and the budget are created once the topic lets them publish
        # (AWS Budgets may refuse a topic it cannot publish to when the budget is created).
        self.topic_arn = policy.arn
        self.register_outputs({"topic_arn": self.topic_arn})
