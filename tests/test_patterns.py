"""The project's EventBridge rules and CloudWatch Logs filters, checked by independent engines (tests/patterns.py).

Every pattern gets an event it must match and a benign one it must not; the bite tests use patterns that are wrong
on purpose, so a matcher that said yes (or no) to everything would fail here.

Samples. EventBridge events follow the structure of a real "AWS API Call via CloudTrail" event for
AuthorizeSecurityGroupIngress captured by a public project, with example account and resource ids; the
ModifySecurityGroupRules request shape (GroupId under requestParameters.ModifySecurityGroupRulesRequest) is the one
AWS's own CloudTrail Lake sample queries read (aws-samples/cloud-trail-lake-query-samples,
ec2-security-historical-changes.sql). Log lines are verbatim from public GitHub threads (user names and e-mail
addresses replaced with placeholders); the source is given next to each.
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.logs.utils import EventMessageFilter

from tests.patterns import (
    InvalidEventError,
    InvalidEventPatternError,
    UnsupportedFilterPatternError,
    event_pattern_matches,
    filter_pattern_matches,
)

ACCOUNT = "111122223333"
REGION = "eu-west-1"
VPC = "vpc-0a1b2c3d4e5f67890"
WATCHED_GROUPS = ["sg-0a1b2c3d4e5f60718", "sg-0123456789abcdef0"]
OTHER_GROUP = "sg-0fedcba9876543210"
OTHER_VPC = "vpc-0fedcba9876543210"

# ---------------------------------------------------------------------------------------------------------------
# Sample events
# ---------------------------------------------------------------------------------------------------------------


def envelope(
    source: str, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None
) -> dict[str, Any]:
    """An EventBridge event: the fields every delivered event has, around `detail`."""
    return {
        "version": "0",
        "id": "36f4afa3-1d4a-15cf-af45-032afa2994be",
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": "2026-03-02T10:15:30Z",
        "region": REGION,
        "resources": resources or [],
        "detail": detail,
    }


def api_call(
    event_name: str,
    request_parameters: dict[str, Any] | None,
    *,
    source: str = "aws.ec2",
    event_source: str = "ec2.amazonaws.com",
    response_elements: dict[str, Any] | None = None,
    error_code: str | None = None,
    read_only: bool = False,
    category: str = "Management",
) -> dict[str, Any]:
    """A CloudTrail record as EventBridge delivers it ("AWS API Call via CloudTrail")."""
    detail: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEID:ops-session",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/ops-session",
            "accountId": ACCOUNT,
        },
        "eventTime": "2026-03-02T10:15:30Z",
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request_parameters,
        "responseElements": response_elements,
        "requestID": "b389022f-eb12-4752-a925-f12a129d8d29",
        "eventID": "50dd3491-f4bc-4a04-a4e0-db6d5311049d",
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": category == "Management",
        "recipientAccountId": ACCOUNT,
        "eventCategory": category,
    }
    if error_code is not None:
        detail["errorCode"] = error_code
        detail["errorMessage"] = "Access Denied"
    return envelope(source, "AWS API Call via CloudTrail", detail)


def ip_permissions(cidr: str, port: int = 22) -> dict[str, Any]:
    return {
        "items": [
            {
                "ipProtocol": "tcp",
                "fromPort": port,
                "toPort": port,
                "groups": {},
                "ipRanges": {"items": [{"cidrIp": cidr}]},
                "ipv6Ranges": {},
                "prefixListIds": {},
            }
        ]
    }


def rule_change(event_name: str, group_id: str, cidr: str = "198.51.100.0/24") -> dict[str, Any]:
    """Authorize/Revoke Ingress/Egress: the group id is requestParameters.groupId."""
    return api_call(event_name, {"groupId": group_id, "ipPermissions": ip_permissions(cidr)})


def modify_rules(group_id: str) -> dict[str, Any]:
    """ModifySecurityGroupRules: the group id is requestParameters.ModifySecurityGroupRulesRequest.GroupId."""
    request = {
        "GroupId": group_id,
        "SecurityGroupRule": {
            "SecurityGroupRuleId": "sgr-02e2ca7d55820dc26",
            "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"},
        },
    }
    return api_call("ModifySecurityGroupRules", {"ModifySecurityGroupRulesRequest": request})


def create_group(vpc: str) -> dict[str, Any]:
    """CreateSecurityGroup: no group id in the request (it does not exist yet); it comes back in the response."""
    return api_call(
        "CreateSecurityGroup",
        {"groupName": "debug-ssh", "groupDescription": "temporary", "vpcId": vpc},
        response_elements={
            "requestId": "0f87f54b-6927-11e9-852b-637b5ba836b4",
            "_return": True,
            "groupId": OTHER_GROUP,
        },
    )


def guardduty_finding(severity: float) -> dict[str, Any]:
    finding_id = "1ab2c3d4e5f60718293a4b5c6d7e8f90"
    arn = f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/12abc34d567e8fa901bc2d34e56789f0/finding/{finding_id}"
    return envelope(
        "aws.guardduty",
        "GuardDuty Finding",
        {
            "schemaVersion": "2.0",
            "accountId": ACCOUNT,
            "region": REGION,
            "partition": "aws",
            "id": finding_id,
            "arn": arn,
            "type": "UnauthorizedAccess:EC2/SSHBruteForce",
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
            "service": {"serviceName": "guardduty", "count": 3, "archived": False},
            "severity": severity,
            "createdAt": "2026-03-02T10:00:00.000Z",
            "updatedAt": "2026-03-02T10:15:00.000Z",
            "title": "198.51.100.7 is performing SSH brute force attacks against i-0123456789abcdef0.",
            "description": "198.51.100.7 is performing SSH brute force attacks against i-0123456789abcdef0.",
        },
        resources=[arn],
    )


def s3_get_object(error_code: str | None) -> dict[str, Any]:
    return api_call(
        "GetObject",
        {"bucketName": "jhub-prod-homes", "Host": "jhub-prod-homes.s3.eu-west-1.amazonaws.com", "key": "home/x"},
        source="aws.s3",
        event_source="s3.amazonaws.com",
        error_code=error_code,
        read_only=True,
        category="Data",
    )


# ---------------------------------------------------------------------------------------------------------------
# EventBridge rules
# ---------------------------------------------------------------------------------------------------------------

SECURITY_GROUP_CALLS = [
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
]

# The rule as specified: the seven calls, restricted to the watched groups through requestParameters.groupId.
SG_CHANGE_RULE: dict[str, Any] = {
    "source": ["aws.ec2"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["ec2.amazonaws.com"],
        "eventName": SECURITY_GROUP_CALLS,
        "requestParameters": {"groupId": WATCHED_GROUPS},
    },
}

# What also catches the two calls whose request has no requestParameters.groupId (see the gap test below).
SG_CHANGE_RULE_COMPLETE: dict[str, Any] = {
    "source": ["aws.ec2"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["ec2.amazonaws.com"],
        "eventName": SECURITY_GROUP_CALLS,
        "$or": [
            {"requestParameters": {"groupId": WATCHED_GROUPS}},
            {"requestParameters": {"ModifySecurityGroupRulesRequest": {"GroupId": WATCHED_GROUPS}}},
            {"requestParameters": {"vpcId": [VPC]}},
        ],
    },
}

GUARDDUTY_RULE: dict[str, Any] = {
    "source": ["aws.guardduty"],
    "detail-type": ["GuardDuty Finding"],
    "detail": {"severity": [{"numeric": [">=", 4]}]},
}

S3_ACCESS_DENIED_RULE: dict[str, Any] = {
    "source": ["aws.s3"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"eventSource": ["s3.amazonaws.com"], "errorCode": ["AccessDenied"]},
}

WORLD_OPEN_INGRESS_RULE: dict[str, Any] = {
    "source": ["aws.ec2"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventName": ["AuthorizeSecurityGroupIngress"],
        "requestParameters": {"ipPermissions": {"items": {"ipRanges": {"items": {"cidrIp": ["0.0.0.0/0"]}}}}},
    },
}


@pytest.mark.parametrize("group_id", WATCHED_GROUPS)
@pytest.mark.parametrize(
    "event_name",
    [
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupEgress",
    ],
)
def test_sg_rule_matches_rule_changes_on_watched_groups(event_name: str, group_id: str) -> None:
    assert event_pattern_matches(SG_CHANGE_RULE, rule_change(event_name, group_id))
    assert event_pattern_matches(SG_CHANGE_RULE_COMPLETE, rule_change(event_name, group_id))


def test_sg_rule_matches_delete_of_a_watched_group() -> None:
    event = api_call("DeleteSecurityGroup", {"groupId": WATCHED_GROUPS[0]})
    assert event_pattern_matches(SG_CHANGE_RULE, event)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(rule_change("AuthorizeSecurityGroupIngress", OTHER_GROUP), id="unwatched-group"),
        pytest.param(api_call("DeleteSecurityGroup", {"groupId": OTHER_GROUP}), id="delete-unwatched-group"),
        pytest.param(
            api_call(
                "UpdateSecurityGroupRuleDescriptionsIngress",
                {"groupId": WATCHED_GROUPS[0], "ipPermissions": ip_permissions("198.51.100.0/24")},
            ),
            id="other-call-on-watched-group",
        ),
        pytest.param(
            api_call("DescribeSecurityGroups", {"securityGroupIdSet": {"items": [{"groupId": WATCHED_GROUPS[0]}]}}),
            id="read-only-describe",
        ),
    ],
)
def test_sg_rules_ignore_benign_events(event: dict[str, Any]) -> None:
    assert not event_pattern_matches(SG_CHANGE_RULE, event)
    assert not event_pattern_matches(SG_CHANGE_RULE_COMPLETE, event)


def test_sg_rule_on_request_group_id_misses_modify_and_create() -> None:
    """Two of the seven calls never carry requestParameters.groupId: the specified rule cannot see them."""
    assert not event_pattern_matches(SG_CHANGE_RULE, modify_rules(WATCHED_GROUPS[0]))
    assert not event_pattern_matches(SG_CHANGE_RULE, create_group(VPC))
    # The $or form covers them, still scoped to the watched groups and VPC.
    assert event_pattern_matches(SG_CHANGE_RULE_COMPLETE, modify_rules(WATCHED_GROUPS[0]))
    assert event_pattern_matches(SG_CHANGE_RULE_COMPLETE, create_group(VPC))
    assert not event_pattern_matches(SG_CHANGE_RULE_COMPLETE, modify_rules(OTHER_GROUP))
    assert not event_pattern_matches(SG_CHANGE_RULE_COMPLETE, create_group(OTHER_VPC))


def test_world_open_ingress_rule_reads_arrays_of_objects() -> None:
    assert event_pattern_matches(
        WORLD_OPEN_INGRESS_RULE, rule_change("AuthorizeSecurityGroupIngress", OTHER_GROUP, "0.0.0.0/0")
    )
    assert not event_pattern_matches(
        WORLD_OPEN_INGRESS_RULE, rule_change("AuthorizeSecurityGroupIngress", OTHER_GROUP, "10.0.0.0/8")
    )


@pytest.mark.parametrize("severity", [4, 4.0, 5.3, 8, 8.9])
def test_guardduty_rule_matches_medium_and_high_findings(severity: float) -> None:
    assert event_pattern_matches(GUARDDUTY_RULE, guardduty_finding(severity))


@pytest.mark.parametrize("severity", [1, 2.0, 3.9])
def test_guardduty_rule_ignores_low_findings(severity: float) -> None:
    assert not event_pattern_matches(GUARDDUTY_RULE, guardduty_finding(severity))


def test_guardduty_numeric_match_needs_a_json_number() -> None:
    finding = guardduty_finding(8)
    finding["detail"]["severity"] = "8"
    assert not event_pattern_matches(GUARDDUTY_RULE, finding)


def test_s3_access_denied_rule() -> None:
    """The S3 AccessDenied detection as an EventBridge rule (its JSON-selector form has no offline engine)."""
    assert event_pattern_matches(S3_ACCESS_DENIED_RULE, s3_get_object("AccessDenied"))
    assert not event_pattern_matches(S3_ACCESS_DENIED_RULE, s3_get_object(None))
    iam_denied = api_call("CreateUser", {"userName": "x"}, source="aws.iam", event_source="iam.amazonaws.com")
    iam_denied["detail"]["errorCode"] = "AccessDenied"
    assert not event_pattern_matches(S3_ACCESS_DENIED_RULE, iam_denied)


# Bite tests: wrong on purpose.


def test_event_patterns_are_case_sensitive() -> None:
    wrong = {**SG_CHANGE_RULE, "detail-type": ["AWS API Call Via CloudTrail"]}
    assert event_pattern_matches(SG_CHANGE_RULE, rule_change("RevokeSecurityGroupIngress", WATCHED_GROUPS[0]))
    assert not event_pattern_matches(wrong, rule_change("RevokeSecurityGroupIngress", WATCHED_GROUPS[0]))


def test_wrong_threshold_changes_the_answer() -> None:
    above_eight = {**GUARDDUTY_RULE, "detail": {"severity": [{"numeric": [">", 8]}]}}
    assert event_pattern_matches(GUARDDUTY_RULE, guardduty_finding(5.3))
    assert not event_pattern_matches(above_eight, guardduty_finding(5.3))


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"severity": [{"numerc": [">=", 4]}]}, "Unrecognized match type numerc"),
        ({"severity": [{"numeric": [">=", "4"]}]}, "must be numeric"),
        ({"severity": [{"numeric": ["=>", 4]}]}, "Unrecognized numeric range operator"),
        ({"severity": 4}, "must be an object or an array"),
        ({"severity": []}, "Empty arrays are not allowed"),
    ],
)
def test_patterns_aws_would_reject_are_rejected(detail: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEventPatternError, match=reason):
        event_pattern_matches({**GUARDDUTY_RULE, "detail": detail}, guardduty_finding(8))


def test_events_without_the_eventbridge_envelope_are_rejected() -> None:
    event = guardduty_finding(8)
    del event["detail-type"]
    with pytest.raises(InvalidEventError, match="detail-type"):
        event_pattern_matches(GUARDDUTY_RULE, event)


# ---------------------------------------------------------------------------------------------------------------
# CloudWatch Logs filter patterns
# ---------------------------------------------------------------------------------------------------------------

# EKS control-plane "authenticator" log stream (aws-iam-authenticator server).
EKS_AUTH_DENIED = '"access denied"'
EKS_AUTH_DENIED_TERMS = "denied authenticate"  # both terms: the denial message and the /authenticate path

# kubernetes-sigs/aws-iam-authenticator#404 (logfmt, as in the EKS authenticator log group).
EKS_DENIED_LOGFMT = (
    'time="2021-10-13T18:49:30Z" level=warning msg="access denied" client="127.0.0.1:34638" '
    'error="input token was not properly formatted: token is missing expected \\"k8s-aws-v1.\\" prefix" '
    "method=POST path=/authenticate"
)
# kubernetes-sigs/aws-iam-authenticator#178 (logrus text format).
EKS_DENIED_TEXT = (
    'WARN[2019-04-27T20:00:09Z] access denied                                 client="127.0.0.1:55340" '
    'error="sts getCallerIdentity failed: error from AWS (expected 200, got 403). Body: '
    '{\\"Error\\":{\\"Code\\":\\"SignatureDoesNotMatch\\",\\"Message\\":\\"The request signature we calculated does '
    "not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service "
    'documentation for details.\\",\\"Type\\":\\"Sender\\"},'
    '\\"RequestId\\":\\"0f87f54b-6927-11e9-852b-637b5ba836b4\\"}" '
    "method=POST path=/authenticate"
)
# terraform-aws-modules/terraform-aws-eks#2415 (account ids already masked by the poster).
EKS_GRANTED = (
    'time="2023-01-23T14:06:32Z" level=info msg="access granted" '
    'arn="arn:aws:iam::xxx1:role/AWSWesleyClusterManagerLambda-NodeManagerRole-13LW3Y484DKRN" '
    'client="127.0.0.1:51358" groups="[]" method=POST path=/authenticate '
    'uid="aws-iam-authenticator:xxx1:xxxxxxxxxxxxxxxxxx" username="eks:node-manager"'
)
# uswitch/kiam#273: an AWS "Access denied" that is not an authenticator denial.
KIAM_ACCESS_DENIED = (
    '{"level":"error","msg":"error requesting credentials: AccessDenied: Access denied\\n\\tstatus code: 403, '
    'request id: <redacted>","pod.iam.role":"<redacted>","time":"2019-07-24T23:17:09Z"}'
)

# JupyterHub hub log.
JHUB_FORBIDDEN = '"403 GET /hub/"'
JHUB_FAILED_LOGIN = '"Failed login"'
JHUB_NOT_ALLOWED = '"not allowed"'

# jupyterhub/oauthenticator#8: the OAuth callback refused.
JHUB_403_OAUTH_CALLBACK = (
    "[W 2015-07-25 02:05:00.725 JupyterHub log:100] 403 GET /hub/oauth_callback?code=280e308d237c1849e446 311.85ms"
)
# jupyterhub/jupyterhub#4825 (user e-mail replaced).
JHUB_403_AUTHORIZE = (
    "[W 2024-05-28 09:16:43.527 JupyterHub log:192] 403 GET /hub/api/oauth2/authorize?client_id=service-binder"
    "&redirect_uri=https%3A%2F%2Fbinderhub-ui-demo.2i2c.cloud%2Foauth_callback&response_type=code&state=[secret] "
    "(user@example.org@10.128.0.57) 5.68ms"
)
JHUB_NOT_ALLOWED_LINE = (
    "[E 2024-05-28 09:16:43.526 JupyterHub auth:284] User <User(user@example.org 0/1 running)> "
    "not allowed to access JupyterHub service binder"
)
# A public JupyterHub + GitHub OAuth set-up write-up (2019); the message is JupyterHub's handlers/base.py
# `self.log.warning("Failed login for %s", ...)`.
JHUB_FAILED_LOGIN_LINE = "[W 2019-09-19 20:54:40.060 JupyterHub base:670] Failed login for unknown user"
# jupyterhub/jupyterhub#2666 (a normal login; user name replaced).
JHUB_LOGGED_IN = "[I 2019-08-07 09:25:19.010 JupyterHub base:663] User logged in: alice"
JHUB_302_LOGIN = (
    "[I 2019-08-07 09:25:19.011 JupyterHub log:174] 302 POST /hub/login?next= -> /hub/home "
    "(alice@10.65.193.192) 123.95ms"
)
JHUB_200_HOME = "[I 2019-08-07 09:25:19.853 JupyterHub log:174] 200 GET /hub/home (alice@10.65.193.192) 5.99ms"
# jupyterhub/oauthenticator#61 (hub start-up).
JHUB_ANY_ALLOWED = (
    "[I 2017-01-18 01:32:46.992 JupyterHub app:892] Not using whitelist. Any authenticated user will be allowed."
)
# jupyterhub/jupyterhub#1611: a 403 from a single-user server / service, not from the hub.
SINGLEUSER_403 = (
    "[W 2018-01-08 06:38:20.335 SingleUserLabApp log:122] 403 GET /services/data301/api/kernelspecs?1515393500311 "
    "(@66.215.49.133) 7.99ms"
)

JHUB_BENIGN = [JHUB_LOGGED_IN, JHUB_302_LOGIN, JHUB_200_HOME, JHUB_ANY_ALLOWED]


@pytest.mark.parametrize("pattern", [EKS_AUTH_DENIED, EKS_AUTH_DENIED_TERMS])
@pytest.mark.parametrize("line", [EKS_DENIED_LOGFMT, EKS_DENIED_TEXT], ids=["logfmt", "text"])
def test_eks_authenticator_filter_matches_denials(pattern: str, line: str) -> None:
    assert filter_pattern_matches(pattern, line)


@pytest.mark.parametrize("pattern", [EKS_AUTH_DENIED, EKS_AUTH_DENIED_TERMS])
def test_eks_authenticator_filter_ignores_grants(pattern: str) -> None:
    assert not filter_pattern_matches(pattern, EKS_GRANTED)


def test_eks_authenticator_terms_need_every_term() -> None:
    """`denied authenticate` is AND: kiam's "Access denied" has the one word but not the other."""
    assert "denied" in KIAM_ACCESS_DENIED
    assert not filter_pattern_matches(EKS_AUTH_DENIED_TERMS, KIAM_ACCESS_DENIED)
    assert not filter_pattern_matches(EKS_AUTH_DENIED, KIAM_ACCESS_DENIED)  # "Access denied": case differs


