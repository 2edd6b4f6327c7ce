"""Which AWS region a stack may name: one the AWS provider knows, in the commercial partition.

The regions are read from the provider SDK's own `Region` enum (pulumi_aws/_enums.py, one
`NAME = "<region>"` line each), as text: importing the SDK to validate a stack file would cost seconds.
A misspelt region used to pass the region pattern and then fail as "'eu-west-1a' is not a zone of region
eu-wst-1", sending the reader to the zones.

Only the commercial partition (`aws`) is accepted. The program builds service principals, ECR and EKS
OIDC host names as `*.amazonaws.com`, prices from data/prices/ (commercial regions only), and uses
Amazon Inspector and GuardDuty's EKS protection; in aws-cn the hosts end in amazonaws.com.cn, and none
of the other partitions is modelled by the offline plan or the tests. A stack there would plan cleanly
and fail on `pulumi up`, so it is refused with one message instead.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from functools import cache
from pathlib import Path

# The partitions' region patterns, as botocore's data/endpoints.json (`regionRegex`) gives them.
COMMERCIAL_REGION = re.compile(r"(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+")
OTHER_PARTITIONS = (
    ("aws-cn", re.compile(r"cn-\w+-\d+")),
    ("aws-us-gov", re.compile(r"us-gov-\w+-\d+")),
    ("aws-iso", re.compile(r"us-iso-\w+-\d+")),
    ("aws-iso-b", re.compile(r"us-isob-\w+-\d+")),
    ("aws-iso-e", re.compile(r"eu-isoe-\w+-\d+")),
    ("aws-iso-f", re.compile(r"us-isof-\w+-\d+")),
    ("aws-eusc", re.compile(r"eusc-de-\w+-\d+")),
)


@cache
def provider_regions() -> frozenset[str]:
    """Every region the AWS provider's `Region` enum names."""
    spec = importlib.util.find_spec("pulumi_aws")
    assert spec is not None and spec.submodule_search_locations, "pulumi_aws is a runtime requirement"
    source = (Path(next(iter(spec.submodule_search_locations))) / "_enums.py").read_text()
    body = source.split("class Region(", 1)[1].split("\nclass ", 1)[0]
    return frozenset(re.findall(r'^\s+[A-Z0-9_]+ = "([a-z0-9-]+)"', body, flags=re.MULTILINE))


def commercial_regions() -> list[str]:
    return sorted(r for r in provider_regions() if COMMERCIAL_REGION.fullmatch(r))


def region_problem(region: str, skip_region_validation: bool = False) -> str | None:
    """One message naming `aws:region` and the fix, or None when the stack may use the region.

    The AWS provider itself refuses a region it does not know unless `aws:skipRegionValidation` is true: the way
    to use a region newer than the pinned provider, which this check honours too."""
    partition = next((name for name, pattern in OTHER_PARTITIONS if pattern.fullmatch(region)), None)
    if partition is not None:
        return (
            f"aws:region: {region} is in the {partition} partition; this program is built, priced and tested for "
            "the commercial partition (aws) only (its service principals, ECR and EKS OIDC hosts, Inspector and "
            "GuardDuty EKS protection differ there); use a commercial region such as eu-west-1"
        )
    if region in provider_regions() or (skip_region_validation and COMMERCIAL_REGION.fullmatch(region)):
        return None
    close = difflib.get_close_matches(region, commercial_regions(), n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return (
        f"aws:region: {region!r} is not an AWS region{hint}; run `pulumi config set aws:region <region>` with "
        f"one of: {', '.join(commercial_regions())} (a region newer than the pinned AWS provider: also set "
        "aws:skipRegionValidation: true)"
    )
