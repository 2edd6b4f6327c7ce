"""Detection and response: the alert topic, GuardDuty, the trail, log shipping, the alarms and
rules wired to the topic, and the incident switches (lockdown, secret rotation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components.audit_trail import TRAIL_BUCKET_LOG_PREFIX
from offline_plan import cost
from offline_plan.mock_engine import ACCOUNT_ID, BOOTSTRAP_DETECTOR, Inventory, Recorded
from offline_plan.plan import render
from policies.checklist import support_phase
from tests import test_patterns as samples
from tests.conftest import ROOT, key_arn, region_of, run_plan
from tests.iam_eval import IamRequest, evaluate
from tests.patterns import event_pattern_matches, filter_pattern_matches
from tests.trail_selectors import api_violations, trail_records

TOPIC = "aws:sns/topic:Topic"


def topic_arn(plan: Inventory) -> str:
    return plan.outputs["alert_topic_arn"]


# ---- Alert channel -------------------------------------------------------------------------------


def test_alert_topic_is_encrypted_and_reaches_people(plan: Inventory) -> None:
    topic = plan.one(TOPIC)
    assert topic.inputs["kmsMasterKeyId"] == key_arn(plan, "alerts")
    subscriptions = plan.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscriptions and all(s.inputs["topic"] == topic_arn(plan) for s in subscriptions)


# What AWS puts in the request context when each service publishes to an encrypted topic. SNS: the
# KMS request made for an EventBridge publish carries no aws:SourceAccount / aws:SourceArn (a key
# policy conditioned on them "is not supported for EventBridge-to-encrypted topics"), and an SNS topic
# policy statement for EventBridge cannot use a Condition block (EventBridge user guide).
PUBLISH_CONTEXT = {
    "cloudwatch.amazonaws.com": {"aws:SourceAccount": ACCOUNT_ID},
    "events.amazonaws.com": {},
}


def _allows(statements: list[dict[str, Any]], service: str, action: str, context: dict[str, str]) -> bool:
    """Allow statements for `service` whose every condition key is present and equal in `context`
    (the policies use StringEquals only; a missing key never matches)."""
    for statement in statements:
        principal = statement.get("Principal")
        principals = principal.get("Service", []) if isinstance(principal, dict) else []
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Allow" or service not in (
            principals if isinstance(principals, list) else [principals]
        ):
            continue
        if not any(a == action or (a.endswith("*") and action.startswith(a[:-1])) for a in actions):
            continue
        conditions = statement.get("Condition", {})
        assert set(conditions) <= {"StringEquals"}, conditions
        if all(context.get(k) == v for k, v in conditions.get("StringEquals", {}).items()):
            return True
    return False


@pytest.mark.parametrize("service", sorted(PUBLISH_CONTEXT))
def test_alarms_and_rules_can_publish_to_the_encrypted_topic(plan: Inventory, service: str) -> None:
    context = PUBLISH_CONTEXT[service]
    key_policy = json.loads(plan.one("aws:kms/key:Key", "alerts").inputs["policy"])["Statement"]
    topic_policy = json.loads(plan.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])["Statement"]
    assert _allows(key_policy, service, "kms:GenerateDataKey", context)
    assert _allows(key_policy, service, "kms:Decrypt", context)
    assert _allows(topic_policy, service, "sns:Publish", context)
    if service == "events.amazonaws.com":
        # No condition at all on EventBridge's statements (neither policy supports one for it).
        for statement in key_policy + topic_policy:
            if service in str(statement.get("Principal")):
                assert "Condition" not in statement
    else:
        # CloudWatch stays confined to this account's alarms.
        assert not _allows(key_policy, service, "kms:GenerateDataKey", {"aws:SourceAccount": "999999999999"})
        assert not _allows(topic_policy, service, "sns:Publish", {"aws:SourceAccount": "999999999999"})


def test_every_alarm_and_rule_notifies_the_topic(plan: Inventory) -> None:
    alarms = plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) >= 6
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic_arn(plan)], alarm.name
    rules = plan.of_type("aws:cloudwatch/eventRule:EventRule")
    targets = {t.inputs["rule"]: t.inputs["arn"] for t in plan.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    assert len(rules) >= 3
    for rule in rules:
        assert targets[rule.name] == topic_arn(plan), rule.name


# ---- GuardDuty -----------------------------------------------------------------------------------


ACCOUNT_WIDE = (
    "aws:guardduty/detector:Detector",
    "aws:guardduty/detectorFeature:DetectorFeature",
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
    "aws:iam/serviceLinkedRole:ServiceLinkedRole",
)


def test_environment_stacks_own_no_account_wide_singleton(plan: Inventory) -> None:
    """One per account and region: dev and prod may share the account, and destroying dev must not
    switch GuardDuty off for prod. bootstrap/ owns them (tests/test_bootstrap.py)."""
    assert [r.name for t in ACCOUNT_WIDE for r in plan.of_type(t)] == []
    assert plan.outputs["guardduty_detector_id"] == BOOTSTRAP_DETECTOR["id"]
    assert plan.one("aws:cloudwatch/eventRule:EventRule", "guardduty-findings")


def test_a_region_without_a_detector_stops_the_plan_with_the_fix(tmp_path: Path) -> None:
    result = run_plan("prod", tmp_path / "plan.json", None, "--no-guardduty-detector")
    assert result.returncode != 0
    assert "jhub-eks:detection.guardDuty.mode: GuardDuty has no detector in eu-west-1" in result.stdout + result.stderr
    assert "bootstrap/" in result.stdout + result.stderr


# ---- CloudTrail and logs -------------------------------------------------------------------------

BUCKET, POLICY = "aws:s3/bucket:Bucket", "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"


def trail_bucket(plan: Inventory) -> Recorded:
    """The bucket the stack's trail delivers to."""
    name = plan.one("aws:cloudtrail/trail:Trail").inputs["s3BucketName"]
    (bucket,) = [b for b in plan.of_type(BUCKET) if b.id == name]
    return bucket


