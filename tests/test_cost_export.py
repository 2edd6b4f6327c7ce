"""What each user and group really costs (bootstrap/cost_export.py): the account stack's CUR 2.0 export with split
cost allocation data for EKS, its private TLS-only bucket, the pod labels activated as cost allocation tags, and
the Athena table and named queries that read the tags those labels become."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bootstrap import cost_export
from components.department_values import GROUP_LABEL_PREFIX, group_label
from components.tagging import COST_TAG_KEYS
from offline_plan.mock_engine import ACCOUNT_ID, Inventory
from policies.checklist import Resource, s3_buckets_protected
from tests.iam_eval import IamRequest, evaluate
from tests.test_bootstrap import run_bootstrap
from tests.test_bootstrap_config import run_bootstrap as run_failing_bootstrap
from tests.test_department import FakeHub, department, run, spawner_config

EXPORT = "aws:bcmdata/export:Export"


@pytest.fixture(scope="module")
def account() -> Inventory:
    return run_bootstrap(config={"jhub-eks-bootstrap:activatePodLabelTags": "true"})


def test_the_export_is_cur2_with_split_cost_allocation_data_from_us_east_1(account: Inventory) -> None:
    export = account.one(EXPORT)
    (query,) = export.inputs["export"]["dataQueries"]
    settings = query["tableConfigurations"]["COST_AND_USAGE_REPORT"]
    # The API wants every setting of the table once one is set; split cost allocation data on.
    assert set(settings) == {
        "BILLING_VIEW_ARN",
        "TIME_GRANULARITY",
        "INCLUDE_RESOURCES",
        "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY",
        "INCLUDE_SPLIT_COST_ALLOCATION_DATA",
    }
    assert settings["INCLUDE_SPLIT_COST_ALLOCATION_DATA"] == "TRUE"
    assert settings["BILLING_VIEW_ARN"] == f"arn:aws:billing::{ACCOUNT_ID}:billingview/primary"
    statement = query["queryStatement"]
    assert statement.endswith("FROM COST_AND_USAGE_REPORT")
    for column in ("resource_tags", "split_line_item_split_cost", "split_line_item_parent_resource_id"):
        assert column in statement
    (destination,) = export.inputs["export"]["destinationConfigurations"][0]["s3Destinations"]
    bucket = account.one("aws:s3/bucket:Bucket", "cost-cur")
    assert destination["s3Bucket"] == bucket.outputs.get("bucket", destination["s3Bucket"])
    assert destination["s3Region"] == "eu-west-1"
    # Data Exports answers in us-east-1 only: the export goes through a provider for that region.
    provider = next(r for r in account.resources if r.urn == export.provider.rsplit("::", 1)[0])
    assert provider.inputs["region"] == "us-east-1"


def test_the_bucket_is_private_encrypted_and_tls_only(account: Inventory) -> None:
    block = account.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "cost-cur").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (rule,) = account.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "cost-cur"
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    policy = json.loads(account.one("aws:s3/bucketPolicy:BucketPolicy", "cost-cur").inputs["policy"])
    bucket_arn = "arn:aws:s3:::jhub-eks-cur-x"
    policy = json.loads(json.dumps(policy).replace(policy["Statement"][0]["Resource"][0], bucket_arn))
    export_arn = f"arn:aws:bcm-data-exports:us-east-1:{ACCOUNT_ID}:export/jhub-eks-cur2-1"
    deliver = {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": export_arn, "aws:SecureTransport": "true"}
    service = "bcm-data-exports.amazonaws.com"
    requests = [
        IamRequest(
            "s3:PutObject", f"{bucket_arn}/cur2/x.parquet", [], service, context=deliver, resource_policy=policy
        ),
        # Another account's export, and plain HTTP, are refused.
        IamRequest(
            "s3:PutObject",
            f"{bucket_arn}/cur2/x.parquet",
            [],
            service,
            context={
                **deliver,
                "aws:SourceAccount": "999999999999",
                "aws:SourceArn": export_arn.replace(ACCOUNT_ID, "999999999999"),
            },
            resource_policy=policy,
        ),
        IamRequest(
            "s3:PutObject",
            f"{bucket_arn}/cur2/x.parquet",
            [],
            service,
            context={**deliver, "aws:SecureTransport": "false"},
            resource_policy=policy,
        ),
        # Nobody else gets the data by the bucket policy.
        IamRequest(
            "s3:GetObject",
            f"{bucket_arn}/cur2/x.parquet",
            [],
            f"arn:aws:iam::{ACCOUNT_ID}:role/someone",
            context={"aws:SecureTransport": "true"},
            resource_policy=policy,
        ),
    ]
    # Both services of the guide's policy (its CUR 2.0 version names billingreports too) deliver and check the
    # policy for this account's exports; for another account's export neither may.
    for other_service in ("billingreports.amazonaws.com", service):
        for action, resource in (("s3:PutObject", f"{bucket_arn}/cur2/x.parquet"), ("s3:GetBucketPolicy", bucket_arn)):
            requests.append(IamRequest(action, resource, [], other_service, context=deliver, resource_policy=policy))
        requests.append(
            IamRequest(
                "s3:PutObject",
                f"{bucket_arn}/cur2/x.parquet",
                [],
                other_service,
                context={**deliver, "aws:SourceArn": export_arn.replace(ACCOUNT_ID, "999999999999")},
                resource_policy=policy,
            )
        )
    assert evaluate(requests) == [
        "Allowed",
        "ImplicitlyDenied",
        "ExplicitlyDenied",
        "ImplicitlyDenied",
        *["Allowed", "Allowed", "ImplicitlyDenied"] * 2,
    ]


def test_the_labels_the_pods_carry_are_the_tags_activated_and_queried(
    account: Inventory, plans: dict[str, Inventory]
) -> None:
    plan = plans["prod"]
    hub = FakeHub(spawner_config(plan))
    groups = [g["group"] for g in department(plan)["groups"]]

    async def scenario() -> None:
        await hub.start("alice", groups)

    run(scenario)
    labels = hub.pods["alice"]["metadata"]["labels"]
    assert cost_export.USERNAME_LABELS[0] in labels and cost_export.GROUP_LABEL_PREFIX == GROUP_LABEL_PREFIX
    activated = {r.inputs["tagKey"] for r in account.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")}
    assert {*cost_export.USERNAME_LABELS, *(group_label(g) for g in groups)} <= activated
    queries = {q.inputs["name"]: q.inputs["query"] for q in account.of_type("aws:athena/namedQuery:NamedQuery")}
    assert "element_at(resource_tags, 'user_hub_jupyter_org_username')" in queries["cost-per-user-month"]
    assert "element_at(resource_tags, 'user_gateway_dask_org_user')" in queries["cost-per-user-month"]
    assert "LIKE 'user_group_jhub_eks_%'" in queries["cost-per-group-month"]
    # The bill per stack and component, as the plan's estimate splits it (the environment stacks' cost tags).
    assert {"stack", "component"} <= set(COST_TAG_KEYS)
    assert "element_at(resource_tags, 'user_component') AS component" in queries["cost-per-component-month"]
    assert "element_at(resource_tags, 'user_stack') AS stack" in queries["cost-per-component-month"]
    # Trino (Athena engine 3) fails a whole query on a map subscript of a missing key, and most line items carry
    # none of these tags: no query subscripts the tag map (trinodb/trino MapSubscriptOperator: "Key not present
    # in map"; element_at returns NULL).
    assert [name for name, sql in queries.items() if re.search(r"resource_tags\s*\[", sql)] == []
    assert {cost_export.tag_column(group_label(g)) for g in groups} == {
        f"user_group_jhub_eks_{g.replace('-', '_')}" for g in groups
    }


def test_the_athena_table_reads_the_exports_columns_and_months(account: Inventory) -> None:
    table = account.one("aws:glue/catalogTable:CatalogTable").inputs
    columns = {c["name"]: c["type"] for c in table["storageDescriptor"]["columns"]}
    assert columns == cost_export.COLUMNS
    assert cost_export.query_statement() == f"SELECT {', '.join(columns)} FROM COST_AND_USAGE_REPORT"
    template = table["parameters"]["storage.location.template"]
    assert template.endswith(
        f"/{cost_export.EXPORT_PREFIX}/{cost_export.EXPORT_NAME}/data/BILLING_PERIOD=${{billing_period}}"
    )
    workgroup: dict[str, Any] = account.one("aws:athena/workgroup:Workgroup").inputs["configuration"]
    assert workgroup["enforceWorkgroupConfiguration"] is True
    assert workgroup["resultConfiguration"]["encryptionConfiguration"]["encryptionOption"] == "SSE_S3"


def test_the_checklists_bucket_rule_passes_but_for_the_documented_sse_s3(account: Inventory) -> None:
    """The environment stacks' bucket rule (policies/checklist.py) over the account stack: public-access blocks
    and TLS-only hold; the one finding is SSE-S3, which Data Exports delivery needs (cost_export.bucket_policy)."""
    resources = [Resource(r.type, r.name, r.urn, r.outputs, r.parent, r.dependencies) for r in account.resources]
    findings = [v.message for v in s3_buckets_protected(resources)]
    assert findings == [
        "bucket cost-cur has no SSE-KMS default encryption (SSE-S3 only on a server access "
        "log target, the one encryption S3 delivers logs into)"
    ]


@pytest.mark.parametrize("tags", ['["data-science"]', '"group.jhub-eks/data-science"', '["group.jhub-eks/"]'])
def test_a_group_label_tag_that_no_pod_carries_stops_the_account_stack_with_the_key(tags: str) -> None:
    """Cost Explorer activates a key only once billing data has it, and the pods carry each group as
    group.jhub-eks/<group>: a bare group name would fail at the AWS API on `up`, or match nothing."""
    result = run_failing_bootstrap(
        {"jhub-eks-bootstrap:activatePodLabelTags": "true", "jhub-eks-bootstrap:groupLabelTags": tags}
    )
    assert result.returncode != 0
    assert f"jhub-eks-bootstrap:groupLabelTags: {json.loads(tags)!r} must be a list" in result.stderr
