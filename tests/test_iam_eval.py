"""The IAM evaluator gives real decisions, and bites: per-user S3 prefix isolation for one shared role.

All JupyterHub user pods share one IAM role through EKS Pod Identity; EKS tags each session with the pod's name
(`kubernetes-pod-name`: jupyter-alice), so the policy scopes S3 to `home/${aws:PrincipalTag/kubernetes-pod-name}/`.
Nothing here skips: without node and npm the evaluator raises, and the tests fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.iam_eval import IamEvalError, IamRequest, ensure_installed, evaluate, simulate

ACCOUNT = "123456789012"
BUCKET = "jhub-prod-homes"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
ROLE = "jhub-prod-user"
POD_TAG = "${aws:PrincipalTag/kubernetes-pod-name}"

ALLOW, IMPLICIT, EXPLICIT = "Allowed", "ImplicitlyDenied", "ExplicitlyDenied"


def obj(key: str) -> str:
    return f"{BUCKET_ARN}/{key}"


def home_policy(home: str) -> dict[str, Any]:
    """The per-user home policy; `home` is the per-user path element (`${...}` variable, or `*` for the leak)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnHomeObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": obj(f"home/{home}/*"),
            },
            {
                "Sid": "ListOwnHome",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": BUCKET_ARN,
                "Condition": {"StringLike": {"s3:prefix": [f"home/{home}/", f"home/{home}/*"]}},
            },
        ],
    }


SCOPED = home_policy(POD_TAG)
# The classic mistake: every user's pod may touch every home.
LEAKING = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllHomes",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": obj("home/*"),
        },
        {
            "Sid": "ListHomes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": BUCKET_ARN,
            "Condition": {"StringLike": {"s3:prefix": ["home/", "home/*"]}},
        },
    ],
}
# The old guide's IAM-user policy: aws:username does not exist for a role session.
USERNAME = home_policy("${aws:username}")


def pod_session(pod: str) -> tuple[str, dict[str, str]]:
    """The assumed-role ARN and the session tags EKS Pod Identity gives a user pod."""
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/eks-jhub-prod-{pod[:10]}-5f0c9a4e-1b2c-4d3e-8f90"
    tags = {
        "eks-cluster-arn": f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/jhub-prod",
        "eks-cluster-name": "jhub-prod",
        "kubernetes-namespace": "jhub",
        "kubernetes-pod-name": pod,
        "kubernetes-pod-uid": "7c1d2e3f-0000-4000-8000-000000000001",
        "kubernetes-service-account": "jhub-user",
    }
    return principal, tags


@dataclass(frozen=True)
class Case:
    name: str
    action: str
    resource: str
    expected: str
    context: Mapping[str, str] = field(default_factory=dict)
    pod: str = "jupyter-alice"

    def request(self, policy: Mapping[str, Any]) -> IamRequest:
        principal, tags = pod_session(self.pod)
        return IamRequest(
            action=self.action,
            resource=self.resource,
            identity_policies=[policy],
            principal=principal,
            principal_tags=tags,
            context=self.context,
        )


def listing(prefix: str) -> dict[str, str]:
    return {"s3:prefix": prefix}


# What per-user isolation means, as requests made by alice's pod.
ISOLATION = [
    Case("alice reads her object", "s3:GetObject", obj("home/jupyter-alice/notebook.ipynb"), ALLOW),
    Case("alice writes her object", "s3:PutObject", obj("home/jupyter-alice/data/x.csv"), ALLOW),
    Case("alice deletes her object", "s3:DeleteObject", obj("home/jupyter-alice/old.txt"), ALLOW),
    Case("alice lists her home", "s3:ListBucket", BUCKET_ARN, ALLOW, listing("home/jupyter-alice/")),
    Case("alice lists a sub-folder", "s3:ListBucket", BUCKET_ARN, ALLOW, listing("home/jupyter-alice/data/")),
    Case("alice reads bob's object", "s3:GetObject", obj("home/jupyter-bob/secret.txt"), IMPLICIT),
    Case("alice overwrites bob's object", "s3:PutObject", obj("home/jupyter-bob/secret.txt"), IMPLICIT),
    Case("alice deletes bob's object", "s3:DeleteObject", obj("home/jupyter-bob/secret.txt"), IMPLICIT),
    Case("alice lists bob's home", "s3:ListBucket", BUCKET_ARN, IMPLICIT, listing("home/jupyter-bob/")),
    Case("alice lists the bucket root", "s3:ListBucket", BUCKET_ARN, IMPLICIT, listing("")),
    Case("alice lists without a prefix", "s3:ListBucket", BUCKET_ARN, IMPLICIT),
    Case("alice lists all homes", "s3:ListBucket", BUCKET_ARN, IMPLICIT, listing("home/")),
    Case(
        "alice lists home/jupyter-alice (no slash)",
        "s3:ListBucket",
        BUCKET_ARN,
        IMPLICIT,
        listing("home/jupyter-alice"),
    ),
    Case("alice reads jupyter-alice-evil", "s3:GetObject", obj("home/jupyter-alice-evil/x.txt"), IMPLICIT),
    Case("alice writes jupyter-alice-evil", "s3:PutObject", obj("home/jupyter-alice-evil/x.txt"), IMPLICIT),
    Case("alice lists jupyter-alice-evil", "s3:ListBucket", BUCKET_ARN, IMPLICIT, listing("home/jupyter-alice-evil/")),
    Case("alice writes outside home/", "s3:PutObject", obj("jupyter-alice/x.txt"), IMPLICIT),
    Case("alice writes at the bucket root", "s3:PutObject", obj("x.txt"), IMPLICIT),
    # S3 keys are case-sensitive: another case is another user's folder.
    Case("alice reads home/Jupyter-Alice", "s3:GetObject", obj("home/Jupyter-Alice/x.txt"), IMPLICIT),
    Case("alice writes home/JUPYTER-ALICE", "s3:PutObject", obj("home/JUPYTER-ALICE/x.txt"), IMPLICIT),
    Case("alice lists home/Jupyter-Alice", "s3:ListBucket", BUCKET_ARN, IMPLICIT, listing("home/Jupyter-Alice/")),
    # The same policy, the same role: bob gets his own home and not alice's.
    Case("bob reads his object", "s3:GetObject", obj("home/jupyter-bob/secret.txt"), ALLOW, pod="jupyter-bob"),
    Case("bob lists his home", "s3:ListBucket", BUCKET_ARN, ALLOW, listing("home/jupyter-bob/"), pod="jupyter-bob"),
    Case(
        "bob reads alice's object",
        "s3:GetObject",
        obj("home/jupyter-alice/notebook.ipynb"),
        IMPLICIT,
        pod="jupyter-bob",
    ),
]


def isolation_violations(*policies: Mapping[str, Any]) -> list[list[str]]:
    """For each policy, every isolation expectation it breaks (empty: the policy isolates users); one node run."""
    decisions = evaluate([case.request(policy) for policy in policies for case in ISOLATION])
    return [
        [
            f"{case.name}: expected {case.expected}, got {decision}"
            for case, decision in zip(ISOLATION, decisions[i * len(ISOLATION) : (i + 1) * len(ISOLATION)], strict=True)
            if decision != case.expected
        ]
        for i in range(len(policies))
    ]


@pytest.fixture(scope="module")
def scoped_decisions() -> dict[str, str]:
    decisions = evaluate([case.request(SCOPED) for case in ISOLATION])
    return {case.name: decision for case, decision in zip(ISOLATION, decisions, strict=True)}


@pytest.mark.parametrize("case", ISOLATION, ids=[case.name for case in ISOLATION])
def test_scoped_policy_isolates_users(case: Case, scoped_decisions: dict[str, str]) -> None:
    assert scoped_decisions[case.name] == case.expected


def test_the_isolation_check_fails_on_a_leaking_policy() -> None:
    scoped, violations = isolation_violations(SCOPED, LEAKING)
    assert scoped == []
    assert "alice reads bob's object: expected ImplicitlyDenied, got Allowed" in violations
    assert "alice overwrites bob's object: expected ImplicitlyDenied, got Allowed" in violations
    assert "alice lists bob's home: expected ImplicitlyDenied, got Allowed" in violations
    assert "bob reads alice's object: expected ImplicitlyDenied, got Allowed" in violations


def test_username_variant_grants_nothing_to_a_role_session() -> None:
    alice_own = [case for case in ISOLATION if case.expected == ALLOW and case.pod == "jupyter-alice"]
    assert {decision for decision in evaluate([case.request(USERNAME) for case in alice_own])} == {IMPLICIT}
    # Control: the same policy does resolve ${aws:username} for an IAM user of that name, so the denial above
    # comes from the role session having no aws:username, not from a policy the evaluator cannot read.
    as_user = [
        IamRequest(
            action=case.action,
            resource=case.resource,
            identity_policies=[USERNAME],
            principal=f"arn:aws:iam::{ACCOUNT}:user/jupyter-alice",
            context=case.context,
        )
        for case in alice_own
    ]
    assert set(evaluate(as_user)) == {ALLOW}


def test_prefix_condition_is_really_evaluated_for_list_bucket() -> None:
    principal, tags = pod_session("jupyter-alice")
    [result] = simulate(
        [
            IamRequest(
                action="s3:ListBucket",
                resource=BUCKET_ARN,
                identity_policies=[SCOPED],
                principal=principal,
                principal_tags=tags,
                context=listing("home/jupyter-alice/"),
            )
        ]
    )
    assert result.decision == ALLOW
    assert result.allowed_by == ("identity:identity-0:ListOwnHome",)
    assert result.ignored_context_keys == ()


def test_a_session_without_the_pod_name_tag_gets_nothing() -> None:
    principal, tags = pod_session("jupyter-alice")
    del tags["kubernetes-pod-name"]
    requests = [
        IamRequest(
            action=case.action,
            resource=case.resource,
            identity_policies=[SCOPED],
            principal=principal,
            principal_tags=tags,
            context=case.context,
        )
        for case in ISOLATION
        if case.expected == ALLOW
    ]
    assert set(evaluate(requests)) == {IMPLICIT}


def _alice(action: str, resource: str, policies: Sequence[Mapping[str, Any]], **extra: Any) -> IamRequest:
    principal, tags = pod_session("jupyter-alice")
    return IamRequest(
        action=action, resource=resource, identity_policies=policies, principal=principal, principal_tags=tags, **extra
    )


def test_explicit_deny_wins_over_the_allow() -> None:
    deny_outside_own_home = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyOtherHomes",
                "Effect": "Deny",
                "Action": "s3:*",
                "NotResource": [BUCKET_ARN, obj(f"home/{POD_TAG}/*")],
            },
            {
                "Sid": "DenyListingOtherPrefixes",
                "Effect": "Deny",
                "Action": "s3:ListBucket",
                "Resource": BUCKET_ARN,
                "Condition": {"StringNotLike": {"s3:prefix": [f"home/{POD_TAG}/", f"home/{POD_TAG}/*"]}},
            },
        ],
    }
    policies = [LEAKING, deny_outside_own_home]
    results = simulate(
        [
            _alice("s3:GetObject", obj("home/jupyter-alice/x.txt"), policies),
            _alice("s3:GetObject", obj("home/jupyter-bob/x.txt"), policies),
            _alice("s3:ListBucket", BUCKET_ARN, policies, context=listing("home/jupyter-alice/")),
            _alice("s3:ListBucket", BUCKET_ARN, policies, context=listing("home/")),
        ]
    )
    assert [result.decision for result in results] == [ALLOW, EXPLICIT, ALLOW, EXPLICIT]
    assert results[1].denied_by == ("identity:identity-1:DenyOtherHomes",)
    assert results[3].denied_by == ("identity:identity-1:DenyListingOtherPrefixes",)


def test_bucket_policy_deny_with_arn_like_and_string_equals() -> None:
    """A bucket policy that denies every principal but the user role (ArnNotLike) and other namespaces."""
    bucket_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheUserRole",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": obj("home/*"),
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/jhub-*-user"}},
            },
            {
                "Sid": "OnlyTheJhubNamespace",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": obj("home/*"),
                "Condition": {"StringNotEquals": {"aws:PrincipalTag/kubernetes-namespace": "jhub"}},
            },
        ],
    }
    allow_by_arn = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyFromTheUserRole",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": obj("home/*"),
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/jhub-*-user"},
                    "StringEquals": {"aws:PrincipalTag/eks-cluster-name": "jhub-prod"},
                },
            }
        ],
    }
    principal, tags = pod_session("jupyter-alice")
    other_role = f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/session"
    requests = [
        IamRequest(
            "s3:GetObject", obj("home/jupyter-alice/x"), [SCOPED], principal, tags, resource_policy=bucket_policy
        ),
        IamRequest(
            "s3:GetObject", obj("home/jupyter-alice/x"), [SCOPED], other_role, tags, resource_policy=bucket_policy
        ),
        IamRequest(
            "s3:GetObject",
            obj("home/jupyter-alice/x"),
            [SCOPED],
            principal,
            {**tags, "kubernetes-namespace": "default"},
            resource_policy=bucket_policy,
        ),
        IamRequest("s3:GetObject", obj("home/jupyter-alice/x"), [allow_by_arn], principal, tags),
        IamRequest("s3:GetObject", obj("home/jupyter-alice/x"), [allow_by_arn], other_role, tags),
        IamRequest(
            "s3:GetObject",
            obj("home/jupyter-alice/x"),
            [allow_by_arn],
            principal,
            {**tags, "eks-cluster-name": "jhub-Prod"},
        ),
    ]
    assert evaluate(requests) == [ALLOW, EXPLICIT, EXPLICIT, ALLOW, IMPLICIT, IMPLICIT]


def test_plain_dict_requests_use_the_wire_format() -> None:
    principal, tags = pod_session("jupyter-alice")
    request = {
        "identityPolicies": [SCOPED],
        "principal": principal,
        "principalTags": tags,
        "action": "s3:ListBucket",
        "resource": BUCKET_ARN,
        "context": {"s3:prefix": "home/jupyter-alice/"},
    }
    assert evaluate([request, {**request, "context": {"s3:prefix": "home/jupyter-bob/"}}]) == [ALLOW, IMPLICIT]


def test_invalid_requests_raise_instead_of_reading_as_denied() -> None:
    principal, tags = pod_session("jupyter-alice")
    with pytest.raises(IamEvalError, match=r"invalid\.action"):
        evaluate([IamRequest("s3:GetObjekt", obj("home/jupyter-alice/x"), [SCOPED], principal, tags)])
    with pytest.raises(IamEvalError, match=r"policy\.errors"):
        evaluate([IamRequest("s3:GetObject", obj("home/jupyter-alice/x"), [{"Statement": "nope"}], principal, tags)])
    with pytest.raises(IamEvalError, match="concrete resource"):
        evaluate([IamRequest("s3:GetObject", obj("home/*"), [SCOPED], principal, tags)])


def test_missing_node_is_a_failure_not_a_skip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ensure_installed()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(IamEvalError, match="`node` is not on PATH"):
        evaluate([_alice("s3:GetObject", obj("home/jupyter-alice/x"), [SCOPED])])