def bucket_part(plan: Inventory, type_: str, bucket: Recorded) -> Recorded:
    (part,) = [r for r in plan.of_type(type_) if r.inputs["bucket"] == bucket.id]
    return part


def access_log_bucket(plan: Inventory) -> Recorded:
    """The bucket the trail bucket's server access logs go to."""
    target = bucket_part(plan, LOGGING, trail_bucket(plan)).inputs["targetBucket"]
    (bucket,) = [b for b in plan.of_type(BUCKET) if b.id == target]
    return bucket


def retention_days(plan: Inventory) -> int:
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{plan.stack}.yaml").read_text())["config"]
    return int(config.get("jhub-eks:detection", {}).get("trailRetentionDays", 365))


def test_trail_is_multi_region_validated_encrypted_and_in_cloudwatch(plan: Inventory) -> None:
    trail = plan.one("aws:cloudtrail/trail:Trail")
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["kmsKeyId"] == key_arn(plan, "-logs")
    assert trail.inputs["cloudWatchLogsGroupArn"].endswith(f"log-group:/aws/cloudtrail/{trail.inputs['name']}:*")
    bucket = trail_bucket(plan)
    assert bucket.retain_on_delete is (plan.stack == "prod")
    statements = json.loads(bucket_part(plan, POLICY, bucket).inputs["policy"])["Statement"]
    write = next(s for s in statements if s["Sid"] == "CloudTrailWritesThisTrail")
    assert write["Condition"]["StringEquals"]["aws:SourceArn"].endswith(f":trail/{trail.inputs['name']}")


# ---- What the trail records (CloudTrail's selector semantics: tests/trail_selectors.py) -------------

TRAIL = "aws:cloudtrail/trail:Trail"
ORGANIZATION_TRAIL = "o-example-organization-trail"


def s3_object_event(bucket: str, key: str, name: str = "GetObject") -> dict[str, str]:
    """An S3 data event as the selectors see it (readOnly: CloudTrail's own flag of the API)."""
    return {
        "eventCategory": "Data",
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "readOnly": "true" if name.startswith(("Get", "Head")) else "false",
        "resources.type": "AWS::S3::Object",
        "resources.ARN": f"arn:aws:s3:::{bucket}/{key}",
    }


def management_event(source: str, name: str, read_only: bool) -> dict[str, str]:
    return {"eventCategory": "Management", "eventSource": source, "eventName": name, "readOnly": str(read_only).lower()}


USER_DATA_EVENTS = (
    "a user reads their own notebook",
    "someone reads another user's file",
    "a curator overwrites a shared dataset",
    "a user deletes a file",
    "a multipart upload starts",
)
MANAGEMENT_EVENTS = ("a security group is opened", "instances are listed", "a KMS key decrypts")


