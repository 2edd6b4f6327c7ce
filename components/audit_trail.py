"""CloudTrail: a multi-region trail with log file validation, KMS-encrypted, delivered to a
protected bucket and to CloudWatch Logs — or an existing organization trail named in settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.storage import deny_without_tls, harden_bucket


def trail_bucket_policy(bucket_arn: str, trail_arn: str) -> dict[str, Any]:
    """Only this trail writes; nothing without TLS."""
    source = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudTrailChecksTheAcl",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": source,
            },
            {
                "Sid": "CloudTrailWritesThisTrail",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}
                },
            },
            deny_without_tls(bucket_arn),
        ],
    }


@dataclass(frozen=True)
class AuditTrailArgs:
    trail_name: str
    partition: str
    region: str
    account_id: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    retain_on_destroy: bool
    organization_trail_name: str | None = None
    tags: dict[str, str] | None = None


class AuditTrail(pulumi.ComponentResource):
    trail_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:AuditTrail", name, None, opts)
        if args.organization_trail_name:
            # The organization's trail already records this account (and feeds EventBridge).
            self.trail_name = pulumi.Output.from_input(args.organization_trail_name)
            self.log_group_name = None
            self.register_outputs({"trail_name": self.trail_name})
            return
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_destroy)
        tags = args.tags or {}
        account = pulumi.Output.from_input(args.account_id)
        trail_arn = account.apply(
            lambda a: f"arn:{args.partition}:cloudtrail:{args.region}:{a}:trail/{args.trail_name}"
        )

        bucket = aws.s3.Bucket(
            f"{name}-trail",
            bucket_prefix=f"{args.trail_name}-",
            force_destroy=not args.retain_on_destroy,
            tags={**tags, "data": "audit"},
            opts=keep,
        )
        block = harden_bucket(f"{name}-trail", bucket, args.logs_key_arn, self)
        policy = aws.s3.BucketPolicy(
            f"{name}-trail",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, trail_arn).apply(
                lambda v: json.dumps(trail_bucket_policy(v[0], v[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-trail",
            name=f"/aws/cloudtrail/{args.trail_name}",
            kms_key_id=args.logs_key_arn,
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-trail-to-logs",
            assume_role_policy=pulumi.Output.all(account, trail_arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {"StringEquals": {"aws:SourceAccount": v[0], "aws:SourceArn": v[1]}},
                            }
                        ],
                    }
                )
            ),
            tags=tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-trail-to-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": f"{arn}:log-stream:*",
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=args.trail_name,
            s3_bucket_name=bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            kms_key_id=args.logs_key_arn,
            cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, role_policy]),
        )
        self.trail_name = trail.name
        self.log_group_name = log_group.name
        self.register_outputs({"trail_name": self.trail_name, "log_group_name": self.log_group_name})
