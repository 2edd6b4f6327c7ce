"""The pre-flight's Service Quotas check: what the stack draws at its maximums (vCPUs of each EC2 quota class and
purchase option, gp3 storage, snapshots), the account's values read with servicequotas:GetServiceQuota (present,
absent, denied, throttled, as the other lookups), and a warning with the numbers and the quota code when a maximum
cannot be reached. Responses are the provider's (terraform-provider-aws through the bridge)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest

import preflight
from offline_plan.mock_engine import load_stack_config
from settings import parse_settings
from tests.test_preflight import _api_error

QUOTA_TOKEN = "aws:servicequotas/getServiceQuota:getServiceQuota"


def settings_of(stack: str, **sections: Any) -> Any:
    config, secret_keys = load_stack_config(stack)
    for key, value in sections.items():
        config[f"jhub-eks:{key}"] = json.dumps(value)
    return parse_settings(stack, config, frozenset(secret_keys))


def _quota(service: str, code: str, value: float) -> dict[str, Any]:
    """GetServiceQuota's answer as the data source returns it (botocore service-quotas ServiceQuota shape)."""
    return {
        "id": f"arn:aws:servicequotas:eu-west-1:111122223333:{service}/{code}",
        "serviceCode": service,
        "quotaCode": code,
        "value": value,
        "defaultValue": value,
        "adjustable": True,
        "globalQuota": False,
    }


Answer = Callable[[dict[str, Any]], dict[str, Any] | str]