def recording_cases(plan: Inventory) -> list[tuple[str, dict[str, str], bool]]:
    """(what, event, whether the stack's trail must record it)."""
    user = plan.one(BUCKET, "user-data").id
    return [
        (USER_DATA_EVENTS[0], s3_object_event(user, "home/jupyter-alice/notebook.ipynb"), True),
        (USER_DATA_EVENTS[1], s3_object_event(user, "home/jupyter-bob/secret.csv"), True),
        (USER_DATA_EVENTS[2], s3_object_event(user, "shared/datasets/x.csv", "PutObject"), True),
        (USER_DATA_EVENTS[3], s3_object_event(user, "home/jupyter-alice/x.csv", "DeleteObject"), True),
        (USER_DATA_EVENTS[4], s3_object_event(user, "home/jupyter-alice/big", "CreateMultipartUpload"), True),
        (MANAGEMENT_EVENTS[0], management_event("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", False), True),
        (MANAGEMENT_EVENTS[1], management_event("ec2.amazonaws.com", "DescribeInstances", True), True),
        (MANAGEMENT_EVENTS[2], management_event("kms.amazonaws.com", "Decrypt", True), True),
        ("a bucket whose name starts like the user bucket's", s3_object_event(f"{user}-copy", "home/x"), False),
        ("the trail's own bucket", s3_object_event(trail_bucket(plan).id, "AWSLogs/x.json.gz"), False),
        ("another bucket of the account", s3_object_event("another-team-bucket", "data.csv"), False),
        (
            "a Lambda function runs",
            {
                "eventCategory": "Data",
                "eventSource": "lambda.amazonaws.com",
                "eventName": "Invoke",
                "readOnly": "false",
                "resources.type": "AWS::Lambda::Function",
                "resources.ARN": f"arn:aws:lambda:eu-west-1:{ACCOUNT_ID}:function:f",
            },
            False,
        ),
    ]


def wrong_recordings(trail: dict[str, Any], cases: list[tuple[str, dict[str, str], bool]]) -> list[str]:
    return [what for what, event, expected in cases if trail_records(trail, event) != expected]


def data_selector(trail: dict[str, Any]) -> dict[str, Any]:
    (selector,) = [
        s
        for s in trail["advancedEventSelectors"]
        if {"field": "eventCategory", "equals": ["Data"]} in s["fieldSelectors"]
    ]
    return selector


def test_trail_records_management_events_and_every_object_read_and_write_of_user_data(plan: Inventory) -> None:
    trail = plan.one(TRAIL).inputs
    assert wrong_recordings(trail, recording_cases(plan)) == []
    assert plan.outputs["audit_trail"] == plan.outputs["user_data_access_trail"] == trail["name"]


def test_the_recording_checks_bite(plan: Inventory) -> None:
    trail, cases = plan.one(TRAIL).inputs, recording_cases(plan)

    def mutated(edit: Any) -> dict[str, Any]:
        copy = json.loads(json.dumps(trail))
        edit(copy)
        return copy

    def set_arn_prefix(prefixes: list[str]) -> Any:
        return lambda t: next(c for c in data_selector(t)["fieldSelectors"] if c["field"] == "resources.ARN").update(
            startsWiths=prefixes
        )

    user_arn = f"arn:aws:s3:::{plan.one(BUCKET, 'user-data').id}"
    # The bucket's ARN without its slash: a bucket named like it, plus a suffix, is recorded too.
    assert wrong_recordings(mutated(set_arn_prefix([user_arn])), cases) == [
        "a bucket whose name starts like the user bucket's"
    ]
    # Every object of the account: costs for every bucket, and drowns the user data in noise.
    assert wrong_recordings(mutated(set_arn_prefix(["arn:aws:s3:::"])), cases) == [
        "a bucket whose name starts like the user bucket's",
        "the trail's own bucket",
        "another bucket of the account",
    ]
    # Data selector only: advanced selectors replace the default, so the management events are lost.
    only_data = mutated(lambda t: t.update(advancedEventSelectors=[data_selector(t)]))
    assert wrong_recordings(only_data, cases) == list(MANAGEMENT_EVENTS)
    # No selectors (the trail before this change): management events only, no user-data event.
    assert wrong_recordings(mutated(lambda t: t.pop("advancedEventSelectors")), cases) == list(USER_DATA_EVENTS)


def test_trail_selectors_are_what_cloudtrail_accepts(plan: Inventory) -> None:
    trail = plan.one(TRAIL).inputs
    assert api_violations(trail) == []
    # The check bites: a field misspelt, StartsWith on resources.type, a selector without its category.
    broken = json.loads(json.dumps(trail))
    selector = data_selector(broken)
    by_field = {c["field"]: c for c in selector["fieldSelectors"]}
    by_field["resources.ARN"]["field"] = "resources.arn"
    by_field["resources.type"]["startsWiths"] = ["AWS::S3::"]
    selector["fieldSelectors"].remove(by_field["eventCategory"])
    assert api_violations(broken) == [
        "unknown field 'resources.arn'",
        "resources.type takes only Equals",
        f"selector {selector['name']!r} has no eventCategory",
    ]
    # ... and botocore's model refuses what is not even the API's shape.
    wrong_type = {**trail, "advancedEventSelectors": [{"fieldSelectors": [{"field": 1}]}]}
    assert (
        "Invalid type for parameter AdvancedEventSelectors[0].FieldSelectors[0].Field" in api_violations(wrong_type)[0]
    )


