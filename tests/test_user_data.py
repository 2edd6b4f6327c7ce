"""User data, identity and images: the bucket's protections, per-user isolation proven by a real
IAM policy evaluation for two users, the user role's trust, the IAM linters, and ECR."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudsplaining.scan.policy_document import PolicyDocument
from parliament import analyze_policy_string

from components.hub_network_policies import POD_IDENTITY_AGENT
from components.jupyterhub_values import CURATOR_SERVICE_ACCOUNT, USER_POD_NAME_TEMPLATE, USER_SERVICE_ACCOUNT
from offline_plan.mock_engine import ACCOUNT_ID, Inventory, Recorded
from tests.conftest import key_arn, region_of, stack_config
from tests.iam_eval import IamRequest, evaluate
from tests.test_jupyterhub import hub_settings, hub_values

ROLE = "aws:iam/role:Role"
ALLOWED, DENIED, EXPLICIT = "Allowed", "ImplicitlyDenied", "ExplicitlyDenied"


def bucket(plan: Inventory) -> Recorded:
    return plan.one("aws:s3/bucket:Bucket", "user-data")


def bucket_part(plan: Inventory, type_: str) -> Recorded:
    (part,) = [r for r in plan.of_type(type_) if r.inputs["bucket"] == bucket(plan).id]
    return part


# ---- The bucket ----------------------------------------------------------------------------------


def test_bucket_encrypted_with_the_user_data_key_and_bucket_keys(plan: Inventory) -> None:
    (rule,) = bucket_part(
        plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn(plan, "user-data")}
    assert rule["bucketKeyEnabled"] is True


def test_bucket_versioned_private_and_without_acls(plan: Inventory) -> None:
    versioning = bucket_part(plan, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    block = bucket_part(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = bucket_part(plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"


def test_bucket_lifecycle_expires_old_versions_and_aborted_uploads(plan: Inventory) -> None:
    rules = {
        r["id"]: r
        for r in bucket_part(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    }
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] >= 1
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] >= 1
    assert all(r["status"] == "Enabled" for r in rules.values())


def test_bucket_survives_destroy_in_prod_and_is_emptied_in_dev(plan: Inventory) -> None:
    the_bucket = bucket(plan)
    if plan.stack == "prod":
        assert the_bucket.retain_on_delete is True and the_bucket.inputs["forceDestroy"] is False
    else:
        assert the_bucket.retain_on_delete is False and the_bucket.inputs["forceDestroy"] is True


# ---- Isolation, proven by policy evaluation ------------------------------------------------------


def user_role(plan: Inventory) -> Recorded:
    return plan.one(ROLE, "user-servers")


def user_policy(plan: Inventory) -> dict[str, Any]:
    return json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "user-servers").inputs["policy"])


def bucket_policy(plan: Inventory) -> dict[str, Any]:
    return json.loads(bucket_part(plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])


def through_the_vpc(plan: Inventory) -> dict[str, str]:
    """Request context of a pod: TLS, through this VPC's S3 gateway endpoint."""
    endpoint = next(
        e for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["serviceName"].endswith(".s3")
    )
    return {"aws:SecureTransport": "true", "aws:SourceVpce": endpoint.id}


