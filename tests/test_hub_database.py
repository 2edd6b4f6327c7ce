"""The hub's database on RDS for PostgreSQL (prod's example): Multi-AZ, encrypted with the user-data key, private,
reachable from the cluster's nodes only at the security group and from the hub pod only by NetworkPolicy; the hub
process (the chart's own configuration run on the rendered chart) connects to it with the password the program
generated, without the zonal SQLite volume; the hub image carries the driver; and prod's rules."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from components.hub_database import POSTGRES_PORT, database_url
from components.hub_network_policies import HubNetworkSpec, hub_network_policies
from components.jupyterhub_values import HUB_SLIM_IMAGE, HubDatabaseValues, build_values, redacted_secrets
from offline_plan.mock_engine import Inventory, load_stack_config
from settings import SettingsError, parse_settings
from tests.conftest import ROOT, key_arn, stack_config
from tests.hub_config_run import hub_process
from tests.test_chart_render import hub_release, render

RDS = "aws:rds/instance:Instance"
DRIVERS = json.loads((ROOT / "data/charts/jupyterhub-4.4.0/hub-image-database-drivers.json").read_text())["drivers"]


def database_stack(plans: dict[str, Inventory]) -> Inventory:
    (plan,) = [p for p in plans.values() if "jhub-eks:hubDatabase" in stack_config(p)]
    return plan


def test_prod_s_hub_database_is_rds_multi_az_encrypted_private_and_kept(plans: dict[str, Inventory]) -> None:
    plan = database_stack(plans)
    (instance,) = plan.of_type(RDS)
    inputs = instance.inputs
    assert (inputs["engine"], inputs["multiAz"], inputs["publiclyAccessible"]) == ("postgres", True, False)
    assert inputs["storageEncrypted"] is True and inputs["kmsKeyId"] == key_arn(plan, "user-data")
    assert inputs["deletionProtection"] is True and inputs["backupRetentionPeriod"] >= 7
    assert inputs["skipFinalSnapshot"] is False
    # A name of its own per database (RDS refuses one that exists; the last stack's final snapshot is kept), and a
    # name RDS accepts: a letter first, letters, digits and single hyphens, at most 255.
    suffix = plan.one("random:index/randomId:RandomId", "final-snapshot")
    final = inputs["finalSnapshotIdentifier"]
    assert final.endswith("-" + suffix.outputs["hex"]) and len(suffix.outputs["hex"]) == 8
    assert re.fullmatch(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)", final)
    assert "password" in instance.secret_inputs
    # In the private subnets only.
    (group,) = plan.of_type("aws:rds/subnetGroup:SubnetGroup")
    private = {s.outputs.get("id") or s.id for s in plan.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name}
    assert len(private) == 3
    assert set(group.inputs["subnetIds"]) == private


def test_the_database_admits_postgres_from_the_cluster_security_group_only(plans: dict[str, Inventory]) -> None:
    plan = database_stack(plans)
    (instance,) = plan.of_type(RDS)
    (security_group_id,) = instance.inputs["vpcSecurityGroupIds"]
    (group,) = [g for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup") if "hub-database" in g.name]
    assert (group.outputs.get("id") or group.id) == security_group_id
    assert not group.inputs.get("ingress")  # no inline rule: the rules below are all
    rules = [
        r
        for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == security_group_id
    ]
    cluster = plan.one("eks:index:Cluster")
    assert [(r.inputs["fromPort"], r.inputs["toPort"], r.inputs.get("cidrIpv4")) for r in rules] == [(5432, 5432, None)]
    assert rules[0].inputs["referencedSecurityGroupId"] == cluster.outputs["clusterSecurityGroupId"]


def _postgres_egress(policy: dict[str, Any]) -> list[Any]:
    return [
        rule
        for rule in policy["spec"].get("egress") or []
        if any(port.get("port") == POSTGRES_PORT for port in rule.get("ports") or [])
    ]


def test_only_the_hub_pod_may_reach_postgres(plans: dict[str, Inventory]) -> None:
    plan = database_stack(plans)
    policies = [r.inputs for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")]
    reaching = {p["metadata"]["name"]: _postgres_egress(p) for p in policies if _postgres_egress(p)}
    assert list(reaching) == ["hub"]
    (rule,) = reaching["hub"]
    zones = stack_config(plan)["jhub-eks:network"]["availabilityZones"]
    assert len(rule["to"]) == len(zones)  # each zone's private subnet, where RDS may fail over to
    # A stack without RDS gives the hub no such egress.
    assert not any(
        _postgres_egress(p.inputs) for p in plans["dev"].of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    )


def test_the_policy_check_bites() -> None:
    spec = HubNetworkSpec("jupyterhub", "jupyterhub", "acm", "10.50.0.0/16", database_cidrs=["10.50.0.0/19"])
    policies = {p["metadata"]["name"]: p for p in hub_network_policies(spec)}
    assert _postgres_egress(policies["hub"]) and not _postgres_egress(policies["proxy"])


def _release_values(plan: Inventory) -> dict[str, Any]:
    values: dict[str, Any] = copy.deepcopy(hub_release(plan)["values"])
    return values


def test_the_hub_process_connects_to_rds_with_the_program_s_password_and_no_volume(
    plans: dict[str, Inventory],
) -> None:
    plan = database_stack(plans)
    values = _release_values(plan)
    # The program gives the release the password as a secret leaf (the plan redacts it); a value stands in.
    assert values["hub"]["db"]["password"] == "[secret]"
    values["hub"]["db"]["password"] = "generated-by-the-program"
    objects = render({**hub_release(plan), "values": values})
    c, environment = hub_process(objects)
    (instance,) = plan.of_type(RDS)
    assert c.JupyterHub.db_url == database_url(instance.outputs["address"])
    assert environment.get("PGPASSWORD") == "generated-by-the-program"
    # No PersistentVolumeClaim for the hub: nothing pins it to a zone.
    assert not [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    (hub,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "hub"]
    assert not [v for v in hub["spec"]["template"]["spec"].get("volumes", []) if "persistentVolumeClaim" in v]
    # The SQLite stack keeps its volume (the check above would see one).
    assert [o for o in render(hub_release(plans["dev"])) if o["kind"] == "PersistentVolumeClaim"]


def test_the_url_names_the_driver_the_hub_image_carries(plans: dict[str, Inventory]) -> None:
    plan = database_stack(plans)
    values = _release_values(plan)
    assert values["hub"]["image"]["name"] == HUB_SLIM_IMAGE and values["hub"]["image"]["tag"] == "4.4.0"
    url = make_url(values["hub"]["db"]["url"])
    driver = DRIVERS[values["hub"]["db"]["type"]]
    # SQLAlchemy's default driver for postgresql:// is psycopg2, which the slim image installs (with libpq5).
    assert url.get_backend_name() == "postgresql" and url.get_driver_name() == driver["package"] == "psycopg2"
    assert driver["inSlimImage"] and driver["systemLibrary"] == "libpq5"
    assert url.password is None and url.query == {"sslmode": "require"}  # the password comes as PGPASSWORD


def test_the_values_carry_the_password_as_a_secret_leaf() -> None:
    config, secret_keys = load_stack_config("prod")
    settings = parse_settings("prod", config, frozenset(secret_keys))
    values = build_values(
        settings.jupyterhub,
        storage_class="gp3",
        secrets=redacted_secrets(),
        certificate_arn="arn:aws:acm:eu-west-1:111122223333:certificate/x",
        database=HubDatabaseValues("postgresql://jupyterhub@db:5432/jupyterhub?sslmode=require", "[secret:db]"),
    )
    assert values["hub"]["db"] == {
        "type": "postgres",
        "url": "postgresql://jupyterhub@db:5432/jupyterhub?sslmode=require",
        "password": "[secret:db]",
        "upgrade": True,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"multiAz": False}, "jhub-eks:hubDatabase.multiAz: prod's hub database must survive a zone outage"),
        ({"deletionProtection": False}, "jhub-eks:hubDatabase.deletionProtection"),
        ({"backupRetentionDays": 3}, "jhub-eks:hubDatabase.backupRetentionDays: 3 days; prod keeps at least 7"),
    ],
)
def test_prod_refuses_a_hub_database_that_a_zone_or_a_mistake_could_lose(change: dict[str, Any], message: str) -> None:
    config, secret_keys = load_stack_config("prod")
    database = {**json.loads(config["jhub-eks:hubDatabase"]), **change}
    config["jhub-eks:hubDatabase"] = json.dumps(database)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        parse_settings("prod", config, frozenset(secret_keys))