@pytest.fixture(scope="module")
def organization_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Inventory, str]:
    """prod beside an organization trail (detection.organizationTrailName)."""
    folder = tmp_path_factory.mktemp("organization-trail")
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    document["config"]["jhub-eks:detection"]["organizationTrailName"] = ORGANIZATION_TRAIL
    stack_file = folder / "Pulumi.prod-organization-trail.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    result = run_plan("prod", folder / "plan.json", stack_file)
    assert result.returncode == 0, result.stdout + result.stderr
    return Inventory.from_json(json.loads((folder / "plan.json").read_text())), result.stdout


def test_beside_an_organization_trail_the_stack_records_only_the_user_data_events(
    organization_plan: tuple[Inventory, str],
) -> None:
    """The organization's trail keeps the management events (not the stack's to change); the stack's
    own trail records the user data's object events and no second, billed copy of the management ones."""
    plan, _ = organization_plan
    trail = plan.one(TRAIL).inputs
    cases = [
        (what, event, expected and event["eventCategory"] == "Data") for what, event, expected in recording_cases(plan)
    ]
    assert wrong_recordings(trail, cases) == []
    assert api_violations(trail) == []
    assert plan.outputs["audit_trail"] == ORGANIZATION_TRAIL
    assert plan.outputs["user_data_access_trail"] == trail["name"] != ORGANIZATION_TRAIL
    assert [t.inputs["name"] for t in plan.of_type(TRAIL)] == [trail["name"]]  # the organization's is not declared
    assert "NO management events (another trail records them)" in render(plan)
    estimate = cost.estimate(plan, cost.load_prices(region_of(plan)), support_phase, 160)
    billed = {u.item for u in estimate.unit_prices if u.component == "AuditTrail"}
    assert "CloudTrail data events (every one billed)" in billed
    assert not any("management events" in item for item in billed)


def test_cloudtrail_may_deliver_data_events_to_the_trail_bucket(
    plan: Inventory, organization_plan: tuple[Inventory, str]
) -> None:
    """Data events go where management events go (AWSLogs/<account>/CloudTrail/<region>/), written by
    the trail itself: the trail bucket's policy allows exactly that trail, whichever mode."""
    for stack in (plan, organization_plan[0]):
        trail = stack.one(TRAIL).inputs
        bucket = trail_bucket(stack)
        policy = json.loads(bucket_part(stack, POLICY, bucket).inputs["policy"])
        trail_arn = f"arn:aws:cloudtrail:{region_of(stack)}:{ACCOUNT_ID}:trail/{trail['name']}"
        key = f"arn:aws:s3:::{bucket.id}/AWSLogs/{ACCOUNT_ID}/CloudTrail/{region_of(stack)}/2026/03/02/x.json.gz"

        def put(source_arn: str, _key: str = key, _policy: Any = policy) -> IamRequest:
            context = {
                "aws:SecureTransport": "true",
                "aws:SourceArn": source_arn,
                "aws:SourceAccount": ACCOUNT_ID,
                "s3:x-amz-acl": "bucket-owner-full-control",
            }
            return IamRequest(
                "s3:PutObject", _key, [], "cloudtrail.amazonaws.com", context=context, resource_policy=_policy
            )

        other = f"arn:aws:cloudtrail:{region_of(stack)}:{ACCOUNT_ID}:trail/someone-elses"
        assert evaluate([put(trail_arn), put(other)]) == ["Allowed", "ImplicitlyDenied"], stack.stack


# ---- The trail bucket's own access log, and how long it all stays -----------------------------------

SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def test_trail_bucket_access_is_logged_into_a_separate_hardened_bucket(plan: Inventory) -> None:
    trail, logs, user = trail_bucket(plan), access_log_bucket(plan), plan.one(BUCKET, "user-data")
    assert logs.id not in (trail.id, user.id)
    # Only the trail bucket logs there; the log bucket logs nowhere (each delivery would log another).
    assert [(g.inputs["bucket"], g.inputs["targetPrefix"]) for g in plan.of_type(LOGGING)] == [
        (trail.id, TRAIL_BUCKET_LOG_PREFIX)
    ]
    # SSE-S3: the only default encryption S3 delivers server access logs into (SSE-KMS is refused).
    (rule,) = bucket_part(plan, SSE, logs).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    block = bucket_part(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", logs).inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = bucket_part(plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", logs)
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"  # ACLs off: a policy grants delivery
    assert (logs.retain_on_delete, logs.inputs["forceDestroy"]) == (
        trail.retain_on_delete,
        trail.inputs["forceDestroy"],
    )
    # CloudTrail writes into the trail's bucket, never the user bucket, whose policy lets no AWS service in.
    assert plan.one(TRAIL).inputs["s3BucketName"] == trail.id
    user_policy = json.loads(bucket_part(plan, POLICY, user).inputs["policy"])
    assert not [s for s in user_policy["Statement"] if "Service" in json.dumps(s.get("Principal"))]


def log_delivery(
    policy: dict[str, Any],
    log_bucket: str,
    source_bucket: str,
    account: str = ACCOUNT_ID,
    tls: str = "true",
    prefix: str = TRAIL_BUCKET_LOG_PREFIX,
) -> IamRequest:
    """S3 delivering a server access log of `source_bucket` (the request context AWS documents for it)."""
    return IamRequest(
        "s3:PutObject",
        f"arn:aws:s3:::{log_bucket}/{prefix}2026-03-02-10-15-00-0123456789ABCDEF",
        [],
        "logging.s3.amazonaws.com",
        context={
            "aws:SecureTransport": tls,
            "aws:SourceArn": f"arn:aws:s3:::{source_bucket}",
            "aws:SourceAccount": account,
        },
        resource_policy=policy,
    )


def test_only_the_trail_buckets_access_logs_may_be_written_to_the_log_bucket(plan: Inventory) -> None:
    logs, trail, user = access_log_bucket(plan).id, trail_bucket(plan).id, plan.one(BUCKET, "user-data").id
    policy = json.loads(bucket_part(plan, POLICY, access_log_bucket(plan)).inputs["policy"])
    decisions = evaluate(
        [
            log_delivery(policy, logs, trail),
            log_delivery(policy, logs, user),  # another bucket's logs
            log_delivery(policy, logs, trail, account="999999999999"),  # a same-named bucket of another account
            log_delivery(policy, logs, trail, prefix="elsewhere/"),
            log_delivery(policy, logs, trail, tls="false"),
        ]
    )
    assert decisions == ["Allowed", "ImplicitlyDenied", "ImplicitlyDenied", "ImplicitlyDenied", "ExplicitlyDenied"]


def test_a_log_bucket_policy_naming_the_wrong_source_loses_the_trail_buckets_logs(plan: Inventory) -> None:
    """The mutation: the delivery statement names another bucket as its source (here the user
    bucket): S3's deliveries of the trail bucket's logs are refused, so the check above bites."""
    logs, trail, user = access_log_bucket(plan).id, trail_bucket(plan).id, plan.one(BUCKET, "user-data").id
    policy = json.loads(bucket_part(plan, POLICY, access_log_bucket(plan)).inputs["policy"])
    delivery = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    delivery["Condition"]["ArnEquals"]["aws:SourceArn"] = f"arn:aws:s3:::{user}"
    assert evaluate([log_delivery(policy, logs, trail)]) == ["ImplicitlyDenied"]


@pytest.mark.parametrize("which", ["trail", "access logs"])
def test_trail_and_log_buckets_refuse_requests_without_tls(plan: Inventory, which: str) -> None:
    bucket = trail_bucket(plan) if which == "trail" else access_log_bucket(plan)
    policy = json.loads(bucket_part(plan, POLICY, bucket).inputs["policy"])
    admin = plan.one("eks:index:Cluster").inputs["accessEntries"]["admin-0"]["principalArn"]
    requests = [
        IamRequest(
            "s3:GetObject",
            f"arn:aws:s3:::{bucket.id}/{TRAIL_BUCKET_LOG_PREFIX}x",
            [EVERYTHING],
            admin,
            context={"aws:SecureTransport": tls},
            resource_policy=policy,
        )
        for tls in ("false", "true")
    ]
    assert evaluate(requests) == ["ExplicitlyDenied", "Allowed"]


