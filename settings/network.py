"""Network settings: the VPC, its zones, NAT, flow logs and interface endpoints (components/network.py)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, model_validator

from settings.base import Cidr, RetentionDays, _field_error, _Model

# Interface endpoints the cluster cannot run privately without: image pulls (ecr.api, ecr.dkr),
# IRSA / Pod Identity credentials (sts), log shipping (logs) and node bootstrap (ec2).
REQUIRED_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "logs", "ec2")

# The cluster's Service range (fixed, so NetworkPolicies can name the API's ClusterIP); the VPC must
# not overlap it (EKS refuses a service range that overlaps the VPC).
KUBERNETES_SERVICE_CIDR = "172.20.0.0/16"


class FlowLogSettings(_Model):
    retention_days: RetentionDays = 90
    """Days VPC flow logs are kept in their KMS-encrypted log group."""
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    """Which traffic the VPC flow logs record."""


class NetworkSettings(_Model):
    vpc_cidr: Cidr = Field(description="IPv4 CIDR of the VPC, a /16 to /20. Immutable after the first deploy.")
    availability_zones: list[str] = Field(
        description="Availability zones the VPC spans (at least 2; 3 in prod), e.g. [eu-west-1a, eu-west-1b]."
    )
    nat_gateways: Literal["single", "perAz"] = "perAz"
    """NAT gateways: `single` (cheaper, one AZ failure cuts egress) or `perAz` (one per AZ)."""
    interface_endpoints: list[str] = Field(
        default_factory=lambda: [
            *REQUIRED_INTERFACE_ENDPOINTS,
            "autoscaling",
            "eks",
            "eks-auth",
            "elasticloadbalancing",
        ],
        description=(
            "AWS services reached through interface VPC endpoints (private DNS on), by short name "
            f"(`com.amazonaws.<region>.<name>`). Must include {', '.join(REQUIRED_INTERFACE_ENDPOINTS)}."
        ),
    )
    flow_logs: FlowLogSettings = FlowLogSettings()
    """VPC flow logs."""

    @model_validator(mode="after")
    def _check(self) -> NetworkSettings:
        prefix = int(self.vpc_cidr.split("/")[1])
        if not 16 <= prefix <= 20:
            raise _field_error("vpcCidr", f"/{prefix} is outside /16../20; the subnets need room, e.g. 10.40.0.0/16")
        if ipaddress.IPv4Network(self.vpc_cidr).overlaps(ipaddress.IPv4Network(KUBERNETES_SERVICE_CIDR)):
            raise _field_error(
                "vpcCidr",
                f"overlaps the cluster's Service range {KUBERNETES_SERVICE_CIDR}; use another, e.g. 10.40.0.0/16",
            )
        if len(self.availability_zones) < 2:
            raise _field_error(
                "availabilityZones",
                "fewer than 2 AZs; EKS needs subnets in at least two, e.g. [eu-west-1a, eu-west-1b]",
            )
        if len(set(self.availability_zones)) != len(self.availability_zones):
            raise _field_error("availabilityZones", "lists an AZ twice; list each zone once")
        if len(self.availability_zones) > 6:
            raise _field_error("availabilityZones", "more than 6 AZs; the subnet plan supports up to 6")
        missing = [name for name in REQUIRED_INTERFACE_ENDPOINTS if name not in self.interface_endpoints]
        if missing:
            raise _field_error(
                "interfaceEndpoints", f"lacks {missing}; nodes in private subnets need them, add them back"
            )
        return self
