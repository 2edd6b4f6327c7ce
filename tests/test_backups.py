"""Backups that cover every home: the AWS Backup selection takes exactly the volumes this stack's
storage class creates (new users included, other stacks' volumes not), the vault is encrypted with the
program's key and locked in prod, and the backup role may use the volumes' key the way EBS calls it.

AWS Backup's selection semantics (AWS Backup developer guide, "Assigning resources to a backup
plan"): `resources` ARN patterns (`*` wildcards) AND every `conditions` entry (StringEquals on
`aws:ResourceTag/<key>`); `selection_tags` would be ORed with them and are not used. The EBS CSI
driver (docs/tagging.md, v1.64) tags each volume with `CSIVolumeName`, `ebs.csi.aws.com/cluster=true`,
`kubernetes.io/created-for/pvc/{name,namespace}` and each `tagSpecification_N: key=value` parameter.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from typing import Any

import pytest

from components.backups import BACKUP_TAG
from offline_plan.mock_engine import ACCOUNT_ID, Inventory, Recorded
from tests.conftest import key_arn
from tests.iam_eval import IamRequest, evaluate
from tests.test_jupyterhub import hub_values

STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
REGION = "eu-west-1"


def storage_class(plan: Inventory) -> Recorded:
    return plan.one(STORAGE_CLASS)


def volume_tags(storage_class_inputs: dict[str, Any], pvc: str, namespace: str = "jupyterhub") -> dict[str, str]:
    """The tags the EBS CSI driver puts on a volume it provisions for `pvc` through this class."""
    tags = {
        "CSIVolumeName": "pvc-3f1c2e9a-0000-4000-8000-000000000001",
        "ebs.csi.aws.com/cluster": "true",
        "kubernetes.io/created-for/pvc/name": pvc,
        "kubernetes.io/created-for/pvc/namespace": namespace,
    }
    for key, value in storage_class_inputs["parameters"].items():
        if key.startswith("tagSpecification"):
            tag_key, _, tag_value = value.partition("=")
            tags[tag_key] = tag_value
    return tags


def selected(selection: dict[str, Any], arn: str, tags: dict[str, str]) -> bool:
    """Whether AWS Backup's selection takes the resource."""
    if selection.get("selectionTags"):
        raise AssertionError("selection_tags are ORed with resources; the model expects conditions only")
    if not any(fnmatch.fnmatchcase(arn, pattern) for pattern in selection.get("resources") or []):
        return False
    for condition in selection.get("conditions") or []:
        for equal in condition.get("stringEquals") or []:
            if tags.get(equal["key"].removeprefix("aws:ResourceTag/")) != equal["value"]:
                return False
    return True


def volume_arn(volume: str = "vol-0a1b2c3d4e5f60718") -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:volume/{volume}"


def the_selection(plan: Inventory) -> dict[str, Any]:
    return plan.one("aws:backup/selection:Selection").inputs


def test_every_home_and_the_hub_database_are_selected_and_nothing_else(plans: dict[str, Inventory]) -> None:
    for stack, plan in plans.items():
        selection = the_selection(plan)
        for pvc in ("claim-alice", "claim-a-user-who-joins-next-year", "hub-db-dir"):
            assert selected(selection, volume_arn(), volume_tags(storage_class(plan).inputs, pvc)), (stack, pvc)
        # The other stack's volumes, volumes of another class, and other resource types are not.
        for other, other_plan in plans.items():
            if other != stack:
                assert not selected(
                    selection, volume_arn(), volume_tags(storage_class(other_plan).inputs, "claim-alice")
                )
        untagged = {**storage_class(plan).inputs, "parameters": {"type": "gp3"}}
        assert not selected(selection, volume_arn(), volume_tags(untagged, "claim-alice"))
        snapshot = f"arn:aws:ec2:{REGION}::snapshot/snap-0a1b2c3d4e5f60718"
        assert not selected(selection, snapshot, volume_tags(storage_class(plan).inputs, "claim-alice"))


def test_homes_and_the_hub_database_use_the_tagged_class(plan: Inventory) -> None:
    """User homes name the class; the hub's database PVC names none, so it gets the default: ours."""
    values = hub_values(plan)
    name = storage_class(plan).inputs["metadata"]["name"]
    assert values["singleuser"]["storage"]["dynamic"]["storageClass"] == name
    assert not (values["hub"].get("db") or {}).get("pvc", {}).get("storageClassName")
    annotations = storage_class(plan).inputs["metadata"]["annotations"]
    assert annotations["storageclass.kubernetes.io/is-default-class"] == "true"
    assert volume_tags(storage_class(plan).inputs, "hub-db-dir")[BACKUP_TAG] == f"jhub-{plan.stack}"


def test_the_selection_check_bites(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    selection = copy.deepcopy(the_selection(plan))
    selection["conditions"][0]["stringEquals"][0]["value"] = "jhub-dev"  # the wrong stack's tag
    assert not selected(selection, volume_arn(), volume_tags(storage_class(plan).inputs, "claim-alice"))


def test_vault_key_retention_and_lock(plan: Inventory) -> None:
    vault = plan.one("aws:backup/vault:Vault")
    assert vault.inputs["kmsKeyArn"] == key_arn(plan, "user-data")
    (rule,) = plan.one("aws:backup/plan:Plan").inputs["rules"]
    assert rule["targetVaultName"] == vault.inputs["name"]
    locks = plan.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    if plan.stack == "prod":
        (lock,) = locks
        # Recovery points outlive nobody's wish to delete them early; compliance mode (changeable days set).
        assert lock.inputs["minRetentionDays"] == rule["lifecycle"]["deleteAfter"]
        assert lock.inputs["changeableForDays"] >= 3
        assert vault.retain_on_delete and lock.retain_on_delete and vault.inputs["forceDestroy"] is False
    else:
        assert locks == [] and vault.inputs["forceDestroy"] is True


def test_backup_role_is_the_services_and_has_the_managed_policies(plan: Inventory) -> None:
    role = plan.one("aws:iam/role:Role", "backup")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "backup.amazonaws.com"}
    attached = {
        a.inputs["policyArn"]
        for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.name
    }
    assert attached == {
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    }
    assert the_selection(plan)["iamRoleArn"] == role.arn


@pytest.mark.parametrize(
    ("what", "action", "context", "expected"),
    [
        ("snapshot grant through EC2", "kms:CreateGrant", {"kms:GrantIsForAWSResource": "true"}, "Allowed"),
        ("re-encrypt through EC2", "kms:ReEncryptFrom", {}, "Allowed"),
        ("decrypt through EC2 (restore)", "kms:Decrypt", {}, "Allowed"),
    ],
)
def test_the_backup_role_may_use_the_volume_key_through_ec2_only(
    plans: dict[str, Inventory], what: str, action: str, context: dict[str, str], expected: str
) -> None:
    """EBS recovery points keep the volume's key; EC2 uses it on the backup role's behalf."""
    plan = plans["prod"]
    key = plan.one("aws:kms/key:Key", "user-data")
    role = plan.one("aws:iam/role:Role", "backup")
    via_ec2 = {"kms:ViaService": f"ec2.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT_ID, **context}
    request = {
        "action": action,
        "resource": key.arn,
        "identity_policies": [],
        "resource_policy": json.loads(key.inputs["policy"]),
        "principal": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role.name}/AWSBackup-session",
    }
    decisions = evaluate([IamRequest(**request, context=via_ec2), IamRequest(**request, context={**context})])
    assert decisions == [expected, "ImplicitlyDenied"], what
