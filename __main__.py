"""The Pulumi program: settings -> facts -> layers -> stack outputs (docs/architecture.md).

1. The stack settings are read and validated (settings/); a bad one stops the run with one message.
2. The pre-flight reads the account once (preflight.py): who runs this, the existing cluster, add-on
   versions, AMI releases, pushed images, log groups to adopt, the GuardDuty detector.
3. The layers declare the platform bottom-up (layers/), each from the settings, the facts and the
   layers below it: foundation -> cluster -> hub -> operations.
"""

import pulumi

import preflight
from components.tagging import base_tags, tag_every_resource
from layers.cluster import declare_cluster
from layers.foundation import declare_foundation
from layers.hub import declare_hub
from layers.operations import declare_operations
from settings import PROJECT, SettingsError, load_settings

try:
    settings = load_settings()
except SettingsError as error:
    # One readable message, no traceback (RunError is reported by the engine as-is).
    raise pulumi.RunError(f"invalid stack settings:\n{error}") from None

try:
    facts = preflight.read_facts(settings)
except preflight.PreflightError as error:
    raise pulumi.RunError(str(error)) from None
problem = preflight.checks(settings, facts)
if problem:
    raise pulumi.RunError(problem)
for warning in preflight.warnings(settings, facts):
    pulumi.log.warn(warning)

name = settings.resource_prefix
# Cost allocation tags on every AWS resource, with the component that declared it (components/tagging.py).
# The stack tag is the resource prefix (jhub-dev), unique in an account that other projects share.
tags = base_tags(PROJECT, name, settings.environment)
tag_every_resource(tags)

foundation = declare_foundation(name, settings, facts, tags)
cluster = declare_cluster(name, settings, facts, foundation, tags)
hub = declare_hub(name, settings, facts, foundation, cluster, tags)
operations = declare_operations(name, settings, facts, foundation, cluster, hub, tags)

# ---- Stack outputs ---------------------------------------------------------------------------------
encryption, network = foundation.encryption, foundation.network
if operations.backups is not None:
    pulumi.export("backup_vault", operations.backups.vault_name)
    pulumi.export("backup_role_arn", operations.backups.role_arn)
if operations.threat_detection is not None:
    pulumi.export("guardduty_detector_id", operations.threat_detection.detector_id)
pulumi.export("dashboard_url", operations.dashboard.url)
if operations.budget is not None:
    pulumi.export("budget", operations.budget.budget_name)
pulumi.export("alert_topic_arn", operations.alerts.topic_arn)
pulumi.export("audit_trail", operations.audit_trail.trail_name)
pulumi.export("user_data_access_trail", operations.audit_trail.user_data_access_trail_name)
pulumi.export("vpc_id", network.vpc_id)
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("cluster_name", cluster.cluster.cluster_name)
pulumi.export("kubeconfig", cluster.cluster.kubeconfig)
pulumi.export("oidc_provider_arn", cluster.cluster.oidc_provider_arn)
pulumi.export("node_role_arn", cluster.node_groups.node_role_arn)
pulumi.export(
    "node_ami_releases",
    {ami_type: {"release": found.release, "source": found.source} for ami_type, found in facts.ami_releases.items()},
)
pulumi.export("storage_class", cluster.addons.storage_class_name)
pulumi.export("jupyterhub_url", hub.jupyterhub.url)
pulumi.export("user_data_bucket", hub.user_data.bucket_name)
pulumi.export("user_servers_role_arn", hub.user_identity.role_arn)
pulumi.export("user_image_repository", hub.registry.repository_url)
pulumi.export(
    "user_image_push",
    hub.registry.repository_url.apply(
        lambda url: (
            f"aws ecr get-login-password --region {settings.region} | docker login --username AWS "
            f"--password-stdin {url.split('/')[0]} && docker build -t {url}:<tag> . && docker push {url}:<tag> "
            "(tags are immutable: push a new tag, then set jupyterhub.userServers.image.tag)"
        )
    ),
)
pulumi.export("jupyterhub_load_balancer", hub.jupyterhub.load_balancer_hostname)
pulumi.export(
    "kms_keys",
    {
        "k8s_secrets": encryption.secrets_key_arn,
        "logs": encryption.logs_key_arn,
        "user_data": encryption.user_data_key_arn,
    },
)
