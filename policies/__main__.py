"""CrossGuard policy pack: the security checklist, mandatory on every preview and update.

    pulumi preview --policy-pack policies

The rules live in checklist.py and run in the offline plan (./plan) too; pack.py adapts the engine's
view of the stack to them. The analyzer runs this file, which serves the pack.
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.pack import POLICIES

PolicyPack(name="jhub-eks-security", policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