def test_trail_and_log_buckets_expire_what_they_keep_after_the_retention(plan: Inventory) -> None:
    days = retention_days(plan)
    every_object = {"prefix": ""}
    trail_rules = bucket_part(plan, LIFECYCLE, trail_bucket(plan)).inputs["rules"]
    # Deleted or overwritten log files go after the retention; the trail's log files themselves stay
    # (the audit record: kept per `data` settings, destroyed with a dev stack).
    assert trail_rules == [
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": every_object,
            "noncurrentVersionExpiration": {"noncurrentDays": days},
        }
    ]
    log_rules = {r["id"]: r for r in bucket_part(plan, LIFECYCLE, access_log_bucket(plan)).inputs["rules"]}
    assert log_rules["expire-access-logs"]["expiration"] == {"days": days}
    assert log_rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": days}
    assert all(r["status"] == "Enabled" and r["filter"] == every_object for r in log_rules.values())


def test_logs_key_lets_cloudtrail_encrypt_only_this_accounts_trails(plan: Inventory) -> None:
    statements = json.loads(plan.one("aws:kms/key:Key", "-logs").inputs["policy"])["Statement"]
    grant = next(s for s in statements if s.get("Sid") == "CloudTrailEncryptsThisAccountsTrails")
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert grant["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"].endswith(
        f":{ACCOUNT_ID}:trail/*"
    )


def test_container_logs_are_shipped_into_encrypted_retained_groups(plan: Inventory) -> None:
    addon = next(
        a for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "amazon-cloudwatch-observability"
    )
    assert addon.inputs["serviceAccountRoleArn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/")
    cluster = plan.one("eks:index:Cluster").inputs["name"]
    groups = {g.inputs["name"]: g for g in plan.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for kind in ("application", "dataplane", "host", "performance"):
        group = groups[f"/aws/containerinsights/{cluster}/{kind}"]
        assert group.inputs["kmsKeyId"] == key_arn(plan, "-logs") and group.inputs["retentionInDays"] > 0
        assert group.urn in addon.dependencies, "created before the add-on would create it unencrypted"


# ---- Alarms --------------------------------------------------------------------------------------


def metric_filters(plan: Inventory, key: str) -> list[Any]:
    found = [f for f in plan.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter") if key in f.name]
    assert found, key
    return found


def test_auth_failure_filters_watch_the_right_log_groups(plan: Inventory) -> None:
    cluster = plan.one("eks:index:Cluster").inputs["name"]
    for found in metric_filters(plan, "kubernetes-auth"):
        assert found.inputs["logGroupName"] == f"/aws/eks/{cluster}/cluster"
    for found in metric_filters(plan, "hub-login"):
        assert found.inputs["logGroupName"] == f"/aws/containerinsights/{cluster}/application"
        assert found.inputs["metricTransformation"]["name"] == "HubLoginFailures"
    config = __import__("yaml").safe_load((ROOT / "stacks" / f"Pulumi.{plan.stack}.yaml").read_text())["config"]
    expected = config.get("jhub-eks:detection", {}).get("kubernetesAuthFailures", {}).get("threshold", 5)
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "kubernetes-auth")
    assert alarm.inputs["threshold"] == expected


def test_user_bucket_request_metrics_feed_anomaly_and_4xx_alarms(plan: Inventory) -> None:
    bucket = plan.one("aws:s3/bucket:Bucket", "user-data")
    metric = plan.one("aws:s3/bucketMetric:BucketMetric")
    assert metric.inputs["bucket"] == bucket.id and metric.inputs["name"] == "EntireBucket"
    anomaly = [a for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.name.endswith("-anomaly")]
    assert {q["metric"]["metricName"] for a in anomaly for q in a.inputs["metricQueries"] if "metric" in q} >= {
        "AllRequests",
        "4xxErrors",
    }
    for alarm in anomaly:
        band = next(q for q in alarm.inputs["metricQueries"] if q["id"] == alarm.inputs["thresholdMetricId"])
        assert band["expression"].startswith("ANOMALY_DETECTION_BAND(")
    denied = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "s3-access-denied")
    assert denied.inputs["metricName"] == "4xxErrors" and denied.inputs["dimensions"]["BucketName"] == bucket.id


def test_security_group_rules_watch_the_cluster_groups(plan: Inventory) -> None:
    rule = plan.one("aws:cloudwatch/eventRule:EventRule", "security-group-changes")
    pattern = json.loads(rule.inputs["eventPattern"])
    groups = set(pattern["detail"]["$or"][0]["requestParameters"]["groupId"])
    endpoint_sg = plan.one("aws:ec2/securityGroup:SecurityGroup", "endpoints").id
    assert endpoint_sg in groups and len(groups) == 2  # + the EKS cluster security group of the nodes
    assert "AuthorizeSecurityGroupIngress" in pattern["detail"]["eventName"]