class QuotaAccount(pulumi.runtime.Mocks):
    """An account whose Service Quotas answer each GetServiceQuota by its codes: outputs, or a provider's error text."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        raise AssertionError("the pre-flight declares nothing")

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        assert args.token == QUOTA_TOKEN, args.token
        found = self.answer(dict(args.args))
        return ({}, [("", found)]) if isinstance(found, str) else (found, [])


@pytest.fixture
def account() -> Iterator[Callable[[Answer], None]]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def answer(compute: Answer) -> None:
        pulumi.runtime.set_mocks(QuotaAccount(compute), project="jhub-eks", stack="dev", preview=False)

    yield answer
    asyncio.set_event_loop(None)
    loop.close()


def test_prod_draws_on_the_standard_and_g_quotas_storage_and_snapshots() -> None:
    demand = {d.code: d for d in preflight.quota_demand(settings_of("prod"))}
    # core 4 x m6i.large (2 vCPU) + user 20 x m6i.2xlarge (8 vCPU), per zone, 3 zones: 24 + 480.
    assert demand["L-1216C47A"].need == 504 and demand["L-1216C47A"].unit == "vCPUs"
    assert demand["L-DB2E81BA"].need == 24  # gpu 2 x g5.xlarge (4 vCPU) x 3 zones
    # Dask Gateway's Spot workers: 10 x 8 vCPU (m6i/m6a/m5.2xlarge) x 3 zones.
    assert demand["L-34B43A08"].need == 240 and demand["L-34B43A08"].made_of == "dask-workers 240"
    # 600 homes of 20 GiB and the root volumes at maxSize (3 x (4 x 50 + 20 x 100 + 2 x 200 + 10 x 50) = 9300 GiB).
    assert demand["L-7A658B76"].need == pytest.approx((600 * 20 + 9300) / 1024)
    assert demand["L-309BACF6"].need == 600 * 35


def test_dev_s_spot_user_group_draws_on_the_spot_quota() -> None:
    demand = {d.code: d for d in preflight.quota_demand(settings_of("dev"))}
    assert demand["L-34B43A08"].need == 3 * 2 * 4  # user 3 x t3.xlarge (4 vCPU) x 2 zones, Spot
    assert demand["L-1216C47A"].need == 2 * 2 * 2  # core 2 x t3.large x 2 zones


@pytest.mark.parametrize(
    ("instance_type", "quota_class"),
    [
        ("m6i.2xlarge", "standard"),
        ("t3.xlarge", "standard"),
        ("g5.xlarge", "g-vt"),
        ("p4d.24xlarge", "p"),
        # HPC types draw on their own quota (L-F7808C92), which this check does not read.
        ("hpc6a.48xlarge", None),
        ("hpc7g.16xlarge", None),
    ],
)
def test_instance_classes(instance_type: str, quota_class: str | None) -> None:
    assert preflight.instance_class(instance_type) == quota_class


def test_quotas_are_read_and_a_short_one_warns_with_the_numbers_and_the_code(account: Any) -> None:
    settings = settings_of("prod")
    demand = preflight.quota_demand(settings)
    asked: list[dict[str, Any]] = []

    quotas = {"L-1216C47A": 384.0, "L-DB2E81BA": 64.0, "L-34B43A08": 640.0, "L-7A658B76": 50.0, "L-309BACF6": 100000.0}

    def answer(arguments: dict[str, Any]) -> dict[str, Any]:
        asked.append(arguments)
        return _quota(arguments["serviceCode"], arguments["quotaCode"], quotas[arguments["quotaCode"]])

    account(answer)
    values = preflight.read_service_quotas(demand)
    assert values == quotas
    assert {(a["serviceCode"], a["quotaCode"]) for a in asked} == {(d.service, d.code) for d in demand}
    facts = _facts(values)
    (warning,) = preflight.quota_warnings(demand, facts)
    assert "ec2 L-1216C47A" in warning and "is 384 vCPUs" in warning and "needs 504 (core 24, user 480)" in warning
    assert "--quota-code L-1216C47A --desired-value 504" in warning
    assert preflight.quota_warnings(demand, _facts({**values, "L-1216C47A": 504.0})) == []


def test_a_quota_the_region_lacks_is_absent_and_not_warned_about(account: Any) -> None:
    settings = settings_of("dev")
    demand = preflight.quota_demand(settings)
    missing = _api_error(
        "Service Quotas",
        "GetAWSDefaultServiceQuota",
        "NoSuchResourceException",
        "The request failed because the specified service does not exist.",
    )

    def answer(arguments: dict[str, Any]) -> dict[str, Any] | str:
        return missing if arguments["quotaCode"] == "L-309BACF6" else _quota("ec2", arguments["quotaCode"], 1e6)

    account(answer)
    values = preflight.read_service_quotas(demand)
    assert "L-309BACF6" not in values and len(values) == len(demand) - 1
    assert preflight.quota_warnings(demand, _facts(values)) == []


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "AccessDeniedException",
            "User: arn:aws:sts::111122223333:assumed-role/ci/run is not authorized to perform: "
            "servicequotas:GetServiceQuota",
            r"GetServiceQuota was denied: .* needs servicequotas:GetAWSDefaultServiceQuota and "
            r"servicequotas:GetServiceQuota",
        ),
        ("TooManyRequestsException", "Rate exceeded", r"GetServiceQuota was throttled"),
    ],
)
def test_a_denied_or_throttled_quota_read_stops_the_run(account: Any, code: str, message: str, expected: str) -> None:
    account(lambda _: _api_error("Service Quotas", "GetServiceQuota", code, message))
    with pytest.raises(preflight.PreflightError, match=expected):
        preflight.read_service_quotas(preflight.quota_demand(settings_of("dev")))


# ---- helpers -----------------------------------------------------------------------------------------------


def _facts(values: dict[str, float]) -> preflight.Facts:
    return preflight.Facts(
        account_id="111122223333",
        caller="arn:aws:iam::111122223333:role/ci",
        existing_cluster=None,
        addons={},
        ami_releases={},
        pushed_images=None,
        service_quotas=values,
    )


def test_a_denied_default_quota_read_names_the_permission_the_data_source_needs_first(account: Any) -> None:
    # The provider's data source asks GetAWSDefaultServiceQuota before GetServiceQuota: a role allowed only the
    # second is refused at the first, and the message must name it.
    denied = _api_error(
        "Service Quotas",
        "GetAWSDefaultServiceQuota",
        "AccessDeniedException",
        "User: arn:aws:sts::111122223333:assumed-role/ci/run is not authorized to perform: "
        "servicequotas:GetAWSDefaultServiceQuota",
    )
    account(lambda _: denied)
    with pytest.raises(preflight.PreflightError, match=r"needs servicequotas:GetAWSDefaultServiceQuota and "):
        preflight.read_service_quotas(preflight.quota_demand(settings_of("dev")))
