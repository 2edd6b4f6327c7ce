"""Bootstrap (once per AWS account): GitHub's OIDC provider, the two roles of docs/ci-cd.md, and the
account-wide prerequisites of the environment stacks (account_prerequisites.py).

Kept out of the main program on purpose: the roles that deploy the stacks must exist before them,
and a stack should not be able to widen the rights it is deployed with.
"""

import json
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws
from pulumi.runtime import config as runtime_config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from account_prerequisites import COST_ALLOCATION_TAG_KEYS, AccountPrerequisites, AccountPrerequisitesArgs
from config_keys import config_problems
from cost_export import GROUP_LABEL_PREFIX, USERNAME_LABELS, CostExport, CostExportArgs
from environment_images import promote_policy, promote_subjects, push_policy, push_subjects
from github_oidc import (
    CI_ROLE_PREFIX,
    GITHUB_OIDC_HOST,
    deploy_iam_policy,
    deploy_subjects,
    github_trust_policy,
    preview_subjects,
)

config = pulumi.Config()
unread = config_problems({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()})
if unread:
    raise pulumi.RunError("invalid bootstrap settings:\n" + "\n".join(unread))
repository = config.require("githubRepository")
prefix = config.get("resourcePrefix") or "jhub-"
existing_provider = config.get("existingOidcProviderArn")
if prefix.startswith(CI_ROLE_PREFIX) or CI_ROLE_PREFIX.startswith(prefix):
    raise pulumi.RunError(f"jhub-eks-bootstrap:resourcePrefix: {prefix!r} would let the deploy role edit its own role")
if "/" not in repository or "*" in repository:
    raise pulumi.RunError(
        f"jhub-eks-bootstrap:githubRepository: {repository!r} must be exactly owner/repo (no wildcard)"
    )
group_label_tags = config.get_object("groupLabelTags") or []
if not isinstance(group_label_tags, list) or not all(
    isinstance(tag, str) and tag.startswith(GROUP_LABEL_PREFIX) and len(tag) > len(GROUP_LABEL_PREFIX)
    for tag in group_label_tags
):
    # Cost Explorer activates only a key it has seen in billing data, and the pods carry the group as this label
    # (components/department_values.py): a bare group name would fail at the AWS API, not here, or never match.
    raise pulumi.RunError(
        f"jhub-eks-bootstrap:groupLabelTags: {group_label_tags!r} must be a list of the department groups' pod "
        f"labels, each {GROUP_LABEL_PREFIX}<group> (e.g. {GROUP_LABEL_PREFIX}data-science)"
    )

partition = aws.get_partition_output().partition
account_id = aws.get_caller_identity_output().account_id

provider_arn: pulumi.Input[str]
if existing_provider:
    provider_arn = existing_provider
else:
    provider_arn = aws.iam.OpenIdConnectProvider(
        "github-actions",
        url=f"https://{GITHUB_OIDC_HOST}",
        client_id_lists=["sts.amazonaws.com"],
    ).arn


def github_actions_role(role: str, description: str, subjects: list[str], session_seconds: int = 3600) -> aws.iam.Role:
    """A CI role (named `<CI_ROLE_PREFIX><role>`: the workflows and the environment stacks name it) that GitHub's
    OIDC tokens for `subjects` of this repository may assume."""
    return aws.iam.Role(
        f"{CI_ROLE_PREFIX}{role}",
        name=f"{CI_ROLE_PREFIX}{role}",
        description=description,
        assume_role_policy=pulumi.Output.from_input(provider_arn).apply(
            lambda arn: json.dumps(github_trust_policy(arn, subjects))
        ),
        max_session_duration=session_seconds,
    )


preview = github_actions_role(
    "preview", f"GitHub Actions pull-request previews of {repository}: read-only", preview_subjects(repository)
)
aws.iam.RolePolicyAttachment(
    f"{CI_ROLE_PREFIX}preview-read-only",
    role=preview.name,
    policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:policy/ReadOnlyAccess"),
)

# The environment stacks name this role (data.bucket.managerRoleArns, admins).
deploy = github_actions_role(
    "deploy",
    f"GitHub Actions deploys of {repository} (main branch, prod environment)",
    deploy_subjects(repository),
    # Creating the EKS control plane and node groups takes longer than the 1-hour default.
    session_seconds=5400,
)
aws.iam.RolePolicyAttachment(
    f"{CI_ROLE_PREFIX}deploy-power-user",
    role=deploy.name,
    policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:policy/PowerUserAccess"),
)
aws.iam.RolePolicy(
    f"{CI_ROLE_PREFIX}deploy-iam",
    role=deploy.id,
    policy=pulumi.Output.all(partition, account_id).apply(lambda v: json.dumps(deploy_iam_policy(v[0], v[1], prefix))),
)

# The user environments' images (bootstrap/environment_images.py): the main branch pushes to dev's repository,
# the prod promotion copies a digest from dev's into prod's.
dev_images = config.get("environmentsDevRepository") or "jhub-dev/jupyter-user"
prod_images = config.get("environmentsProdRepository") or "jhub-prod/jupyter-user"
region = pulumi.Config("aws").require("region")
environments_push = github_actions_role(
    "environments-push",
    f"GitHub Actions: {repository}'s main branch pushes user environment images to {dev_images}",
    push_subjects(repository),
)
aws.iam.RolePolicy(
    f"{CI_ROLE_PREFIX}environments-push",
    role=environments_push.id,
    policy=pulumi.Output.all(partition, account_id).apply(
        lambda v: json.dumps(push_policy(v[0], region, v[1], dev_images))
    ),
)
environments_promote = github_actions_role(
    "environments-promote",
    f"GitHub Actions: {repository}'s prod promotion copies a digest from {dev_images} to {prod_images}",
    promote_subjects(repository),
)
aws.iam.RolePolicy(
    f"{CI_ROLE_PREFIX}environments-promote",
    role=environments_promote.id,
    policy=pulumi.Output.all(partition, account_id).apply(
        lambda v: json.dumps(promote_policy(v[0], region, v[1], dev_images, prod_images))
    ),
)

prerequisites = AccountPrerequisites(
    "account",
    AccountPrerequisitesArgs(
        guard_duty=config.get_bool("guardDuty") is not False,
        enhanced_scanning=bool(config.get_bool("registryEnhancedScanning")),
        # Off until the first environment stack is deployed and AWS lists its tag keys (docs/cost.md).
        cost_allocation_tags=COST_ALLOCATION_TAG_KEYS if config.get_bool("activateCostAllocationTags") else (),
        # The pod labels split cost allocation data imports (cost_export.py): usernames, and the department groups'.
        pod_label_tags=(*USERNAME_LABELS, *group_label_tags) if config.get_bool("activatePodLabelTags") else (),
    ),
)
if config.get_bool("costExport") is not False:
    cost_export = CostExport(
        "cost",
        CostExportArgs(account_id=account_id, partition=partition, region=pulumi.Config("aws").require("region")),
    )
    pulumi.export("cost_export_bucket", cost_export.bucket_name)

pulumi.export("preview_role_arn", preview.arn)
pulumi.export("deploy_role_arn", deploy.arn)
pulumi.export("environments_push_role_arn", environments_push.arn)
pulumi.export("environments_promote_role_arn", environments_promote.arn)
