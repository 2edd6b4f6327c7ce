"""What each user and group really costs: a Cost and Usage Report 2.0 export (AWS Data Exports) with split cost
allocation data for EKS, into a private, encrypted, TLS-only bucket of the account, and an Athena table and
named queries over it (docs/cost.md "What each user costs").

Split cost allocation data divides each EC2 node's cost among the pods it ran (by their CPU and memory requests
and use) and imports the pods' Kubernetes labels as user-defined cost allocation tags: KubeSpawner's username
label on every user server, the Dask Gateway user label on schedulers and workers, and the program's label per
department group (components/department_values.py). Account-wide and account-level (management or standalone
account), hence here and not in an environment stack. Turning split cost allocation data on for EKS is a
Billing preference with no API: the console step is in docs/cost.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# AWS Data Exports is served from us-east-1 only; the bucket may be anywhere (s3_region).
DATA_EXPORTS_REGION = "us-east-1"
EXPORT_NAME = "jhub-eks-cur2"
EXPORT_PREFIX = "cur2"
DATA_EXPORTS_SERVICE = "bcm-data-exports.amazonaws.com"
# The Data Exports guide's bucket policy ("Setting up an Amazon S3 bucket for data exports") has named both
# services: the version published with CUR 2.0 lets billingreports.amazonaws.com and bcm-data-exports write and
# read the policy (CreateExport reads it to check the bucket), the later cross-account version only
# bcm-data-exports. The policy grants both, for this account's exports only, so it is the one either checks for.
DATA_EXPORTS_SERVICES = ("billingreports.amazonaws.com", DATA_EXPORTS_SERVICE)

# The pod labels whose cost allocation tags split the bill per user (and Dask user): the label KubeSpawner puts on
# every user server (kubespawner/spawner.py `_build_common_labels`: hub.jupyter.org/username, the escaped name)
# and the one dask-gateway's Kubernetes backend puts on schedulers and workers (`get_labels`). tests/ keep them
# equal to what the pods carry.
USERNAME_LABELS = ("hub.jupyter.org/username", "gateway.dask.org/user")
GROUP_LABEL_PREFIX = "group.jhub-eks/"

# CUR 2.0 columns the export selects (Data Exports table dictionary, COST_AND_USAGE_REPORT); the split_line_item_*
# columns exist with INCLUDE_SPLIT_COST_ALLOCATION_DATA. Types as the Parquet files carry them.
COLUMNS: dict[str, str] = {
    "bill_billing_period_start_date": "timestamp",
    "line_item_usage_start_date": "timestamp",
    "line_item_usage_account_id": "string",
    "line_item_line_item_type": "string",
    "line_item_product_code": "string",
    "line_item_usage_type": "string",
    "line_item_resource_id": "string",
    "line_item_unblended_cost": "double",
    "resource_tags": "map<string,string>",
    "split_line_item_parent_resource_id": "string",
    "split_line_item_split_cost": "double",
    "split_line_item_unused_cost": "double",
    "split_line_item_split_usage_ratio": "double",
}


def tag_column(tag_key: str) -> str:
    """A user-defined tag's key in CUR 2.0's `resource_tags` map: `user_`, then the key with every character
    other than a letter, digit or underscore as `_` (`aws:eks:namespace` is `aws_eks_namespace` there)."""
    return "user_" + "".join(c if c.isalnum() or c == "_" else "_" for c in tag_key)


def query_statement() -> str:
    return f"SELECT {', '.join(COLUMNS)} FROM COST_AND_USAGE_REPORT"


def table_configuration(billing_view_arn: str) -> dict[str, dict[str, str]]:
    """Every COST_AND_USAGE_REPORT setting (the API wants them all once one is set), split cost allocation on."""
    return {
        "COST_AND_USAGE_REPORT": {
            "BILLING_VIEW_ARN": billing_view_arn,
            "TIME_GRANULARITY": "DAILY",
            "INCLUDE_RESOURCES": "TRUE",
            "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
            "INCLUDE_SPLIT_COST_ALLOCATION_DATA": "TRUE",
        }
    }


# A tag is read with element_at(resource_tags, key), never resource_tags[key]: Athena engine 3 is Trino, whose map
# subscript fails the query on the first line item without that key (most have none); element_at gives NULL.


def cost_per_user_query(database: str, table: str) -> str:
    """Per month and hub user, the split cost of their servers' and Dask clusters' pods (a user server's share of
    its node, and the node's unused share spread over its pods, as AWS splits it)."""
    hub_user, dask_user = (f"element_at(resource_tags, '{tag_column(label)}')" for label in USERNAME_LABELS)
    return (
        "SELECT billing_period,\n"
        f"  COALESCE({hub_user}, {dask_user}) AS username,\n"
        f"  CASE WHEN {hub_user} IS NOT NULL THEN 'server' ELSE 'dask' END AS workload,\n"
        "  ROUND(SUM(split_line_item_split_cost), 2) AS split_cost_usd,\n"
        "  ROUND(SUM(split_line_item_unused_cost), 2) AS unused_share_usd\n"
        f'FROM "{database}"."{table}"\n'
        f"WHERE split_line_item_parent_resource_id IS NOT NULL\n"
        f"  AND ({hub_user} IS NOT NULL OR {dask_user} IS NOT NULL)\n"
        "GROUP BY 1, 2, 3\nORDER BY 1 DESC, 4 DESC"
    )


def cost_per_group_query(database: str, table: str) -> str:
    """Per month and department group, the split cost of its members' servers (a member of two groups counts in
    both, as their server counts against both groups' limits)."""
    prefix = tag_column(GROUP_LABEL_PREFIX)
    return (
        "SELECT billing_period,\n"
        f"  substr(tag.key, {len(prefix) + 1}) AS department_group,\n"
        "  ROUND(SUM(split_line_item_split_cost), 2) AS split_cost_usd,\n"
        "  ROUND(SUM(split_line_item_unused_cost), 2) AS unused_share_usd\n"
        f'FROM "{database}"."{table}"\n'
        "CROSS JOIN UNNEST(resource_tags) AS tag (key, value)\n"
        f"WHERE split_line_item_parent_resource_id IS NOT NULL AND tag.key LIKE '{prefix}%'\n"
        "GROUP BY 1, 2\nORDER BY 1 DESC, 3 DESC"
    )


def cost_per_component_query(database: str, table: str) -> str:
    """Per month, stack and component, the cost of the resources tagged with them (components/tagging.py), the
    same split as the plan's estimate lines (`./plan` prices per component): estimate and bill side by side."""
    stack, component = tag_column("stack"), tag_column("component")
    return (
        "SELECT billing_period,\n"
        f"  element_at(resource_tags, '{stack}') AS stack,\n"
        f"  element_at(resource_tags, '{component}') AS component,\n"
        "  ROUND(SUM(line_item_unblended_cost), 2) AS cost_usd\n"
        f'FROM "{database}"."{table}"\n'
        f"WHERE element_at(resource_tags, '{stack}') IS NOT NULL\n"
        "GROUP BY 1, 2, 3\nORDER BY 1 DESC, 2, 4 DESC"
    )


def bucket_policy(bucket_arn: str, account_id: str, partition: str) -> dict[str, object]:
    """TLS only; Data Exports may write its files (and read the policy, to check the bucket is still this account's)
    for this account's exports only: the policy of the Data Exports user guide ("Setting up an Amazon S3 bucket for
    data exports", DATA_EXPORTS_SERVICES). SSE-S3: the guide documents no key policy for delivery into an SSE-KMS
    bucket."""
    export_arns = f"arn:{partition}:bcm-data-exports:{DATA_EXPORTS_REGION}:{account_id}"
    report_definitions = f"arn:{partition}:cur:{DATA_EXPORTS_REGION}:{account_id}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DataExportsDelivery",
                "Effect": "Allow",
                "Principal": {"Service": list(DATA_EXPORTS_SERVICES)},
                "Action": ["s3:PutObject", "s3:GetBucketPolicy"],
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {
                    "StringLike": {
                        "aws:SourceAccount": account_id,
                        "aws:SourceArn": [f"{export_arns}:export/*", f"{report_definitions}:definition/*"],
                    }
                },
            },
        ],
    }


