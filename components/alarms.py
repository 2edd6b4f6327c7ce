"""Security alarms on real signals: failed Kubernetes API authentications, failed JupyterHub logins,
unusual access to the user bucket, and changes to the cluster's security groups. Every alarm and
rule notifies the alert topic."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

METRIC_NAMESPACE = "JupyterHubEKS/Security"

# aws-iam-authenticator logs every refused token as `level=warning msg="access denied" ...`
# (unmapped ARN, expired or malformed token), in the control plane's `authenticator-*` streams.
KUBERNETES_AUTH_FAILURE_PATTERN = '"access denied"'

SECURITY_GROUP_EVENTS = [
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "UpdateSecurityGroupRuleDescriptionsEgress",
    "DeleteSecurityGroup",
]


# Refused JupyterHub logins, as the hub logs them: `Failed login for <user>` (handlers/base.py),
# `User ... not allowed` (an authenticated user outside the allow rules) and 403 responses of hub
# pages. One metric filter each, all feeding one metric: a single quoted phrase per filter is the
# part of the filter syntax the tests can check with an independent matcher (tests/patterns.py).
HUB_LOGIN_FAILURE_PATTERNS = ('"Failed login"', '"not allowed"', '"403 GET /hub/"')

# The metrics the log alarms count (METRIC_NAMESPACE, no dimensions; the dashboard graphs them).
KUBERNETES_AUTH_FAILURES_METRIC = "KubernetesAuthFailures"
HUB_LOGIN_FAILURES_METRIC = "HubLoginFailures"
# The user bucket's request metrics configuration: its name is the `FilterId` dimension.
BUCKET_METRICS_FILTER_ID = "EntireBucket"


# Changes the platform makes itself, not people: the Kubernetes cloud provider (running in the
# control plane as the cluster role) adds and removes the NLB's rules on the cluster security group
# (cloud-provider-aws updateInstanceSecurityGroupsForNLB, rule descriptions kubernetes.io/rule/nlb/);
# EKS's service-linked role maintains that group's own rules; GuardDuty's service-linked role creates
# its GuardDutyManagedSecurityGroup in the VPC for runtime monitoring. The node role is not excluded:
# pods that reached its credentials are exactly what these alarms are for.
GUARDDUTY_SERVICE = "guardduty.amazonaws.com"


def platform_role_arns(partition: str, account_id: str, cluster_role_arn: str) -> list[str]:
    """The roles whose security-group changes are the platform's own (see above)."""
    service_role = f"arn:{partition}:iam::{account_id}:role/aws-service-role"
    return [
        cluster_role_arn,
        f"{service_role}/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
        f"{service_role}/{GUARDDUTY_SERVICE}/AWSServiceRoleForAmazonGuardDuty",
    ]


def made_by_people(platform_roles: Sequence[str]) -> dict[str, Any]:
    """`userIdentity` condition: not one of the platform's roles, nor invoked by GuardDuty.

    `anything-but` does not match an absent field (IAM users, root and SSO users have no session
    issuer, most callers no `invokedBy`), so each exclusion is "another value, or absent"."""
    return {
        "sessionContext": {
            "sessionIssuer": {"$or": [{"arn": [{"anything-but": list(platform_roles)}]}, {"arn": [{"exists": False}]}]}
        },
        "$or": [{"invokedBy": [{"anything-but": [GUARDDUTY_SERVICE]}]}, {"invokedBy": [{"exists": False}]}],
    }


def security_group_change_pattern(group_ids: Sequence[str], platform_roles: Sequence[str]) -> dict[str, Any]:
    """CloudTrail events (through EventBridge) that change the given security groups, made by people."""
    return {
        "source": ["aws.ec2"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["ec2.amazonaws.com"],
            "eventName": SECURITY_GROUP_EVENTS,
            # ModifySecurityGroupRules carries the group under its request object.
            "$or": [
                {"requestParameters": {"groupId": list(group_ids)}},
                {"requestParameters": {"ModifySecurityGroupRulesRequest": {"GroupId": list(group_ids)}}},
            ],
            "userIdentity": made_by_people(platform_roles),
        },
    }


def security_group_creation_pattern(vpc_id: str, platform_roles: Sequence[str]) -> dict[str, Any]:
    """New security groups in the cluster's VPC (a way around the rules above), made by people."""
    return {
        "source": ["aws.ec2"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["ec2.amazonaws.com"],
            "eventName": ["CreateSecurityGroup"],
            "requestParameters": {"vpcId": [vpc_id]},
            "userIdentity": made_by_people(platform_roles),
        },
    }


@dataclass(frozen=True)
class Threshold:
    threshold: int
    period_seconds: int
    evaluation_periods: int


@dataclass(frozen=True)
class SecurityAlarmsArgs:
    alert_topic_arn: pulumi.Input[str]
    control_plane_log_group: pulumi.Input[str]
    container_log_group: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    security_group_ids: Sequence[pulumi.Input[str]]
    vpc_id: pulumi.Input[str]
    platform_role_arns: pulumi.Input[Sequence[str]]
    """Roles whose security-group changes are the platform's own (`platform_role_arns`)."""
    kubernetes_auth_failures: Threshold
    hub_login_failures: Threshold
    s3_access_denied: Threshold
    s3_anomaly_band: float
    tags: dict[str, str] | None = None


