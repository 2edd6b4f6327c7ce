"""AWS Backup of the user home volumes and the hub's database volume.

Every EBS volume the program's storage class creates carries `BACKUP_TAG = <stack>` (the EBS CSI
driver's `tagSpecification_N` StorageClass parameter, components/cluster_addons.py), and the backup
selection takes EBS volumes with that tag: a new user's home is covered without any change, and
another stack's volumes in the same account are not. The vault is encrypted with the program's
user-data key; an EBS recovery point keeps its volume's key (the same key), which the backup role
uses through EC2 (the key's `EbsInThisAccount` statement). Restores: docs/restore.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.tagging import component_tags
from components.trust import service_trust_policy

BACKUP_TAG = "jhub-eks/backup"
BACKUP_POLICIES = ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores")


def volume_selection(partition: str, stack: str) -> dict[str, Any]:
    """The selection's resources and conditions: EBS volumes (any region and account the plan sees:
    its own) AND tagged for this stack. Conditions are ANDed with `resources`; `selection_tags` would
    be ORed with them, so they are not used."""
    return {
        "resources": [f"arn:{partition}:ec2:*:*:volume/*"],
        "string_equals": [{"key": f"aws:ResourceTag/{BACKUP_TAG}", "value": stack}],
    }


@dataclass(frozen=True)
class BackupsArgs:
    stack: str
    """The value of BACKUP_TAG on this stack's volumes."""
    partition: str
    vault_key_arn: pulumi.Input[str]
    schedule: str
    """AWS Backup cron expression, UTC, e.g. `cron(0 3 * * ? *)`."""
    retention_days: int
    lock: str
    """`compliance` (immutable after `lock_changeable_for_days`), `governance`, or `off`."""
    lock_changeable_for_days: int
    retain_on_destroy: bool
    tags: dict[str, str] | None = None


class Backups(pulumi.ComponentResource):
    vault_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:Backups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags or {}
        role = aws.iam.Role(
            f"{name}-backup",
            description="AWS Backup: snapshots and restores of this stack's tagged EBS volumes",
            assume_role_policy=json.dumps(service_trust_policy("backup.amazonaws.com")),
            tags=tags,
            opts=child,
        )
        for policy in BACKUP_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-backup-{policy}",
                role=role.name,
                policy_arn=f"arn:{args.partition}:iam::aws:policy/service-role/{policy}",
                opts=child,
            )
        # Kept on destroy where data is kept: a vault holding recovery points cannot be deleted,
        # and a locked one not even by force.
        vault = aws.backup.Vault(
            f"{name}-homes",
            name=f"{name}-homes",
            kms_key_arn=args.vault_key_arn,
            force_destroy=not args.retain_on_destroy,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_destroy),
        )
        if args.lock != "off":
            aws.backup.VaultLockConfiguration(
                f"{name}-homes-lock",
                backup_vault_name=vault.name,
                # Nobody deletes a recovery point before the plan's retention ends.
                min_retention_days=args.retention_days,
                # Compliance mode: after this many days the lock itself cannot be removed.
                changeable_for_days=args.lock_changeable_for_days if args.lock == "compliance" else None,
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_destroy),
            )
        plan = aws.backup.Plan(
            f"{name}-homes",
            name=f"{name}-homes",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily-homes",
                    target_vault_name=vault.name,
                    schedule=args.schedule,
                    start_window=60,
                    completion_window=360,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=args.retention_days),
                    recovery_point_tags={**component_tags(tags, "jhub:aws:Backups"), BACKUP_TAG: args.stack},
                )
            ],
            tags=tags,
            opts=child,
        )
        selection = volume_selection(args.partition, args.stack)
        aws.backup.Selection(
            f"{name}-homes",
            name=f"{name}-homes",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=selection["resources"],
            conditions=[
                aws.backup.SelectionConditionArgs(
                    string_equals=[
                        aws.backup.SelectionConditionStringEqualArgs(key=c["key"], value=c["value"])
                        for c in selection["string_equals"]
                    ]
                )
            ],
            opts=child,
        )
        self.vault_name = vault.name
        self.role_arn = role.arn
        self.register_outputs({"vault_name": self.vault_name, "role_arn": self.role_arn})
