"""Hub database settings: the chart's SQLite file on a zonal volume, or Amazon RDS for PostgreSQL Multi-AZ (the
hub can then start in any zone)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from settings.base import PROJECT, _Model


class HubDatabaseSettings(_Model):
    engine: Literal["sqlite", "postgres"] = "sqlite"
    """`sqlite`: the chart's database file on an EBS volume, which lives in one zone (a zone outage stops the hub
    until the zone returns). `postgres`: Amazon RDS for PostgreSQL in the private subnets, encrypted with the
    user-data key, reachable only from the hub pod, with a password the program generates (docs/capacity.md)."""
    instance_class: str = Field("db.t4g.small", pattern=r"^db\.[a-z0-9-]+\.[a-z0-9]+$")
    """RDS instance class (the hub's database is small: users, servers, tokens)."""
    engine_version: str = Field("17", pattern=r"^\d+(\.\d+)?$")
    """PostgreSQL major version (RDS picks its default minor and applies minor upgrades in the maintenance window)
    or a pinned major.minor."""
    allocated_storage_gib: int = Field(20, ge=20, le=1000)
    """gp3 storage of the instance, GiB (20 is RDS's minimum for gp3)."""
    multi_az: bool = True
    """A standby in a second zone that RDS fails over to when the primary's zone fails (required in prod)."""
    backup_retention_days: int = Field(7, ge=1, le=35)
    """Days RDS keeps automated backups (point-in-time restore)."""
    deletion_protection: bool = True
    """RDS refuses to delete the instance (required in prod; turn off, `up`, then destroy)."""
    password_generation: int = Field(1, ge=1)
    """Bump to generate a new database password (the hub restarts with it)."""


def hub_database_prod_problems(database: HubDatabaseSettings) -> list[str]:
    """Prod's hub database, when on RDS, survives a zone and a mistaken delete, and can be restored."""
    if database.engine != "postgres":
        return []
    key = f"{PROJECT}:hubDatabase"
    problems = []
    if not database.multi_az:
        problems.append(f"{key}.multiAz: prod's hub database must survive a zone outage; set multiAz: true")
    if not database.deletion_protection:
        problems.append(f"{key}.deletionProtection: prod's hub database must refuse deletion; set it to true")
    if database.backup_retention_days < 7:
        problems.append(
            f"{key}.backupRetentionDays: {database.backup_retention_days} days; prod keeps at least 7, set 7 or more"
        )
    return problems
