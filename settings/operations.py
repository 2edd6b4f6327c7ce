"""Operations settings: detection (alerts, GuardDuty, CloudTrail, alarms), cost (the budget and the
usage the estimate assumes) and the incident switches."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from settings.base import RetentionDays, _field_error, _Model


class GuardDutySettings(_Model):
    mode: Literal["account", "off"] = "account"
    """`account`: send this region's GuardDuty findings (medium and above) to the alert topic. The
    detector is account-wide (one per account and region): bootstrap/ creates it, or the organization
    runs it; never this stack. `off` (never in prod): no GuardDuty rule."""


class AlarmSettings(_Model):
    threshold: int = Field(ge=1)
    """Count in one period that raises the alarm."""
    period_seconds: int = Field(300, ge=60, le=86400)
    """Length of one evaluation period."""
    evaluation_periods: int = Field(1, ge=1, le=100)
    """Periods in a row over the threshold before the alarm fires."""


def _alarm(threshold: int) -> Any:
    return Field(default_factory=lambda: AlarmSettings(threshold=threshold))


class DetectionSettings(_Model):
    alert_emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]] = Field(default_factory=list)
    """E-mail addresses subscribed to the alert topic (each must confirm the subscription)."""
    alert_https_endpoints: list[Annotated[str, Field(pattern=r"^https://")]] = Field(default_factory=list)
    """HTTPS endpoints (chat webhooks, paging) subscribed to the alert topic."""
    guard_duty: GuardDutySettings = GuardDutySettings()
    """Amazon GuardDuty."""
    organization_trail_name: str | None = None
    """Use this existing organization CloudTrail trail for management events. The stack's own trail
    then records only the user-data bucket's object reads and writes (S3 data events): the
    organization trail is not the stack's to change."""
    trail_retention_days: RetentionDays = 365
    """Days the CloudTrail log group keeps events, the trail bucket keeps log files deleted or
    overwritten, and the trail bucket's access logs are kept (the trail bucket's log files stay per
    `data` settings)."""
    container_log_retention_days: RetentionDays = 90
    """Days container logs (hub, proxy, user servers) are kept in CloudWatch Logs."""
    kubernetes_auth_failures: AlarmSettings = _alarm(5)
    """Alarm on denied/failed Kubernetes API authentications (EKS authenticator log)."""
    hub_login_failures: AlarmSettings = _alarm(10)
    """Alarm on failed JupyterHub logins and 403 responses (hub container log)."""
    s3_access_denied: AlarmSettings = _alarm(20)
    """Alarm on 4xx responses of the user bucket."""
    s3_anomaly_band: float = Field(3.0, ge=1, le=10)
    """Width (standard deviations) of the anomaly band on the user bucket's request metrics."""


class BudgetSettings(_Model):
    enabled: bool = True
    """An AWS Budget of the stack's monthly cost (every resource tagged `stack: jhub-<stack>`), alerting the
    alert topic. Counts only once the cost allocation tags are active (bootstrap/, docs/cost.md)."""
    monthly_limit_usd: float | None = Field(None, gt=0)
    """The budget, in USD per month. Required while the budget is on: `./plan` prints the stack's fixed
    monthly cost to start from."""
    alert_percentages: list[Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=lambda: [80, 100])
    """Alert when the month's actual cost passes each of these percentages of the limit."""
    forecast_percentage: int | None = Field(100, ge=1, le=1000)
    """Alert when the month's forecast cost passes this percentage of the limit (null: no forecast alert)."""

    @model_validator(mode="after")
    def _at_most_five_alerts(self) -> BudgetSettings:
        # AWS Budgets: up to five notifications per budget.
        if len(set(self.alert_percentages)) + (1 if self.forecast_percentage else 0) > 5:
            raise _field_error(
                "alertPercentages",
                "AWS Budgets sends at most 5 alerts per budget (these and forecastPercentage together); list fewer",
            )
        return self


class CostSettings(_Model):
    budget: BudgetSettings = BudgetSettings()
    """The stack's AWS Budget."""
    active_hours_per_month: int = Field(160, ge=1, le=744)
    """Hours an active user's server runs in a month: the plan's cost of one more active user per profile."""


class IncidentSettings(_Model):
    lockdown: bool = False
    """Emergency switch: deny all traffic in the JupyterHub namespace and scale the hub and proxy to zero."""