class SecurityAlarms(pulumi.ComponentResource):
    alarm_arns: pulumi.Output[list[str]]
    event_rules: list[tuple[str, pulumi.Output[str]]]
    """(what it watches, rule name) of the EventBridge rules, for their AWS/Events metrics."""

    def __init__(self, name: str, args: SecurityAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:SecurityAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags or {}
        notify = [args.alert_topic_arn]
        alarms: list[aws.cloudwatch.MetricAlarm] = []
        self.event_rules = []

        def threshold_alarm(
            key: str,
            description: str,
            namespace: str,
            metric: str,
            limit: Threshold,
            dimensions: Mapping[str, pulumi.Input[str]] | None = None,
        ) -> None:
            """Sum of `metric` per period at or over the threshold, for the evaluation periods."""
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic="Sum",
                period=limit.period_seconds,
                evaluation_periods=limit.evaluation_periods,
                threshold=limit.threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=notify,
                ok_actions=notify,
                tags=tags,
                opts=child,
            )
            alarms.append(alarm)

        def log_alarm(
            key: str,
            metric: str,
            description: str,
            log_group: pulumi.Input[str],
            patterns: Sequence[str],
            limit: Threshold,
        ) -> None:
            for index, pattern in enumerate(patterns):
                aws.cloudwatch.LogMetricFilter(
                    f"{name}-{key}-{index}",
                    log_group_name=log_group,
                    pattern=pattern,
                    metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                        name=metric, namespace=METRIC_NAMESPACE, value="1", default_value="0"
                    ),
                    opts=child,
                )
            threshold_alarm(key, description, METRIC_NAMESPACE, metric, limit)

        log_alarm(
            "kubernetes-auth-failures",
            KUBERNETES_AUTH_FAILURES_METRIC,
            "Denied or failed Kubernetes API authentications (EKS authenticator log)",
            args.control_plane_log_group,
            [KUBERNETES_AUTH_FAILURE_PATTERN],
            args.kubernetes_auth_failures,
        )
        log_alarm(
            "hub-login-failures",
            HUB_LOGIN_FAILURES_METRIC,
            "Refused JupyterHub logins and 403 responses (hub container log)",
            args.container_log_group,
            HUB_LOGIN_FAILURE_PATTERNS,
            args.hub_login_failures,
        )

        # S3 request metrics (CloudWatch has none for a bucket without this configuration).
        aws.s3.BucketMetric(
            f"{name}-user-data-requests", bucket=args.bucket_name, name=BUCKET_METRICS_FILTER_ID, opts=child
        )
        dimensions = {"BucketName": args.bucket_name, "FilterId": BUCKET_METRICS_FILTER_ID}
        for metric in ("AllRequests", "GetRequests", "4xxErrors"):
            anomaly = aws.cloudwatch.MetricAlarm(
                f"{name}-s3-{metric.lower()}-anomaly",
                alarm_description=f"User bucket {metric} outside the expected band (anomaly detection)",
                comparison_operator="GreaterThanUpperThreshold",
                evaluation_periods=2,
                threshold_metric_id="band",
                metric_queries=[
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="requests",
                        return_data=True,
                        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                            namespace="AWS/S3", metric_name=metric, dimensions=dimensions, period=300, stat="Sum"
                        ),
                    ),
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="band",
                        expression=f"ANOMALY_DETECTION_BAND(requests, {args.s3_anomaly_band})",
                        label=f"{metric} (expected)",
                        return_data=True,
                    ),
                ],
                treat_missing_data="notBreaching",
                alarm_actions=notify,
                tags=tags,
                opts=child,
            )
            alarms.append(anomaly)
        threshold_alarm(
            "s3-access-denied",
            "User bucket 4xx responses (AccessDenied and other refusals)",
            "AWS/S3",
            "4xxErrors",
            args.s3_access_denied,
            dimensions,
        )

        for key, description, pattern in (
            (
                "security-group-changes",
                "Rules of the cluster's security groups changed",
                pulumi.Output.all(pulumi.Output.from_input(args.platform_role_arns), *args.security_group_ids).apply(
                    lambda v: json.dumps(security_group_change_pattern(v[1:], v[0]))
                ),
            ),
            (
                "security-group-creation",
                "A security group was created in the cluster's VPC",
                pulumi.Output.all(args.vpc_id, args.platform_role_arns).apply(
                    lambda v: json.dumps(security_group_creation_pattern(v[0], v[1]))
                ),
            ),
        ):
            rule = aws.cloudwatch.EventRule(
                f"{name}-{key}", description=description, event_pattern=pattern, tags=tags, opts=child
            )
            aws.cloudwatch.EventTarget(f"{name}-{key}", rule=rule.name, arn=args.alert_topic_arn, opts=child)
            self.event_rules.append((key.replace("-", " "), rule.name))
        self.alarm_arns = pulumi.Output.all(*(a.arn for a in alarms))
        self.register_outputs({"alarm_arns": self.alarm_arns, "event_rules": dict(self.event_rules)})