def cases(bucket_name: str, me: str, other: str) -> list[tuple[str, str, str, dict[str, Any], str]]:
    """(what, action, resource, context, expected decision) for the user whose pod is `me`."""
    arn = f"arn:aws:s3:::{bucket_name}"
    mine, theirs = f"home/{me}/", f"home/{other}/"
    evil = f"home/{me}-evil/"
    return [
        ("read own object", "s3:GetObject", f"{arn}/{mine}notebook.ipynb", {}, ALLOWED),
        ("write own object", "s3:PutObject", f"{arn}/{mine}data/x.csv", {}, ALLOWED),
        ("delete own object", "s3:DeleteObject", f"{arn}/{mine}x.csv", {}, ALLOWED),
        ("list own prefix", "s3:ListBucket", arn, {"s3:prefix": mine}, ALLOWED),
        ("list own subfolder", "s3:ListBucket", arn, {"s3:prefix": f"{mine}data/"}, ALLOWED),
        ("read the other user's object", "s3:GetObject", f"{arn}/{theirs}notebook.ipynb", {}, DENIED),
        ("overwrite the other user's object", "s3:PutObject", f"{arn}/{theirs}notebook.ipynb", {}, DENIED),
        ("delete the other user's object", "s3:DeleteObject", f"{arn}/{theirs}notebook.ipynb", {}, DENIED),
        ("list the other user's prefix", "s3:ListBucket", arn, {"s3:prefix": theirs}, DENIED),
        ("list the bucket root", "s3:ListBucket", arn, {"s3:prefix": ""}, DENIED),
        ("list all homes", "s3:ListBucket", arn, {"s3:prefix": "home/"}, DENIED),
        ("list a prefix that starts with my name", "s3:ListBucket", arn, {"s3:prefix": evil}, DENIED),
        ("read under a prefix that starts with my name", "s3:GetObject", f"{arn}/{evil}x", {}, DENIED),
        ("read the shared area", "s3:GetObject", f"{arn}/shared/datasets/x.csv", {}, ALLOWED),
        ("list the shared area", "s3:ListBucket", arn, {"s3:prefix": "shared/datasets/"}, ALLOWED),
        ("write the shared area", "s3:PutObject", f"{arn}/shared/x.csv", {}, DENIED),
        ("delete from the shared area", "s3:DeleteObject", f"{arn}/shared/x.csv", {}, DENIED),
        ("read a prefix that only starts like shared", "s3:GetObject", f"{arn}/shared-evil/x", {}, DENIED),
        ("write at the bucket root", "s3:PutObject", f"{arn}/x.csv", {}, DENIED),
        ("change the case of my name", "s3:GetObject", f"{arn}/home/{me.upper()}/x", {}, DENIED),
    ]


def wrong_decisions(
    plan: Inventory, policy: dict[str, Any], role: str, service_account: str, table: list[Any], pod: str
) -> list[tuple[str, str, str]]:
    """The cases of `table` the role's policy (with the bucket policy, through the VPC) decides otherwise."""
    namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace").inputs["metadata"]["name"]
    tags = {
        "kubernetes-pod-name": pod,
        "kubernetes-namespace": namespace,
        "kubernetes-service-account": service_account,
    }
    decisions = evaluate(
        [
            IamRequest(
                action=action,
                resource=resource,
                identity_policies=[policy],
                resource_policy=bucket_policy(plan),
                principal=f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/eks-{pod}",
                principal_tags=tags,
                context={**through_the_vpc(plan), **context},
            )
            for _, action, resource, context, _ in table
        ]
    )
    return [
        (what, expected, got) for (what, *_, expected), got in zip(table, decisions, strict=True) if got != expected
    ]


@pytest.mark.parametrize(("me", "other"), [("alice", "bob"), ("bob", "alice")])
def test_each_user_reaches_only_their_own_prefix(plan: Inventory, me: str, other: str) -> None:
    pod, other_pod = USER_POD_NAME_TEMPLATE.format(username=me), USER_POD_NAME_TEMPLATE.format(username=other)
    table = cases(bucket(plan).id, pod, other_pod)
    assert wrong_decisions(plan, user_policy(plan), user_role(plan).name, USER_SERVICE_ACCOUNT, table, pod) == []


def curator_cases(bucket_name: str, me: str, other: str) -> list[tuple[str, str, str, dict[str, Any], str]]:
    """A curator: the user rules, except that the shared area is writable."""
    arn = f"arn:aws:s3:::{bucket_name}"
    writes = {"write the shared area", "delete from the shared area"}
    table = [
        (what, *rest, ALLOWED if what in writes else expected)
        for what, *rest, expected in cases(bucket_name, me, other)
    ]
    return [*table, ("overwrite a shared dataset", "s3:PutObject", f"{arn}/shared/datasets/x.csv", {}, ALLOWED)]


