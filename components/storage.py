"""The S3 bucket of user data: SSE-KMS with bucket keys, versioning, no public access, no ACLs,
TLS-only, lifecycle rules, and optionally access only through this VPC's S3 endpoint."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

USER_HOME_PREFIX = "home/"
# Readable by every user server, writable by the curator profiles' servers only (components/identity.py).
SHARED_PREFIX = "shared/"

# Object and listing actions: what the VPC-endpoint rule restricts. Bucket administration (policy,
# lifecycle, encryption) stays reachable for the deployer from anywhere.
# Reads and writes of user data, and the listings that show what users stored.
DATA_ACTIONS = [
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:RestoreObject",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
]
# HeadBucket is authorized as s3:ListBucket: the provider's read of the bucket (refresh, every
# update of its configuration) needs it, so the identities that manage the bucket keep it.
LISTING_ACTION = "s3:ListBucket"


def deny_without_tls(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyWithoutTLS",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def harden_bucket(
    name: str, bucket: aws.s3.Bucket, key_arn: pulumi.Input[str] | None, parent: pulumi.Resource
) -> aws.s3.BucketPublicAccessBlock:
    """What every bucket of the program gets: SSE-KMS with bucket keys, versioning, all four
    public-access blocks, object ownership enforced (no ACLs). Returns the public-access block,
    which a bucket policy must wait for.

    `key_arn=None` is for a server access log target only: S3 delivers access logs into a bucket
    whose default encryption is SSE-S3, never SSE-KMS (S3 user guide, "Enabling Amazon S3 server
    access logging"), so such a bucket gets SSE-S3 (AES-256)."""
    child = pulumi.ResourceOptions(parent=parent)
    by_default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=by_default(sse_algorithm="aws:kms", kms_master_key_id=key_arn),
                # One data key per bucket instead of per object: far fewer KMS calls.
                bucket_key_enabled=True,
            )
            if key_arn is not None
            else aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=by_default(sse_algorithm="AES256")
            )
        ],
        opts=child,
    )
    aws.s3.BucketVersioning(
        name,
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=child,
    )
    public_access_block = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        name,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=child,
    )
    return public_access_block