@dataclass(frozen=True)
class CostExportArgs:
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    region: str
    """The bucket's region (the account stack's)."""
    first_month: str = "2026-01"
    """The first billing period (yyyy-MM) the Athena table's partition projection reads."""
    group_labels: Sequence[str] = field(default_factory=tuple)
    """Department group labels to activate as cost allocation tags, besides the username labels."""


class CostExport(pulumi.ComponentResource):
    """The CUR 2.0 export with split cost allocation data, its bucket, and the Athena table and queries over it."""

    bucket_name: pulumi.Output[str]

    def __init__(self, name: str, args: CostExportArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:CostExport", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(f"{name}-cur", bucket_prefix="jhub-eks-cur-", force_destroy=False, opts=child)
        # SSE-S3: Data Exports writes with the bucket's default encryption (bucket_policy).
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-cur",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=(
                        aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="AES256"
                        )
                    )
                )
            ],
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-cur",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-cur",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-cur",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-cur",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, args.account_id, args.partition).apply(
                lambda v: json.dumps(bucket_policy(v[0], v[1], v[2]))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        us_east_1 = aws.Provider(f"{name}-data-exports", region=DATA_EXPORTS_REGION, opts=child)
        billing_view = pulumi.Output.all(args.partition, args.account_id).apply(
            lambda v: f"arn:{v[0]}:billing::{v[1]}:billingview/primary"
        )
        aws.bcmdata.Export(
            f"{name}-cur2",
            export=aws.bcmdata.ExportExportArgs(
                name=EXPORT_NAME,
                description="CUR 2.0 with split cost allocation data for EKS: cost per user and group (jhub-eks)",
                data_queries=[
                    aws.bcmdata.ExportExportDataQueryArgs(
                        query_statement=query_statement(),
                        table_configurations=billing_view.apply(table_configuration),
                    )
                ],
                destination_configurations=[
                    aws.bcmdata.ExportExportDestinationConfigurationArgs(
                        s3_destinations=[
                            aws.bcmdata.ExportExportDestinationConfigurationS3DestinationArgs(
                                s3_bucket=bucket.bucket,
                                s3_prefix=EXPORT_PREFIX,
                                s3_region=args.region,
                                s3_output_configurations=[
                                    aws.bcmdata.ExportExportDestinationConfigurationS3DestinationS3OutputConfigurationArgs(
                                        compression="PARQUET",
                                        format="PARQUET",
                                        output_type="CUSTOM",
                                        overwrite="OVERWRITE_REPORT",
                                    )
                                ],
                            )
                        ]
                    )
                ],
                refresh_cadences=[aws.bcmdata.ExportExportRefreshCadenceArgs(frequency="SYNCHRONOUS")],
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=us_east_1, depends_on=[policy]),
        )
        database = aws.glue.CatalogDatabase(f"{name}-cur", name="jhub_eks_cost", opts=child)
        data_location = bucket.bucket.apply(lambda b: f"s3://{b}/{EXPORT_PREFIX}/{EXPORT_NAME}/data")
        table = aws.glue.CatalogTable(
            f"{name}-cur",
            name="cur2",
            database_name=database.name,
            table_type="EXTERNAL_TABLE",
            # Partition projection: every month from first_month on is a partition, with no crawler to run.
            parameters=data_location.apply(
                lambda location: {
                    "classification": "parquet",
                    "projection.enabled": "true",
                    "projection.billing_period.type": "date",
                    "projection.billing_period.format": "yyyy-MM",
                    "projection.billing_period.range": f"{args.first_month},NOW",
                    "projection.billing_period.interval": "1",
                    "projection.billing_period.interval.unit": "MONTHS",
                    "storage.location.template": f"{location}/BILLING_PERIOD=${{billing_period}}",
                }
            ),
            partition_keys=[aws.glue.CatalogTablePartitionKeyArgs(name="billing_period", type="string")],
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=data_location,
                input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                    serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                ),
                columns=[
                    aws.glue.CatalogTableStorageDescriptorColumnArgs(name=column, type=kind)
                    for column, kind in COLUMNS.items()
                ],
            ),
            opts=child,
        )
        workgroup = aws.athena.Workgroup(
            f"{name}-cost",
            name="jhub-eks-cost",
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=True,
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=bucket.bucket.apply(lambda b: f"s3://{b}/athena-results/"),
                    encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
            force_destroy=False,
            opts=child,
        )
        for query_name, build, description in (
            ("cost-per-user-month", cost_per_user_query, "Split EKS cost per hub user (servers and Dask) per month"),
            ("cost-per-group-month", cost_per_group_query, "Split EKS cost per department group per month"),
            ("cost-per-component-month", cost_per_component_query, "Cost per stack and component per month"),
        ):
            aws.athena.NamedQuery(
                f"{name}-{query_name}",
                name=query_name,
                description=description,
                database=database.name,
                workgroup=workgroup.name,
                query=pulumi.Output.all(database.name, table.name).apply(lambda v, build=build: build(v[0], v[1])),
                opts=child,
            )
        self.bucket_name = bucket.bucket
        self.register_outputs({"bucket_name": bucket.bucket})