def test_curators_write_the_shared_area_and_still_only_their_own_home(plans: dict[str, Inventory]) -> None:
    plan = plans["prod"]
    role = plan.one(ROLE, "curator-servers")
    policy = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "curator-servers").inputs["policy"])
    pod, other = "jupyter-carol", "jupyter-alice"
    table = curator_cases(bucket(plan).id, pod, other)
    assert wrong_decisions(plan, policy, role.name, CURATOR_SERVICE_ACCOUNT, table, pod) == []
    (association,) = [
        a for a in plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation") if "curator" in a.name
    ]
    assert association.inputs["serviceAccount"] == CURATOR_SERVICE_ACCOUNT
    assert association.inputs["roleArn"] == role.arn


def test_a_user_role_that_could_write_the_shared_area_is_caught(plan: Inventory) -> None:
    policy = user_policy(plan)
    read_shared = next(s for s in policy["Statement"] if s["Sid"] == "ReadShared")
    leaking = {**policy, "Statement": [*policy["Statement"], {**read_shared, "Sid": "Leak", "Action": "s3:PutObject"}]}
    pod = USER_POD_NAME_TEMPLATE.format(username="alice")
    table = cases(bucket(plan).id, pod, "jupyter-bob")
    wrong = wrong_decisions(plan, leaking, user_role(plan).name, USER_SERVICE_ACCOUNT, table, pod)
    assert [what for what, *_ in wrong] == ["write the shared area"]


def test_only_stacks_with_a_curator_profile_have_the_curator_role(plan: Inventory) -> None:
    writers = [p for p in hub_settings(plan)["userServers"].get("profiles", []) if p.get("sharedDataWriter")]
    assert bool(writers) == bool([r for r in plan.of_type(ROLE) if "curator-servers" in r.name])
    for profile in writers:
        assert profile["groups"], "a profile writing shared/ is for its curator groups only"


def test_a_pod_of_the_same_name_in_another_namespace_gets_nothing(plan: Inventory) -> None:
    name = bucket(plan).id
    decisions = evaluate(
        [
            IamRequest(
                action="s3:GetObject",
                resource=f"arn:aws:s3:::{name}/home/jupyter-alice/x",
                identity_policies=[user_policy(plan)],
                principal=f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{user_role(plan).name}/s",
                principal_tags={"kubernetes-pod-name": "jupyter-alice", "kubernetes-namespace": "default"},
                context=through_the_vpc(plan),
            )
        ]
    )
    assert decisions == [DENIED]


def test_bucket_refuses_requests_without_tls(plan: Inventory) -> None:
    name = bucket(plan).id
    admin = plan.one("eks:index:Cluster").inputs["accessEntries"]["admin-0"]["principalArn"]
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    requests = [
        IamRequest(
            "s3:GetObject",
            f"arn:aws:s3:::{name}/home/x",
            [everything],
            admin,
            context={**through_the_vpc(plan), "aws:SecureTransport": tls},
            resource_policy=bucket_policy(plan),
        )
        for tls in ("false", "true")
    ]
    assert evaluate(requests) == [EXPLICIT, ALLOWED]


def test_prod_bucket_data_only_through_the_vpc_endpoint_except_break_glass(plans: dict[str, Inventory]) -> None:
    prod = plans["prod"]
    name = bucket(prod).id
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    admin = f"arn:aws:iam::{ACCOUNT_ID}:role/PlatformAdmin"
    break_glass = "arn:aws:iam::444455556666:role/BreakGlassAdmin"
    outside = {"aws:SecureTransport": "true", "aws:SourceVpce": "vpce-somewhere-else"}

    def get(who: str, context: dict[str, str], action: str = "s3:GetObject") -> IamRequest:
        resource = f"arn:aws:s3:::{name}/home/x" if action == "s3:GetObject" else f"arn:aws:s3:::{name}"
        return IamRequest(action, resource, [everything], who, context=context, resource_policy=bucket_policy(prod))

    decisions = evaluate(
        [
            get(admin, through_the_vpc(prod)),
            get(admin, outside),
            get(admin, {"aws:SecureTransport": "true"}),  # from the internet: no endpoint at all
            get(break_glass, outside),
            # Bucket administration (policy, lifecycle) stays possible for the deployer from anywhere.
            get(admin, outside, "s3:PutBucketPolicy"),
        ]
    )
    assert decisions == [ALLOWED, EXPLICIT, EXPLICIT, ALLOWED, ALLOWED]