def bucket_policy(
    bucket_arn: str,
    *,
    vpc_endpoint_id: str | None = None,
    break_glass_role_arns: Sequence[str] = (),
    manager_role_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """Deny every request without TLS; with a VPC endpoint, deny data access from anywhere else.

    Outside the endpoint, break-glass roles keep everything; the roles that manage the bucket (the
    deployer, cluster admins) keep only s3:ListBucket, which HeadBucket needs: without it `pulumi
    refresh` and any update of the bucket fail with 403 from outside the VPC."""
    statements: list[dict[str, Any]] = [deny_without_tls(bucket_arn)]
    if vpc_endpoint_id:

        def outside_the_endpoint(exempt: Sequence[str]) -> dict[str, Any]:
            condition: dict[str, Any] = {"StringNotEquals": {"aws:SourceVpce": vpc_endpoint_id}}
            if exempt:
                condition["ArnNotEquals"] = {"aws:PrincipalArn": list(dict.fromkeys(exempt))}
            return condition

        statements += [
            {
                "Sid": "DenyDataAccessOutsideTheVpcEndpoint",
                "Effect": "Deny",
                "Principal": "*",
                "Action": DATA_ACTIONS,
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": outside_the_endpoint(break_glass_role_arns),
            },
            {
                "Sid": "DenyListingOutsideTheVpcEndpointButToManagers",
                "Effect": "Deny",
                "Principal": "*",
                "Action": LISTING_ACTION,
                "Resource": bucket_arn,
                "Condition": outside_the_endpoint([*break_glass_role_arns, *manager_role_arns]),
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def server_access_log_policy(
    log_bucket_arn: str, prefix: str, source_bucket_arn: str, source_account: str
) -> dict[str, Any]:
    """S3's logging service may write under `prefix` the access logs of one source bucket of one
    account, nothing else; nothing without TLS. With object ownership enforced, a bucket policy for
    logging.s3.amazonaws.com is the only way to let S3 deliver (S3 user guide, "Permissions for log
    delivery"), conditioned as AWS's own example: the source bucket's ARN and account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S3ServerAccessLogsOfTheSourceBucket",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{log_bucket_arn}/{prefix}*",
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": source_bucket_arn},
                    "StringEquals": {"aws:SourceAccount": source_account},
                },
            },
            deny_without_tls(log_bucket_arn),
        ],
    }


def expire_noncurrent_versions(days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """A lifecycle rule: a version that was overwritten or deleted is kept `days`, then expires."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="expire-noncurrent-versions",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=days
        ),
    )


def log_server_access(
    name: str,
    source: aws.s3.Bucket,
    *,
    bucket_prefix: str,
    log_prefix: str,
    account_id: pulumi.Input[str],
    retention_days: int,
    retain_on_destroy: bool,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.s3.Bucket:
    """Server access logging of `source` into a bucket of its own: who read or changed what, by
    request. The log bucket is hardened like every other (SSE-S3: the only default encryption a log
    target may have), takes only the source's logs, expires them after `retention_days`, and has
    no access logging itself (S3 advises against it: each delivery would log another)."""
    child = pulumi.ResourceOptions(parent=parent)
    log_bucket = aws.s3.Bucket(
        f"{name}-access-logs",
        bucket_prefix=bucket_prefix,
        force_destroy=not retain_on_destroy,
        tags={**tags, "data": "access-logs"},
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=retain_on_destroy),
    )
    block = harden_bucket(f"{name}-access-logs", log_bucket, None, parent)
    every_object = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-access-logs",
        bucket=log_bucket.id,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-access-logs",
                status="Enabled",
                filter=every_object,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=retention_days),
            ),
            # A log file deleted or overwritten early stays recoverable for as long as logs are kept.
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=every_object,
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=retention_days
                ),
            ),
        ],
        opts=child,
    )
    policy = aws.s3.BucketPolicy(
        f"{name}-access-logs",
        bucket=log_bucket.id,
        policy=pulumi.Output.all(log_bucket.arn, source.arn, account_id).apply(
            lambda v: json.dumps(server_access_log_policy(v[0], log_prefix, v[1], v[2]))
        ),
        # S3 refuses a policy while the public-access block is still being applied.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[block]),
    )
    aws.s3.BucketLogging(
        f"{name}-access-logs",
        bucket=source.id,
        target_bucket=log_bucket.id,
        target_prefix=log_prefix,
        # The first delivery needs the policy in place.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )
    return log_bucket


@dataclass(frozen=True)
class UserDataBucketArgs:
    name_prefix: str
    key_arn: pulumi.Input[str]
    retain_on_destroy: bool
    noncurrent_version_days: int = 30
    abort_multipart_days: int = 7
    vpc_endpoint_id: pulumi.Input[str] | None = None
    """With it, data access from outside this S3 gateway endpoint is denied."""
    break_glass_role_arns: list[str] = field(default_factory=list)
    manager_role_arns: list[str] = field(default_factory=list)
    """Roles that manage the bucket (deployer, admins): may still HeadBucket from outside the endpoint."""
    tags: dict[str, str] | None = None


class UserDataBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: UserDataBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:UserDataBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags or {}

        bucket = aws.s3.Bucket(
            f"{name}-user-data",
            bucket_prefix=f"{args.name_prefix}-user-data-",
            # dev: `pulumi destroy` empties and deletes the bucket; prod: the bucket and its data stay.
            force_destroy=not args.retain_on_destroy,
            tags={**tags, "data": "user"},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_destroy),
        )
        public_access_block = harden_bucket(f"{name}-user-data", bucket, args.key_arn, self)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-user-data",
            bucket=bucket.id,
            rules=[
                expire_noncurrent_versions(args.noncurrent_version_days),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="abort-incomplete-multipart-uploads",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=args.abort_multipart_days
                    ),
                ),
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-user-data",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, args.vpc_endpoint_id).apply(
                lambda v: json.dumps(
                    bucket_policy(
                        v[0],
                        vpc_endpoint_id=v[1],
                        break_glass_role_arns=args.break_glass_role_arns,
                        manager_role_arns=args.manager_role_arns,
                    )
                )
            ),
            # S3 refuses a policy while the public-access block is still being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
