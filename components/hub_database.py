"""The hub's database on Amazon RDS for PostgreSQL (hubDatabase.engine: postgres), so the hub can start in any zone.

Multi-AZ (a synchronous standby in a second zone, RDS fails over to it), encrypted with the user-data key (it holds
user names, server state, API token hashes and the encrypted auth state), in the private subnets, not publicly
accessible. Reachable only from the hub pod: the security group admits PostgreSQL from the cluster security group
(the nodes' ENIs, which pods share under the VPC CNI without security groups for pods), and the namespace's
NetworkPolicies let only the hub pod reach the private subnets on 5432 (components/hub_network_policies.py; user
servers may reach public addresses only). The password is generated here (a Pulumi secret in the state, rotated
by `hubDatabase.passwordGeneration`) and reaches the hub through the chart's `hub.db.password`, which the chart
writes into the hub's Secret and the hub's configuration exports as PGPASSWORD for psycopg2 (z2jh 4.4.0
files/hub/jupyterhub_config.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from settings.hub_database import HubDatabaseSettings

POSTGRES_PORT = 5432
DATABASE_NAME = "jupyterhub"
DATABASE_USER = "jupyterhub"


def database_url(address: str, port: int = POSTGRES_PORT) -> str:
    """The hub's SQLAlchemy URL (psycopg2 is in the z2jh 4.4.0 hub image's requirements, and libpq5 in its slim
    stage: data/charts/jupyterhub-4.4.0/hub-image-database-drivers.json). `sslmode=require`: RDS for PostgreSQL 15
    and later refuses plain connections (rds.force_ssl defaults to 1); the hub image has no RDS CA bundle to verify
    the server with (verify-full would need one mounted)."""
    return f"postgresql://{DATABASE_USER}@{address}:{port}/{DATABASE_NAME}?sslmode=require"


@dataclass(frozen=True)
class HubDatabaseArgs:
    name_prefix: str
    settings: HubDatabaseSettings
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    """The EKS cluster security group: the managed nodes' ENIs, and so their pods' traffic."""
    key_arn: pulumi.Input[str]
    retain_on_destroy: bool
    tags: dict[str, str] = field(default_factory=dict)


class HubDatabase(pulumi.ComponentResource):
    address: pulumi.Output[str]
    password: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: HubDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:HubDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        password = random.RandomPassword(
            f"{name}-hub-database-password",
            length=40,
            special=False,  # a URL- and shell-safe password; 40 alphanumerics are ~238 bits
            keepers={"generation": str(settings.password_generation)},
            opts=child,
        )
        subnets = aws.rds.SubnetGroup(
            f"{name}-hub-database",
            name=f"{args.name_prefix}-hub-database",
            subnet_ids=args.private_subnet_ids,
            description="Private subnets of the hub's database",
            tags=args.tags,
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-hub-database",
            name=f"{args.name_prefix}-hub-database",
            description="PostgreSQL from the cluster's nodes only (the hub pod, by NetworkPolicy)",
            vpc_id=args.vpc_id,
            tags=args.tags,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-hub-database-from-nodes",
            security_group_id=security_group.id,
            referenced_security_group_id=args.node_security_group_id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            description="PostgreSQL from the cluster security group",
            tags=args.tags,
            opts=child,
        )
        # RDS refuses a final snapshot whose name exists (DBSnapshotAlreadyExists), and a kept final snapshot outlives
        # its stack: a suffix made once per database keeps the destroy of a re-created stack from failing on the
        # snapshot its previous life left.
        final_snapshot_suffix = random.RandomId(f"{name}-hub-database-final-snapshot", byte_length=4, opts=child)
        instance = aws.rds.Instance(
            f"{name}-hub-database",
            identifier=f"{args.name_prefix}-hub",
            engine="postgres",
            engine_version=settings.engine_version,
            instance_class=settings.instance_class,
            allocated_storage=settings.allocated_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.key_arn,
            db_name=DATABASE_NAME,
            username=DATABASE_USER,
            password=password.result,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            multi_az=settings.multi_az,
            backup_retention_period=settings.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=settings.deletion_protection,
            auto_minor_version_upgrade=True,
            skip_final_snapshot=not args.retain_on_destroy,
            final_snapshot_identifier=(
                final_snapshot_suffix.hex.apply(lambda suffix: f"{args.name_prefix}-hub-final-{suffix}")
                if args.retain_on_destroy
                else None
            ),
            apply_immediately=False,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["password"]),
        )
        self.address = instance.address
        self.password = pulumi.Output.secret(password.result)
        self.url = instance.address.apply(database_url)
        self.register_outputs({"address": self.address, "url": self.url})