@pytest.mark.parametrize(
    ("pattern", "line"),
    [
        pytest.param(JHUB_FORBIDDEN, JHUB_403_OAUTH_CALLBACK, id="403-oauth-callback"),
        pytest.param(JHUB_FORBIDDEN, JHUB_403_AUTHORIZE, id="403-authorize"),
        pytest.param(JHUB_FAILED_LOGIN, JHUB_FAILED_LOGIN_LINE, id="failed-login"),
        pytest.param(JHUB_NOT_ALLOWED, JHUB_NOT_ALLOWED_LINE, id="not-allowed"),
    ],
)
def test_jupyterhub_filters_match_refusals(pattern: str, line: str) -> None:
    assert filter_pattern_matches(pattern, line)


@pytest.mark.parametrize("pattern", [JHUB_FORBIDDEN, JHUB_FAILED_LOGIN, JHUB_NOT_ALLOWED])
@pytest.mark.parametrize("line", JHUB_BENIGN)
def test_jupyterhub_filters_ignore_normal_traffic(pattern: str, line: str) -> None:
    assert not filter_pattern_matches(pattern, line)


def test_jupyterhub_forbidden_filter_is_hub_only() -> None:
    assert not filter_pattern_matches(JHUB_FORBIDDEN, SINGLEUSER_403)


