"""The VPC: private subnets for nodes, public subnets for load balancers only, NAT, flow logs and
VPC endpoints. Plain pulumi-aws resources, so every subnet, route and endpoint shows in a preview."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.trust import service_trust_policy


@dataclass(frozen=True)
class SubnetPlan:
    availability_zone: str
    private_cidr: str
    public_cidr: str


def plan_subnets(vpc_cidr: str, availability_zones: list[str]) -> list[SubnetPlan]:
    """Carve the VPC into one large private and one small public subnet per AZ.

    The VPC is split in eight; AZ *i* gets private block *i* (a /19 of a /16: nodes and pods take
    VPC IPs under the VPC CNI, so private subnets get most of the space). Block 7 is split in eight
    again for the public subnets, which hold only load balancer and NAT interfaces.
    """
    vpc = ipaddress.IPv4Network(vpc_cidr)
    if len(availability_zones) > 6:
        raise ValueError("at most 6 availability zones fit the subnet plan")
    blocks = list(vpc.subnets(prefixlen_diff=3))
    public_blocks = list(blocks[7].subnets(prefixlen_diff=3))
    return [
        SubnetPlan(zone, str(blocks[index]), str(public_blocks[index])) for index, zone in enumerate(availability_zones)
    ]


@dataclass(frozen=True)
class NetworkArgs:
    cluster_name: str
    """Tags subnets for Kubernetes load balancer discovery."""
    vpc_cidr: str
    availability_zones: list[str]
    nat_gateways: Literal["single", "perAz"]
    region: str
    interface_endpoints: list[str]
    flow_log_retention_days: int
    flow_log_traffic_type: str
    logs_key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    partition: str = "aws"
    tags: dict[str, str] | None = None


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    endpoint_security_group_id: pulumi.Output[str]
    s3_endpoint_id: pulumi.Output[str]
    flow_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags or {}
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # required for private DNS on interface endpoints
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        # CIS AWS 5.4: the default security group admits nothing, so nothing can rely on it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], tags=tags, opts=child)

        internet_gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-igw"}, opts=child
        )
        public_route_table = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-public"}, opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_route_table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=internet_gateway.id,
            opts=child,
        )

        # What nodes need before they boot: routes through NAT and the interface endpoints.
        self.node_egress_ready: list[pulumi.Resource] = []
        plan = plan_subnets(args.vpc_cidr, args.availability_zones)
        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        private_route_tables: list[aws.ec2.RouteTable] = []
        nat_gateways: list[aws.ec2.NatGateway] = []
        for index, zone_plan in enumerate(plan):
            zone = zone_plan.availability_zone
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=zone_plan.public_cidr,
                map_public_ip_on_launch=False,  # only load balancers and NAT live here
                tags={**tags, **cluster_tag, "Name": f"{name}-public-{zone}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=public.id, route_table_id=public_route_table.id, opts=child
            )
            public_subnets.append(public)

            if args.nat_gateways == "perAz" or index == 0:
                address = aws.ec2.Eip(
                    f"{name}-nat-{zone}", domain="vpc", tags={**tags, "Name": f"{name}-nat-{zone}"}, opts=child
                )
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{zone}",
                        allocation_id=address.id,
                        subnet_id=public.id,
                        tags={**tags, "Name": f"{name}-nat-{zone}"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[internet_gateway]),
                    )
                )

            private = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=zone_plan.private_cidr,
                map_public_ip_on_launch=False,
                tags={
                    **tags,
                    **cluster_tag,
                    "Name": f"{name}-private-{zone}",
                    "kubernetes.io/role/internal-elb": "1",
                },
                opts=child,
            )
            route_table = aws.ec2.RouteTable(
                f"{name}-private-{zone}", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-private-{zone}"}, opts=child
            )
            private_default = aws.ec2.Route(
                f"{name}-private-{zone}-default",
                route_table_id=route_table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_gateways[-1].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=private.id, route_table_id=route_table.id, opts=child
            )
            private_subnets.append(private)
            private_route_tables.append(route_table)
            self.node_egress_ready.append(private_default)

        self._flow_logs(name, args, vpc, tags)

        # S3 traffic (user data, ECR image layers) stays on the AWS network through a free gateway endpoint.
        s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in private_route_tables],
            tags={**tags, "Name": f"{name}-s3"},
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=vpc.id,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.vpc_cidr],
                )
            ],
            egress=[],
            tags={**tags, "Name": f"{name}-endpoints"},
            opts=child,
        )
        for service in args.interface_endpoints:
            endpoint = aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in private_subnets],
                security_group_ids=[endpoint_sg.id],
                tags={**tags, "Name": f"{name}-{service}"},
                opts=child,
            )
            self.node_egress_ready.append(endpoint)

        self.vpc_id = vpc.id
        self.private_subnet_ids = [subnet.id for subnet in private_subnets]
        self.public_subnet_ids = [subnet.id for subnet in public_subnets]
        self.endpoint_security_group_id = endpoint_sg.id
        self.s3_endpoint_id = s3_endpoint.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "endpoint_security_group_id": self.endpoint_security_group_id,
                "s3_endpoint_id": self.s3_endpoint_id,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/aws/vpc/{args.cluster_name}/flow-logs",
            kms_key_id=args.logs_key_arn,
            retention_in_days=args.flow_log_retention_days,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                # Confused-deputy guard: only flow logs of this account may assume it.
                lambda account: json.dumps(
                    service_trust_policy(
                        "vpc-flow-logs.amazonaws.com", condition={"StringEquals": {"aws:SourceAccount": account}}
                    )
                )
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                # The group exists already: no CreateLogGroup, no account-wide Describe.
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type=args.flow_log_traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=child,
        )
        self.flow_log_group_name = log_group.name