def test_prod_deployer_keeps_head_bucket_outside_the_vpc_but_no_data(plans: dict[str, Inventory]) -> None:
    """HeadBucket (the provider's read on refresh and before each bucket update) is authorized as
    s3:ListBucket. The deployer and admins keep exactly that from outside the endpoint; a user
    pod's credentials used outside the endpoint get neither listing nor data."""
    prod = plans["prod"]
    name = bucket(prod).id
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    deployer = "arn:aws:sts::444455556666:assumed-role/ci-jhub-eks-deploy/GitHubActions"
    admin = "arn:aws:sts::444455556666:assumed-role/PlatformAdmin/alice"
    pod = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{user_role(prod).name}/eks-jhub-prod-jupyter-al"
    outside = {"aws:SecureTransport": "true"}  # from a runner or laptop: no aws:SourceVpce

    def request(who: str, action: str, context: dict[str, str]) -> IamRequest:
        resource = f"arn:aws:s3:::{name}/home/x" if action == "s3:GetObject" else f"arn:aws:s3:::{name}"
        return IamRequest(action, resource, [everything], who, context=context, resource_policy=bucket_policy(prod))

    decisions = evaluate(
        [
            request(deployer, "s3:ListBucket", outside),
            request(admin, "s3:ListBucket", outside),
            request(deployer, "s3:GetObject", outside),
            request(deployer, "s3:ListBucketVersions", outside),
            request(pod, "s3:ListBucket", outside),
            request(pod, "s3:GetObject", outside),
            request(pod, "s3:ListBucket", through_the_vpc(prod)),
        ]
    )
    assert decisions == [ALLOWED, ALLOWED, EXPLICIT, EXPLICIT, EXPLICIT, EXPLICIT, ALLOWED]


def test_user_role_may_use_the_data_key_only_through_s3(plan: Inventory) -> None:
    statement = next(s for s in user_policy(plan)["Statement"] if s["Sid"] == "UserDataKeyThroughS3Only")
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert statement["Resource"] == key_arn(plan, "user-data")
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{region_of(plan)}.amazonaws.com"}}


# ---- How the mapping holds: trust, association, hub settings -------------------------------------