# ---- Incident switches ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lockdown_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Inventory, str]:
    out = tmp_path_factory.mktemp("lockdown") / "plan.json"
    result = run_plan("dev", out, ROOT / "tests" / "fixtures" / "stacks" / "Pulumi.dev-lockdown.yaml")
    assert result.returncode == 0, result.stderr
    return Inventory.from_json(json.loads(out.read_text())), result.stdout + result.stderr


def test_lockdown_denies_all_traffic_and_scales_the_hub_down(lockdown_plan: tuple[Inventory, str]) -> None:
    plan, output = lockdown_plan
    policy = plan.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "lockdown")
    assert policy.inputs["spec"]["podSelector"] == {}
    assert set(policy.inputs["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in policy.inputs["spec"] and "egress" not in policy.inputs["spec"]
    kubernetes_validate.validate(policy.inputs, plan.one("eks:index:Cluster").inputs["version"], strict=True)
    patches = {p.inputs["metadata"]["name"]: p for p in plan.of_type("kubernetes:apps/v1:DeploymentPatch")}
    assert {name: p.inputs["spec"]["replicas"] for name, p in patches.items()} == {"hub": 0, "proxy": 0}
    values = next(r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "jupyterhub").inputs[
        "values"
    ]
    # No allow-policy of the program's, nor of the chart's, next to the deny-all ones.
    assert all(values[path]["networkPolicy"]["enabled"] is False for path in ("hub", "singleuser"))
    names = {
        p.inputs["metadata"]["name"]
        for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"].get("namespace") == policy.inputs["metadata"]["namespace"]
    }
    assert names == {"default-deny", "lockdown-deny-all"}
    assert "LOCKDOWN is on" in output


def test_no_lockdown_objects_in_normal_operation(plan: Inventory) -> None:
    hub_namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace").inputs["metadata"]["name"]
    lockdown = [
        p
        for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"].get("namespace") == hub_namespace and "lockdown" in p.inputs["metadata"]["name"]
    ]
    assert lockdown == []
    assert plan.of_type("kubernetes:apps/v1:DeploymentPatch") == []


def test_bumping_the_generation_rotates_every_hub_secret(
    lockdown_plan: tuple[Inventory, str], plans: dict[str, Inventory]
) -> None:
    rotated, _ = lockdown_plan
    for random_id in rotated.of_type("random:index/randomId:RandomId"):
        assert random_id.inputs["keepers"] == {"generation": "2"}
    for random_id in plans["dev"].of_type("random:index/randomId:RandomId"):
        assert random_id.inputs["keepers"] == {"generation": "1"}


def test_runbook_maps_every_step_of_the_guide() -> None:
    runbook = (ROOT / "docs" / "incident-response.md").read_text().lower()
    for step in (
        "identify affected users",
        "revoke user tokens",
        "review audit logs",
        "isolate affected nodes",
        "snapshot ebs volumes",
        "rotate all secrets",
        "notify",
        "emergency shutdown",
    ):
        assert step in runbook, step
    for switch in ("incident.lockdown", "jupyterhub.secretsgeneration", "pulumi config set --secret oauthclientsecret"):
        assert switch in runbook, switch


# ---- The declared patterns against real matchers (tests/patterns.py) -----------------------------


def _matches_any(patterns: list[str], line: str) -> bool:
    return any(filter_pattern_matches(p, line) for p in patterns)


def _fluent_bit(line: str) -> str:
    """A hub log line as the add-on ships it (a JSON event around the container's line)."""
    return json.dumps(
        {"log": line, "stream": "stderr", "kubernetes": {"container_name": "hub", "namespace_name": "jupyterhub"}}
    )


def test_kubernetes_auth_filter_matches_denials_not_grants(plan: Inventory) -> None:
    patterns = [f.inputs["pattern"] for f in metric_filters(plan, "kubernetes-auth")]
    assert _matches_any(patterns, samples.EKS_DENIED_LOGFMT)
    assert _matches_any(patterns, samples.EKS_DENIED_TEXT)
    assert not _matches_any(patterns, samples.EKS_GRANTED)


def test_hub_login_filters_match_refusals_not_normal_logins(plan: Inventory) -> None:
    patterns = [f.inputs["pattern"] for f in metric_filters(plan, "hub-login")]
    for line in (samples.JHUB_403_OAUTH_CALLBACK, samples.JHUB_NOT_ALLOWED_LINE, samples.JHUB_FAILED_LOGIN_LINE):
        assert _matches_any(patterns, _fluent_bit(line)), line
    for line in samples.JHUB_BENIGN:
        assert not _matches_any(patterns, _fluent_bit(line)), line


def _rule_pattern(plan: Inventory, key: str) -> dict[str, Any]:
    return json.loads(plan.one("aws:cloudwatch/eventRule:EventRule", key).inputs["eventPattern"])


def test_security_group_rules_match_changes_to_the_cluster_groups_only(plan: Inventory) -> None:
    changes = _rule_pattern(plan, "security-group-changes")
    creation = _rule_pattern(plan, "security-group-creation")
    watched = plan.one("aws:ec2/securityGroup:SecurityGroup", "endpoints").id
    vpc = plan.one("aws:ec2/vpc:Vpc").id

    def fires(event: dict[str, Any]) -> bool:
        return event_pattern_matches(changes, event) or event_pattern_matches(creation, event)

    for event_name in ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress"):
        assert fires(samples.rule_change(event_name, watched)), event_name
    assert fires(samples.modify_rules(watched))
    assert fires(samples.create_group(vpc))
    assert fires(samples.api_call("DeleteSecurityGroup", {"groupId": watched}))
    # Benign: another team's group, another VPC, a read-only call on a watched group.
    assert not fires(samples.rule_change("AuthorizeSecurityGroupIngress", samples.OTHER_GROUP))
    assert not fires(samples.create_group(samples.OTHER_VPC))
    assert not fires(samples.api_call("DescribeSecurityGroups", {"groupId": watched}, read_only=True))


def _as(event: dict[str, Any], identity: dict[str, Any]) -> dict[str, Any]:
    """The same CloudTrail record, made by another identity."""
    return {**event, "detail": {**event["detail"], "userIdentity": identity}}


def _role_session(role_arn: str, invoked_by: str | None = None) -> dict[str, Any]:
    account, role_path = role_arn.split(":")[4], role_arn.split(":role/")[1]
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:session",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_path.rsplit('/', 1)[-1]}/session",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": account, "userName": role_path},
            "attributes": {"creationDate": "2026-03-02T10:00:00Z", "mfaAuthenticated": "false"},
        },
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def test_security_group_alarms_ignore_the_platforms_own_changes(plan: Inventory) -> None:
    """The cloud provider (as the cluster role, invoked by EKS) opens the NLB's ports on the cluster
    group; EKS's and GuardDuty's service-linked roles manage their rules and groups. People -- IAM
    users, root, SSO or CI roles, and anyone holding the node role's credentials -- still alarm."""
    changes = _rule_pattern(plan, "security-group-changes")
    creation = _rule_pattern(plan, "security-group-creation")
    cluster_group = plan.one("aws:iam/role:Role", "control-plane")  # the cluster role
    cluster_role = cluster_group.outputs.get("arn") or cluster_group.arn
    node_role = plan.one("aws:iam/role:Role", "node").arn
    account = cluster_role.split(":")[4]
    service_roles = f"arn:aws:iam::{account}:role/aws-service-role"
    watched = plan.one("aws:ec2/securityGroup:SecurityGroup", "endpoints").id
    vpc = plan.one("aws:ec2/vpc:Vpc").id

    def fires(event: dict[str, Any]) -> bool:
        return event_pattern_matches(changes, event) or event_pattern_matches(creation, event)

    platform = [
        _role_session(cluster_role, "eks.amazonaws.com"),
        _role_session(f"{service_roles}/eks.amazonaws.com/AWSServiceRoleForAmazonEKS", "eks.amazonaws.com"),
        _role_session(
            f"{service_roles}/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty", "guardduty.amazonaws.com"
        ),
    ]
    people = [
        _role_session(f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"),
        _role_session(f"arn:aws:iam::{account}:role/ci-jhub-eks-deploy"),
        _role_session(node_role),  # credentials taken from a node
        {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": f"arn:aws:iam::{account}:user/bob"},
        {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root"},
    ]
    for event in (
        samples.rule_change("AuthorizeSecurityGroupIngress", watched),
        samples.modify_rules(watched),
        samples.create_group(vpc),
    ):
        for identity in platform:
            assert not fires(_as(event, identity)), (event["detail"]["eventName"], identity["arn"])
        for identity in people:
            assert fires(_as(event, identity)), (event["detail"]["eventName"], identity["arn"])


def test_guardduty_rule_forwards_medium_and_above(plan: Inventory) -> None:
    pattern = _rule_pattern(plan, "guardduty-findings")
    assert event_pattern_matches(pattern, samples.guardduty_finding(4.0))
    assert event_pattern_matches(pattern, samples.guardduty_finding(8.9))
    assert not event_pattern_matches(pattern, samples.guardduty_finding(3.9))
