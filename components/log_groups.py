"""Log groups that AWS re-creates behind our back, adopted instead of colliding.

EKS (its service-linked role may logs:CreateLogGroup on /aws/eks/*) and the CloudWatch agents
(Fluent Bit's `auto_create_group`, the agent's create-on-ResourceNotFound) write buffered logs after
`pulumi destroy` has deleted their groups, and so re-create them: unencrypted, never expiring
(terraform-aws-eks#2446, #2763). The next `pulumi up` of the stack would then fail with
ResourceAlreadyExistsException. Instead, a group that exists when the program runs is declared with
`import`: the engine adopts it and, in the same `up`, applies our key and retention (the eventual-
state import of Pulumi 3.174+, pulumi/pulumi#19339; Pulumi.yaml requires a newer CLI). For a group
already in the stack's state with that id, `import` is a no-op."""

from __future__ import annotations

import pulumi


def adopt_if_present(name: str, existing: frozenset[str]) -> pulumi.ResourceOptions:
    """Options that adopt the group `name` when it already exists (and do nothing otherwise)."""
    return pulumi.ResourceOptions(import_=name) if name in existing else pulumi.ResourceOptions()