def test_user_role_is_assumable_only_by_pod_identity_for_this_cluster(plan: Inventory) -> None:
    (statement,) = json.loads(user_role(plan).inputs["assumeRolePolicy"])["Statement"]
    cluster = plan.one("eks:index:Cluster").inputs["name"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(statement["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert statement["Condition"]["ArnEquals"] == {
        "aws:SourceArn": f"arn:aws:eks:{region_of(plan)}:{ACCOUNT_ID}:cluster/{cluster}"
    }


def test_pod_identity_maps_the_user_service_account_the_hub_uses(plan: Inventory) -> None:
    association = plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "user-servers")
    values = hub_values(plan)
    assert association.inputs["serviceAccount"] == values["singleuser"]["serviceAccountName"] == USER_SERVICE_ACCOUNT
    hub_namespace = plan.one("kubernetes:core/v1:Namespace", "-namespace").inputs["metadata"]["name"]
    assert association.inputs["namespace"] == hub_namespace
    assert association.inputs["roleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{user_role(plan).name}"
    assert association.inputs.get("disableSessionTags", False) is False, "isolation needs the session tags"
    service_account = plan.one("kubernetes:core/v1:ServiceAccount", "user-servers")
    assert service_account.inputs["automountServiceAccountToken"] is False


def test_hub_names_one_pod_per_user_and_tells_it_its_prefix(plan: Inventory) -> None:
    values = hub_values(plan)
    assert values["singleuser"]["podNameTemplate"] == "jupyter-{username}"
    assert values["hub"]["allowNamedServers"] is False
    env = values["singleuser"]["extraEnv"]
    assert env["S3_BUCKET"] == bucket(plan).id
    assert env["S3_HOME_PREFIX"] == "home/jupyter-{username}/"
    assert env["S3_HOME"] == f"s3://{bucket(plan).id}/home/jupyter-{{username}}/"
    (user_policy,) = [
        p
        for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["name"] == "user-servers"
    ]
    egress = user_policy.inputs["spec"]["egress"]
    agent_rule = next(r for r in egress if r["to"] == [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}])
    assert agent_rule["ports"] == [{"protocol": "TCP", "port": 80}]
    assert next(a for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "eks-pod-identity-agent")


# ---- IAM linters over every policy the program writes --------------------------------------------

# parliament's variable matcher rejects hyphens, so it reports the object ARN scoped by
# ${aws:PrincipalTag/kubernetes-pod-name} as not an S3 object ARN. Allowed exactly there, nowhere else.
KNOWN_PARLIAMENT_FALSE_POSITIVE = ("RESOURCE_MISMATCH", "${aws:PrincipalTag/kubernetes-pod-name}")


def _implied_resource(resource: Recorded, plan: Inventory) -> str | None:
    """The resource a resource policy governs when it names none (or says "*" for "this one")."""
    if resource.type == "aws:kms/key:Key":
        return resource.arn
    if resource.type == "aws:ecr/repositoryPolicy:RepositoryPolicy":
        return f"arn:aws:ecr:{region_of(plan)}:{ACCOUNT_ID}:repository/{resource.inputs['repository']}"
    return None


def written_policies(plan: Inventory) -> list[tuple[str, str, str]]:
    """(resource name, type, document) of every IAM permission policy the program writes: identity
    policies, and key, bucket and repository policies with their implied resource made explicit
    (a key policy's "*" means "this key"; a repository policy has no Resource element).

    Trust policies are not parliament's input (it says so itself: they have no Resource element);
    their conditions are asserted exactly in test_foundation.py and above."""
    found = []
    for resource in plan.resources:
        document = resource.inputs.get("policy")
        if not (isinstance(document, str) and '"Statement"' in document):
            continue
        implied = _implied_resource(resource, plan)
        if implied:
            policy = json.loads(document)
            # AWS's default key-policy statement (account root: kms:* on this key) mixes alias and
            # custom-key-store actions that parliament expects on other resource types; it is the
            # same in every key and asserted exactly in test_account_administration_statement.
            policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "AccountAdministration"]
            for statement in policy["Statement"]:
                if statement.get("Resource", "*") == "*":
                    statement["Resource"] = implied
            document = json.dumps(policy)
        found.append((resource.name, resource.type.split(":")[-1], document))
    return found


def test_parliament_finds_nothing_but_the_documented_false_positive(plan: Inventory) -> None:
    policies = written_policies(plan)
    kinds = {kind for _, kind, _ in policies}
    assert {"RolePolicy", "Key", "BucketPolicy", "RepositoryPolicy"} <= kinds
    unexpected = []
    for name, kind, document in policies:
        for finding in analyze_policy_string(document, ignore_private_auditors=True).findings:
            if (
                finding.issue == KNOWN_PARLIAMENT_FALSE_POSITIVE[0]
                and KNOWN_PARLIAMENT_FALSE_POSITIVE[1] in document
                and all(item["required_format"] == "arn:*:s3:::*/*" for item in finding.detail)
            ):
                continue
            unexpected.append((name, kind, finding.issue, finding.detail))
    assert unexpected == []


