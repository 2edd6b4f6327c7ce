"""Foundation: the stack's keys and its network. Nothing here waits for the cluster."""

from __future__ import annotations

from dataclasses import dataclass

from components.encryption import Encryption, EncryptionArgs
from components.network import Network, NetworkArgs
from preflight import Facts
from settings import Settings


@dataclass(frozen=True)
class Foundation:
    encryption: Encryption
    network: Network


def declare_foundation(name: str, settings: Settings, facts: Facts, tags: dict[str, str]) -> Foundation:
    encryption = Encryption(
        name,
        EncryptionArgs(
            name_prefix=name,
            partition=settings.partition,
            region=settings.region,
            account_id=facts.account_id,
            deletion_window_days=settings.encryption.key_deletion_window_days,
            retain_on_destroy=settings.data.retain_on_destroy,
            tags=tags,
        ),
    )
    network = Network(
        name,
        NetworkArgs(
            cluster_name=settings.cluster.name,
            vpc_cidr=settings.network.vpc_cidr,
            availability_zones=settings.network.availability_zones,
            nat_gateways=settings.network.nat_gateways,
            region=settings.region,
            interface_endpoints=settings.network.interface_endpoints,
            flow_log_retention_days=settings.network.flow_logs.retention_days,
            flow_log_traffic_type=settings.network.flow_logs.traffic_type,
            logs_key_arn=encryption.logs_key_arn,
            account_id=facts.account_id,
            partition=settings.partition,
            tags=tags,
        ),
    )
    return Foundation(encryption=encryption, network=network)
