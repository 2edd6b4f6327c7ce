"""Account-wide prerequisites of the environment stacks: things there is one of per account (and
region), which every environment uses and none may own, since destroying one would break the others."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

# EC2 Auto Scaling launches the managed node groups' instances under this role, and the user-data
# key's policy names it (encrypted root volumes). KMS refuses a key policy naming a principal that
# does not exist, so it must exist before an environment's first `pulumi up`.
AUTO_SCALING_SERVICE = "autoscaling.amazonaws.com"
AUTO_SCALING_ROLE = "AWSServiceRoleForAutoScaling"

OWNER_TAG = ("managed-by", "jhub-eks-bootstrap")

# How the provider reports a role that does not exist (NoSuchEntity mapped to "couldn't find resource").
_ROLE_NOT_FOUND = ("couldn't find resource", "NoSuchEntity")


def owns_role(role_name: str) -> bool:
    """Whether this stack declares the role: when it does not exist yet (this stack creates it) or
    carries this stack's tag (this stack created it). A role the account already had is left alone,
    so a `destroy` of this stack never deletes what was there before."""
    try:
        role = aws.iam.get_role(name=role_name)
    except Exception as error:
        if any(text in str(error) for text in _ROLE_NOT_FOUND):
            return True
        raise
    key, value = OWNER_TAG
    return (role.tags or {}).get(key) == value


class AccountPrerequisites(pulumi.ComponentResource):
    """The Auto Scaling service-linked role, when the account does not have it yet."""

    auto_scaling_role_created: bool

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:aws:AccountPrerequisites", name, None, opts)
        self.auto_scaling_role_created = owns_role(AUTO_SCALING_ROLE)
        if self.auto_scaling_role_created:
            key, value = OWNER_TAG
            aws.iam.ServiceLinkedRole(
                f"{name}-autoscaling",
                aws_service_name=AUTO_SCALING_SERVICE,
                description="EC2 Auto Scaling (jhub-eks node groups launch encrypted volumes with it)",
                tags={key: value},
                # Not retained: a retained, tagged role would read as this stack's on the next `up`
                # and be created twice. IAM refuses to delete it while any Auto Scaling group uses it.
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"auto_scaling_role_created": self.auto_scaling_role_created})
