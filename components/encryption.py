"""Customer-managed KMS keys, one per purpose, with key policies for the services that use them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

ROTATION_PERIOD_DAYS = 365


@dataclass(frozen=True)
class EncryptionArgs:
    name_prefix: str
    """Prefix of the key aliases, e.g. "jhub-eks-dev"."""
    partition: str
    region: str
    account_id: pulumi.Input[str]
    deletion_window_days: int = 30
    retain_on_destroy: bool = True
    """Keep the keys (and so the data they protect) when the stack is destroyed."""
    tags: dict[str, str] | None = None


# ---- Key policies: pure functions, tested without Pulumi ------------------------------------------


def _account_admin_statement(partition: str, account_id: str) -> dict[str, Any]:
    # The account root statement lets IAM policies in this account grant use of the key. Without it
    # the key becomes unmanageable (KMS rejects such a policy without the lockout bypass).
    return {
        "Sid": "AccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def logs_key_policy(partition: str, region: str, account_id: str) -> dict[str, Any]:
    """CloudWatch Logs encrypts log groups of this account and region only (encryption context)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _account_admin_statement(partition, account_id),
            {
                "Sid": "CloudWatchLogsInThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                # No Describe*: those calls carry no encryption context, so the condition never matches them.
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    # StringLike, not ArnLike: the context value is a string (IAM types it so).
                    "StringLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
                    }
                },
            },
            *cloudtrail_statements(partition, region, account_id),
        ],
    }


def cloudtrail_statements(partition: str, region: str, account_id: str) -> list[dict[str, Any]]:
    """CloudTrail encrypts this account's trails' log files with the logs key."""
    trails = f"arn:{partition}:cloudtrail:*:{account_id}:trail/*"
    return [
        {
            "Sid": "CloudTrailEncryptsThisAccountsTrails",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        },
        {
            "Sid": "CloudTrailDescribesTheKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    ]


def alerts_key_policy(partition: str, account_id: str) -> dict[str, Any]:
    """The alert topic's key: CloudWatch alarms and EventBridge rules of this account publish to it.

    One statement per service. SNS documents `aws:SourceAccount`/`aws:SourceArn` for CloudWatch, but
    "adding aws:SourceAccount, aws:SourceArn and aws:SourceOrgID to a KMS key policy is not supported
    for EventBridge-to-encrypted topics" (SNS developer guide, compatibility with encrypted topics):
    the data-key request SNS makes for an EventBridge publish carries neither key, so a condition on
    them denies every alert. EventBridge's statement is therefore unconditioned; this key encrypts
    the alert topic and nothing else, which is what bounds it. AWS Budgets' statement is the one its
    user guide gives for encrypted topics ("Protecting your Amazon SNS budget alerts data with SSE
    and AWS KMS"), unconditioned as documented: without it budget alerts are silently never sent."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _account_admin_statement(partition, account_id),
            {
                "Sid": "AlarmsPublishEncrypted",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "EventBridgeRulesPublishEncrypted",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
            {
                "Sid": "BudgetsPublishEncrypted",
                "Effect": "Allow",
                "Principal": {"Service": "budgets.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    }


def secrets_key_policy(partition: str, account_id: str) -> dict[str, Any]:
    """Kubernetes secrets envelope encryption: no service principal; the EKS cluster role is granted
    use of this key by its own IAM policy (components/cluster.py)."""
    return {"Version": "2012-10-17", "Statement": [_account_admin_statement(partition, account_id)]}


def auto_scaling_role_arn(partition: str, account_id: str) -> str:
    return (
        f"arn:{partition}:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )


def user_data_key_policy(partition: str, region: str, account_id: str) -> dict[str, Any]:
    """Node root volumes, user home volumes (EBS) and the user bucket (S3).

    Managed node groups launch instances through the EC2 Auto Scaling service-linked role; if it may
    not use the key, launches fail with ``Client.InternalError``. EBS through EC2 may use the key for
    principals of this account only; S3 access is granted by the callers' IAM policies (account
    admin statement) with ``kms:ViaService`` conditions.
    """
    asg_role = auto_scaling_role_arn(partition, account_id)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _account_admin_statement(partition, account_id),
            {
                "Sid": "AutoScalingLaunchesEncryptedVolumes",
                "Effect": "Allow",
                "Principal": {"AWS": asg_role},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
            },
            {
                "Sid": "AutoScalingAttachesEncryptedVolumes",
                "Effect": "Allow",
                "Principal": {"AWS": asg_role},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                "Sid": "EbsInThisAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account_id, "kms:ViaService": f"ec2.{region}.amazonaws.com"}
                },
            },
        ],
    }


class Encryption(pulumi.ComponentResource):
    """Four customer-managed keys: Kubernetes secrets, logs, user data / volumes, and the alert topic.

    Rotation is always on and deletion waits ``deletion_window_days``.
    """

    secrets_key_arn: pulumi.Output[str]
    logs_key_arn: pulumi.Output[str]
    user_data_key_arn: pulumi.Output[str]
    alerts_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:Encryption", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_destroy)
        tags = args.tags or {}

        def key(
            purpose: str, description: str, policy: pulumi.Input[str], key_opts: pulumi.ResourceOptions
        ) -> aws.kms.Key:
            kms_key = aws.kms.Key(
                f"{name}-{purpose}",
                description=description,
                enable_key_rotation=True,
                rotation_period_in_days=ROTATION_PERIOD_DAYS,
                deletion_window_in_days=args.deletion_window_days,
                policy=policy,
                tags={**tags, "purpose": purpose},
                opts=key_opts,
            )
            aws.kms.Alias(
                f"{name}-{purpose}-alias",
                name=f"alias/{args.name_prefix}-{purpose}",
                target_key_id=kms_key.key_id,
                opts=child,
            )
            return kms_key

        account = pulumi.Output.from_input(args.account_id)
        secrets = key(
            "k8s-secrets",
            "EKS envelope encryption of Kubernetes secrets",
            account.apply(lambda a: json.dumps(secrets_key_policy(args.partition, a))),
            keep,
        )
        logs = key(
            "logs",
            "CloudWatch Logs: control-plane, flow and container logs",
            account.apply(lambda a: json.dumps(logs_key_policy(args.partition, args.region, a))),
            keep,
        )
        user_data = key(
            "user-data",
            "User data: node and home volumes (EBS), user bucket (S3)",
            account.apply(lambda a: json.dumps(user_data_key_policy(args.partition, args.region, a))),
            keep,
        )

        alerts = key(
            "alerts",
            "Alert topic (SNS): alarms, GuardDuty findings, security-group changes",
            account.apply(lambda a: json.dumps(alerts_key_policy(args.partition, a))),
            keep,
        )

        self.alerts_key_arn = alerts.arn
        self.secrets_key_arn = secrets.arn
        self.logs_key_arn = logs.arn
        self.user_data_key_arn = user_data.arn
        self.register_outputs(
            {
                "secrets_key_arn": self.secrets_key_arn,
                "logs_key_arn": self.logs_key_arn,
                "user_data_key_arn": self.user_data_key_arn,
                "alerts_key_arn": self.alerts_key_arn,
            }
        )
