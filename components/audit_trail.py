"""CloudTrail: a multi-region trail with log file validation, KMS-encrypted, delivered to a
protected bucket and to CloudWatch Logs. It records every management event and the object-level
reads and writes of the user-data bucket (S3 data events): who read or changed a user's data.

With an organization trail (settings), that trail keeps the management events (it is not the
stack's to change) and the stack's trail records only the user-data bucket's data events: the
organization trail does not record them unless its owner says so, and a second copy of the
management events would be billed.

The trail's bucket keeps deleted or overwritten log files for the retention, and its own access
(who read the audit logs) is logged into a separate bucket."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.storage import deny_without_tls, expire_noncurrent_versions, harden_bucket, log_server_access

# S3 data events of objects: GetObject, PutObject, DeleteObject, CopyObject, multipart uploads, ...
S3_OBJECT = "AWS::S3::Object"
TRAIL_BUCKET_LOG_PREFIX = "trail-bucket/"


def event_selectors(
    user_data_objects: pulumi.Input[str], *, management_events: bool
) -> list[aws.cloudtrail.TrailAdvancedEventSelectorArgs]:
    """What the trail records. A trail with advanced selectors records only what one of them
    matches (no default for management events then), so management events get a selector of their
    own. Data events: S3 objects whose ARN starts with `user_data_objects` (the bucket's ARN and
    a slash: "arn:aws:s3:::bucket/", so a bucket whose name merely starts the same is not
    recorded), reads and writes."""
    field = aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs
    selectors = []
    if management_events:
        selectors.append(
            aws.cloudtrail.TrailAdvancedEventSelectorArgs(
                name="Management events",
                field_selectors=[field(field="eventCategory", equals=["Management"])],
            )
        )
    selectors.append(
        aws.cloudtrail.TrailAdvancedEventSelectorArgs(
            name="Reads and writes of user-data objects",
            field_selectors=[
                field(field="eventCategory", equals=["Data"]),
                field(field="resources.type", equals=[S3_OBJECT]),
                field(field="resources.ARN", starts_withs=[user_data_objects]),
            ],
        )
    )
    return selectors


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
    """Days the log group keeps events, the trail bucket keeps deleted or overwritten log files, and
    the trail bucket's access logs are kept."""
    retain_on_destroy: bool
    user_data_bucket_arn: pulumi.Input[str]
    """The bucket whose object-level reads and writes are recorded."""
    organization_trail_name: str | None = None
    """The organization's trail records management events; the stack's trail only the data events."""
    tags: dict[str, str] | None = None


class AuditTrail(pulumi.ComponentResource):
    trail_name: pulumi.Output[str]
    """The trail of the management events (the organization's, when settings name one)."""
    user_data_access_trail_name: pulumi.Output[str]
    """The stack's trail, which records the user-data bucket's object reads and writes."""
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:AuditTrail", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_destroy)
        tags = args.tags or {}
        organization = args.organization_trail_name
        # Beside an organization trail, the stack's records the user data only: its name says so.
        trail_name = f"{args.trail_name}-user-data" if organization else args.trail_name
        account = pulumi.Output.from_input(args.account_id)
        trail_arn = account.apply(lambda a: f"arn:{args.partition}:cloudtrail:{args.region}:{a}:trail/{trail_name}")

        bucket = aws.s3.Bucket(
            f"{name}-trail",
            bucket_prefix=f"{args.trail_name}-",
            force_destroy=not args.retain_on_destroy,
            tags={**tags, "data": "audit"},
            opts=keep,
        )
        block = harden_bucket(f"{name}-trail", bucket, args.logs_key_arn, self)
        # CloudTrail never rewrites a log file: a non-current version is one deleted or overwritten
        # by someone, kept (validation digests still name it) for the retention, not for ever.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-trail",
            bucket=bucket.id,
            rules=[expire_noncurrent_versions(args.log_retention_days)],
            opts=child,
        )
        log_server_access(
            f"{name}-trail",
            bucket,
            bucket_prefix=f"{args.trail_name}-access-logs-",
            log_prefix=TRAIL_BUCKET_LOG_PREFIX,
            account_id=account,
            retention_days=args.log_retention_days,
            retain_on_destroy=args.retain_on_destroy,
            tags=tags,
            parent=self,
        )
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
            name=f"/aws/cloudtrail/{trail_name}",
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
            name=trail_name,
            s3_bucket_name=bucket.id,
            # Multi-region needs the global service events (CloudTrail refuses one without).
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            kms_key_id=args.logs_key_arn,
            advanced_event_selectors=event_selectors(
                pulumi.Output.from_input(args.user_data_bucket_arn).apply(lambda arn: f"{arn}/"),
                management_events=not organization,
            ),
            cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, role_policy]),
        )
        self.trail_name = pulumi.Output.from_input(organization) if organization else trail.name
        self.user_data_access_trail_name = trail.name
        self.log_group_name = log_group.name
        self.register_outputs(
            {
                "trail_name": self.trail_name,
                "user_data_access_trail_name": self.user_data_access_trail_name,
                "log_group_name": self.log_group_name,
            }
        )
