"""Data settings: the KMS keys, the user bucket, AWS Backup of the volumes, what survives a destroy,
and the ECR registry of user images."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from settings.base import IamRoleArn, _Model


class EncryptionSettings(_Model):
    key_deletion_window_days: int = Field(30, ge=7, le=30)
    """Waiting period before a deleted KMS key is gone for good (7-30 days)."""


class BucketSettings(_Model):
    noncurrent_version_days: int = Field(30, ge=1, le=3650)
    """Days an overwritten or deleted object version is kept (recovery window) before it expires."""
    abort_multipart_days: int = Field(7, ge=1, le=365)
    """Days after which incomplete multipart uploads are removed."""
    require_vpc_endpoint: bool = False
    """Deny object reads, writes and listings that do not come through this VPC's S3 endpoint."""
    break_glass_role_arns: list[IamRoleArn] = Field(default_factory=list)
    """Roles exempt from `requireVpcEndpoint` (incident response from outside the VPC)."""
    manager_role_arns: list[IamRoleArn] = Field(default_factory=list)
    """Roles that deploy and refresh the stack from outside the VPC (the CI deploy role of bootstrap/),
    besides `cluster.adminRoleArns`: with `requireVpcEndpoint` they keep s3:ListBucket (HeadBucket) on
    the bucket, and nothing of its data. Exact ARNs, path included (compared to aws:PrincipalArn)."""


class BackupSettings(_Model):
    enabled: bool = True
    """Back up every user home volume and the hub's database volume with AWS Backup (selected by the tag the
    storage class puts on each volume it creates)."""
    schedule: str = Field("cron(0 3 * * ? *)", pattern=r"^cron\([^)]+\)$")
    """When, as an AWS Backup cron expression in UTC."""
    retention_days: int = Field(35, ge=1, le=36500)
    """Days each recovery point is kept."""
    vault_lock: Literal["compliance", "governance", "off"] = "off"
    """`compliance`: after `lockChangeableForDays` nobody, root included, can delete a recovery point before
    `retentionDays` or remove the lock (and the vault outlives `pulumi destroy`); `governance`: the same, but
    removable with special IAM rights; `off`. prod needs a lock."""
    lock_changeable_for_days: int = Field(7, ge=3, le=365)
    """Compliance mode: days during which the lock can still be changed or removed (AWS minimum: 3)."""


class DataSettings(_Model):
    retain_on_destroy: bool = True
    """Keep data-holding resources (KMS keys, the user bucket, user volumes) when the stack is destroyed."""
    bucket: BucketSettings = BucketSettings()
    """The S3 bucket of user data (each user reads and writes only `home/<pod name>/`)."""
    backup: BackupSettings = BackupSettings()
    """AWS Backup of the EBS volumes (user homes, hub database)."""


class RegistrySettings(_Model):
    repository_name: str = Field("jupyter-user", pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$")
    """ECR repository of the user server image(s), under the stack's prefix: `jhub-<stack>/<name>`
    (dev and prod may share an account; each stack owns its own repository)."""
    keep_last_images: int = Field(20, ge=1, le=1000)
    """Tagged images kept; older ones expire."""
    untagged_expire_days: int = Field(7, ge=1, le=365)
    """Days after which untagged images expire."""