def test_the_audit_buckets_policies_are_linted_clean_and_the_lint_bites(plan: Inventory) -> None:
    """The trail bucket's and its access-log bucket's policies: parliament (and cloudsplaining, for
    what a service principal is allowed) find nothing; a broken copy of each is caught."""
    policies = {name: document for name, kind, document in written_policies(plan) if kind == "BucketPolicy"}
    audit = {name: json.loads(document) for name, document in policies.items() if "-trail" in name}
    assert sorted(audit) == [f"jhub-{plan.stack}-trail", f"jhub-{plan.stack}-trail-access-logs"]
    for name, document in audit.items():
        assert analyze_policy_string(json.dumps(document), ignore_private_auditors=True).findings == [], name
        assert cloudsplaining_findings(document) == {}, name
    log_policy = audit[f"jhub-{plan.stack}-trail-access-logs"]
    delivery = next(s for s in log_policy["Statement"] if s["Effect"] == "Allow")
    on_the_bucket = {**delivery, "Resource": delivery["Resource"].split("/")[0]}  # PutObject on no object
    misspelt = {**delivery, "Condition": {"StringEquals": {"aws:SourceAcount": ACCOUNT_ID}}}
    for broken in (on_the_bucket, misspelt):
        document = json.dumps({**log_policy, "Statement": [broken]})
        assert analyze_policy_string(document, ignore_private_auditors=True).findings, broken


def test_account_administration_statement(plan: Inventory) -> None:
    for key in plan.of_type("aws:kms/key:Key"):
        statements = json.loads(key.inputs["policy"])["Statement"]
        admin = next(s for s in statements if s.get("Sid") == "AccountAdministration")
        assert admin == {
            "Sid": "AccountAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }


def test_parliament_bites() -> None:
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket"}],
    }
    assert analyze_policy_string(json.dumps(bad)).findings


def cloudsplaining_findings(document: dict[str, Any]) -> dict[str, list[str]]:
    policy = PolicyDocument(document)
    return {
        name: found
        for name, found in {
            "privilege escalation": [str(f) for f in policy.allows_privilege_escalation],
            "data exfiltration": policy.allows_data_exfiltration_actions,
            "resource exposure": policy.permissions_management_without_constraints,
            "credentials exposure": policy.credentials_exposure,
        }.items()
        if found
    }


def test_cloudsplaining_finds_no_escalation_exfiltration_or_exposure(plan: Inventory) -> None:
    identity = [r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert len(identity) >= 5
    findings = {r.name: cloudsplaining_findings(json.loads(r.inputs["policy"])) for r in identity}
    assert {name: found for name, found in findings.items() if found} == {}


def test_cloudsplaining_bites() -> None:
    wide = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "iam:PassRole"], "Resource": "*"}],
    }
    assert set(cloudsplaining_findings(wide)) >= {"data exfiltration", "resource exposure"}


# ---- ECR -----------------------------------------------------------------------------------------


def test_repository_scans_is_immutable_encrypted_and_expires_images(plan: Inventory) -> None:
    repository = plan.one("aws:ecr/repository:Repository")
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    # Immutable but the attestations' index tag (tests/test_registry_attestations.py).
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repository.inputs["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": key_arn(plan, "user-data")}
    ]
    rules = json.loads(plan.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
    # Untagged and any expire by count; the tagged rule keeps the pinned- digests (tests/test_registry_lifecycle.py).
    assert {r["selection"]["tagStatus"] for r in rules} == {"tagged", "untagged", "any"}
    assert (repository.inputs["forceDelete"], repository.retain_on_delete) == (
        (False, True) if stack_config(plan)["jhub-eks:data"]["retainOnDestroy"] else (True, False)
    )


def test_only_the_nodes_and_admins_may_pull(plan: Inventory) -> None:
    policy = json.loads(plan.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"])
    node_role = plan.outputs["node_role_arn"]
    admins = [e["principalArn"] for e in plan.one("eks:index:Cluster").inputs["accessEntries"].values()]
    repository_name = plan.one("aws:ecr/repository:Repository").inputs["name"]
    repository = f"arn:aws:ecr:{region_of(plan)}:{ACCOUNT_ID}:repository/{repository_name}"
    pull_anything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
    someone = f"arn:aws:iam::{ACCOUNT_ID}:role/some-ci-role"
    decisions = evaluate(
        [IamRequest("ecr:BatchGetImage", repository, [], node_role, resource_policy=policy)]
        + [
            IamRequest("ecr:BatchGetImage", repository, [pull_anything], who, resource_policy=policy)
            for who in (admins[0], someone)
        ]
    )
    assert decisions == [ALLOWED, ALLOWED, EXPLICIT]