# Bite tests: wrong on purpose.


def test_filter_patterns_are_case_sensitive() -> None:
    assert filter_pattern_matches(EKS_AUTH_DENIED, EKS_DENIED_LOGFMT)
    assert not filter_pattern_matches('"Access Denied"', EKS_DENIED_LOGFMT)
    assert not filter_pattern_matches('"access granted"', EKS_DENIED_LOGFMT)


def test_quoted_phrase_is_one_phrase_not_words() -> None:
    """The phrase must appear as written; its words appearing apart is not enough."""
    scattered = "[W 2026-03-02 10:00:00.000 JupyterHub log:192] 403 POST /hub/login, GET refused"
    assert filter_pattern_matches("GET hub 403", scattered)
    assert not filter_pattern_matches(JHUB_FORBIDDEN, scattered)


# Syntax without a faithful offline engine: refused, never answered.

S3_ACCESS_DENIED_SELECTOR = '{ $.errorCode = "AccessDenied" && $.eventSource = "s3.amazonaws.com" }'
UNSUPPORTED_FILTER_PATTERNS = [
    pytest.param("?Failed ?Unauthorized", id="any-term"),
    pytest.param('ERROR -"health check"', id="exclude-term"),
    pytest.param('Failed "not allowed"', id="term-and-phrase"),
    pytest.param(S3_ACCESS_DENIED_SELECTOR, id="json-and"),
    pytest.param(
        '{ ($.eventName = "AuthorizeSecurityGroupIngress") || ($.eventName = "RevokeSecurityGroupIngress") }',
        id="json-or",
    ),
    pytest.param('{ $.responseElements.x = "*" }', id="json-wildcard"),
    pytest.param("{ $.latency > 1000 }", id="json-numeric"),
    pytest.param("{ $.userIdentity.sessionContext NOT EXISTS }", id="json-not-exists"),
    pytest.param("[ip, user, username, timestamp, request, status_code = 403, bytes]", id="space-delimited"),
    pytest.param("%Failed|denied%", id="regex"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("pattern", UNSUPPORTED_FILTER_PATTERNS)
def test_filter_syntax_without_faithful_engine_is_refused(pattern: str) -> None:
    with pytest.raises(UnsupportedFilterPatternError):
        filter_pattern_matches(pattern, '{"errorCode": "AccessDenied", "eventSource": "s3.amazonaws.com"}')


def test_cloudtrail_s3_access_denied_selector_has_no_offline_engine() -> None:
    """moto, the only engine here, would call the S3 AccessDenied selector a match for any event at all."""
    benign = '{"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances"}'
    assert EventMessageFilter(S3_ACCESS_DENIED_SELECTOR).matches(benign)  # if this fails, moto grew JSON support
    assert EventMessageFilter("?Failed ?Unauthorized").matches("nothing relevant")
    with pytest.raises(UnsupportedFilterPatternError):
        filter_pattern_matches(S3_ACCESS_DENIED_SELECTOR, benign)
