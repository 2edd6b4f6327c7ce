"""Operations: alerts, threat detection, the audit trail, container logs, alarms, the dashboard, the
budget and backups. Nothing below waits for this layer; most of it waits only for the foundation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.alarms import SecurityAlarms, SecurityAlarmsArgs, Threshold, platform_role_arns
from components.alerts import AlertTopic, AlertTopicArgs
from components.audit_trail import AuditTrail, AuditTrailArgs
from components.backups import Backups, BackupsArgs
from components.budget import StackBudget, StackBudgetArgs
from components.dashboard import OperationsDashboard, OperationsDashboardArgs
from components.dask_gateway_monitoring import DaskGatewayAlarm, DaskGatewayAlarmArgs, dask_widgets
from components.environment_alerts import EnvironmentAlerts, EnvironmentAlertsArgs
from components.guardduty import ThreatDetection, ThreatDetectionArgs
from components.home_usage_alarm import HomeUsageAlarm, HomeUsageAlarmArgs, fullest_homes_query
from components.jupyterhub_values import hub_image_reference
from components.log_shipping import ContainerLogs, ContainerLogsArgs, container_log_group_name
from layers.cluster import ClusterLayer
from layers.foundation import Foundation
from layers.hub import HubLayer
from preflight import Facts, registry_repository_name
from settings import AlarmSettings, Settings


@dataclass(frozen=True)
class OperationsLayer:
    alerts: AlertTopic
    audit_trail: AuditTrail
    dashboard: OperationsDashboard
    threat_detection: ThreatDetection | None
    budget: StackBudget | None
    backups: Backups | None


def threshold(alarm: AlarmSettings) -> Threshold:
    return Threshold(alarm.threshold, alarm.period_seconds, alarm.evaluation_periods)


def declare_operations(
    name: str,
    settings: Settings,
    facts: Facts,
    foundation: Foundation,
    cluster: ClusterLayer,
    hub: HubLayer,
    tags: dict[str, str],
) -> OperationsLayer:
    encryption, network, detection = foundation.encryption, foundation.network, settings.detection
    backups = None
    if settings.data.backup.enabled:
        backup = settings.data.backup
        backups = Backups(
            name,
            BackupsArgs(
                stack=name,
                partition=settings.partition,
                vault_key_arn=encryption.user_data_key_arn,
                schedule=backup.schedule,
                retention_days=backup.retention_days,
                lock=backup.vault_lock,
                lock_changeable_for_days=backup.lock_changeable_for_days,
                retain_on_destroy=settings.data.retain_on_destroy,
                tags=tags,
            ),
        )
    alerts = AlertTopic(
        name,
        AlertTopicArgs(
            key_arn=encryption.alerts_key_arn,
            account_id=facts.account_id,
            emails=detection.alert_emails,
            https_endpoints=detection.alert_https_endpoints,
            tags=tags,
        ),
    )
    threat_detection = None
    if detection.guard_duty.mode == "account":
        assert facts.guardduty_detector_id is not None  # preflight.checks stops the run without one
        threat_detection = ThreatDetection(
            name,
            ThreatDetectionArgs(
                detector_id=facts.guardduty_detector_id,
                alert_topic_arn=alerts.topic_arn,
                provider=cluster.cluster.provider,
                tags=tags,
            ),
        )
    audit_trail = AuditTrail(
        name,
        AuditTrailArgs(
            trail_name=f"{name}-audit",
            partition=settings.partition,
            region=settings.region,
            account_id=facts.account_id,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=detection.trail_retention_days,
            retain_on_destroy=settings.data.retain_on_destroy,
            user_data_bucket_arn=hub.user_data.bucket_arn,
            organization_trail_name=detection.organization_trail_name,
            tags=tags,
        ),
    )
    container_logs = ContainerLogs(
        name,
        ContainerLogsArgs(
            cluster_name=settings.cluster.name,
            cluster_ready=cluster.cluster.cluster_name,
            partition=settings.partition,
            oidc_provider_arn=cluster.cluster.oidc_provider_arn,
            oidc_issuer=cluster.cluster.oidc_issuer,
            logs_key_arn=encryption.logs_key_arn,
            retention_days=detection.container_log_retention_days,
            addon_version=facts.addon_versions["amazon-cloudwatch-observability"],
            addon_version_source=facts.addons["amazon-cloudwatch-observability"].version_source,
            provider=cluster.cluster.provider,
            wait_for=cluster.node_groups.core,
            existing_log_groups=facts.existing_log_groups,
            tags=tags,
        ),
    )
    security_alarms = SecurityAlarms(
        name,
        SecurityAlarmsArgs(
            alert_topic_arn=alerts.topic_arn,
            control_plane_log_group=cluster.cluster.control_plane_log_group_name,
            container_log_group=container_logs.application_log_group_name,
            bucket_name=hub.user_data.bucket_name,
            security_group_ids=[cluster.cluster.cluster_security_group_id, network.endpoint_security_group_id],
            vpc_id=network.vpc_id,
            platform_role_arns=cluster.cluster.control_plane_role_arn.apply(
                lambda arn: platform_role_arns(settings.partition, facts.account_id, arn)
            ),
            kubernetes_auth_failures=threshold(detection.kubernetes_auth_failures),
            hub_login_failures=threshold(detection.hub_login_failures),
            s3_access_denied=threshold(detection.s3_access_denied),
            s3_anomaly_band=detection.s3_anomaly_band,
            tags=tags,
        ),
    )
    event_rules: list[tuple[str, pulumi.Input[str]]] = []
    if threat_detection is not None:
        event_rules.append(("GuardDuty findings", threat_detection.findings_rule_name))
    event_rules += security_alarms.event_rules
    repository = registry_repository_name(settings)
    environment_alerts = EnvironmentAlerts(
        name,
        EnvironmentAlertsArgs(
            repository_name=repository,
            pinned_digests=[
                pin.digest
                for pin in settings.environments.values()
                if pin.digest and ".dkr.ecr." in pin.repository and pin.repository.endswith(f"/{repository}")
            ],
            alert_topic_arn=alerts.topic_arn,
            tags=tags,
        ),
    )
    event_rules.append(("Critical image findings", environment_alerts.rule_name))
    alarm_arns: pulumi.Input[Sequence[str]] = security_alarms.alarm_arns
    extra_widgets: list[dict[str, Any]] = []
    if settings.dask_gateway.enabled:
        dask_alarm = DaskGatewayAlarm(
            name,
            DaskGatewayAlarmArgs(
                cluster_name=settings.cluster.name,
                namespace=settings.dask_gateway.namespace,
                alert_topic_arn=alerts.topic_arn,
                tags=tags,
            ),
        )
        alarm_arns = pulumi.Output.all(alarm_arns, dask_alarm.alarm_arn).apply(lambda v: [*v[0], v[1]])
        extra_widgets = dask_widgets(settings.region, settings.cluster.name, settings.dask_gateway.namespace)
    home_usage = settings.department.home_usage_alarm
    if home_usage.enabled:
        home_alarm = HomeUsageAlarm(
            name,
            HomeUsageAlarmArgs(
                cluster_name=settings.cluster.name,
                hub_namespace=hub.jupyterhub.namespace,
                hub_namespace_name=settings.jupyterhub.namespace,
                image=hub_image_reference(settings.jupyterhub.chart_version),
                vpc_cidr=settings.network.vpc_cidr,
                application_log_group=container_logs.application_log_group_name,
                alert_topic_arn=alerts.topic_arn,
                percent=home_usage.percent,
                provider=cluster.cluster.provider,
                lockdown=settings.incident.lockdown,
                tags=tags,
            ),
        )
        alarm_arns = pulumi.Output.all(alarm_arns, home_alarm.alarm_arns).apply(lambda v: [*v[0], *v[1]])
    dashboard = OperationsDashboard(
        name,
        OperationsDashboardArgs(
            dashboard_name=f"{name}-operations",
            region=settings.region,
            cluster_name=settings.cluster.name,
            namespace=settings.jupyterhub.namespace,
            bucket_name=hub.user_data.bucket_name,
            performance_log_group=container_log_group_name(settings.cluster.name, "performance"),
            alarm_arns=alarm_arns,
            home_usage_query=fullest_homes_query(settings.cluster.name) if home_usage.enabled else None,
            event_rules=event_rules,
            node_pools=["user", *(["gpu"] if settings.node_groups.gpu else [])],
            anomaly_band=detection.s3_anomaly_band,
            extra_widgets=extra_widgets,
        ),
    )
    budget = None
    if settings.cost.budget.enabled:
        budget_settings = settings.cost.budget
        assert budget_settings.monthly_limit_usd is not None  # validated: required while the budget is on
        budget = StackBudget(
            name,
            StackBudgetArgs(
                stack_tag=tags["stack"],
                monthly_limit_usd=budget_settings.monthly_limit_usd,
                alert_percentages=budget_settings.alert_percentages,
                forecast_percentage=budget_settings.forecast_percentage,
                alert_topic_arn=alerts.topic_arn,
                tags=tags,
            ),
        )
    return OperationsLayer(
        alerts=alerts,
        audit_trail=audit_trail,
        dashboard=dashboard,
        threat_detection=threat_detection,
        budget=budget,
        backups=backups,
    )
