"""Trust policies of roles an AWS service assumes (the EKS control plane, EC2 nodes, VPC flow logs,
AWS Backup): one statement naming the service, with its conditions where it sends them. Roles
assumed by pods have their own helpers (irsa.py, identity.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def service_trust_policy(
    service: str, actions: str | list[str] = "sts:AssumeRole", condition: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}
    if condition:
        statement["Condition"] = dict(condition)
    return {"Version": "2012-10-17", "Statement": [statement]}
