"""The JupyterHub release: namespace with Pod Security Admission, generated hub secrets, the
Zero-to-JupyterHub Helm release, and (with a Route 53 zone) its DNS record and ACM certificate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import user_scheduler
from components.hub_network_policies import HubNetworkSpec, hub_network_policies
from components.jupyterhub_values import (
    CURATOR_SERVICE_ACCOUNT,
    USER_SERVICE_ACCOUNT,
    HubDatabaseValues,
    HubSecrets,
    UserImage,
    UserStorage,
    build_values,
)
from components.network_policies import declare
from components.tagging import component_tags
from settings import JupyterHubSettings
from settings.capacity import CapacityPlan
from settings.department import DepartmentSettings

CHART_REPOSITORY = "https://hub.jupyter.org/helm-chart/"
RELEASE_NAME = "jupyterhub"
PROXY_SERVICE = "proxy-public"


# Pod Security Admission: enforce the stack's level (restricted by default: every pod the chart and
# KubeSpawner make meets it, see tests/test_chart_render.py and tests/test_user_pods.py), and warn and
# audit at restricted whatever is enforced.
def pod_security_labels(enforce: str) -> dict[str, str]:
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "latest",
    }


@dataclass(frozen=True)
class JupyterHubArgs:
    hub: JupyterHubSettings
    storage_class: pulumi.Input[str]
    oauth_client_id: pulumi.Input[str]
    oauth_client_secret: pulumi.Input[str]
    provider: k8s.Provider
    user_bucket: pulumi.Input[str] | None = None
    """The user data bucket; user servers get its name and their prefix in the environment."""
    region: str = ""
    user_image_repository: pulumi.Input[str] | None = None
    """Run user servers from this repository at `user_image_tag` instead of the configured image (the
    stack's ECR repository, or the fallback image while the configured tag is not pushed)."""
    user_image_tag: str | None = None
    department: DepartmentSettings | None = None
    """Home size and server limits per group, culling and announcements (components/department_values.py)."""
    profile_images: dict[str, tuple[pulumi.Input[str], str]] = field(default_factory=dict)
    """Per profile slug, the (repository, tag) its servers run instead of the profile's configured image."""
    prepull_images: dict[str, UserImage] = field(default_factory=dict)
    """Environments the chart's continuous puller pulls on CPU user nodes besides the default one (by name)."""
    lockdown: bool = False
    """Incident switch: deny all traffic in the namespace and scale the hub and proxy to zero."""
    vpc_cidr: str = "10.0.0.0/16"
    """The VPC's range: the control plane's ENIs, which the user-scheduler reaches after DNAT."""
    kubernetes_version: str = ""
    """The cluster's minor version: the user-scheduler runs a kube-scheduler within its skew."""
    release_depends_on: list[pulumi.Resource] | None = None
    """What must run before the release installs (nodes, CNI, CoreDNS, storage); nothing else waits."""
    tags: dict[str, str] | None = None
    capacity: CapacityPlan | None = None
    """The hub's limits and start timeout, sized from the node groups (settings/capacity.py)."""
    database: HubDatabaseValues | None = None
    """The hub's PostgreSQL (URL and password outputs) instead of the chart's SQLite volume."""
    database_cidrs: list[str] = field(default_factory=list)
    """Where the database has its addresses (the private subnets): the hub pod's egress on 5432."""
    dask_namespace: str | None = None
    """Dask Gateway's namespace, when it is on: the hub's policies open the paths to and from it."""
    extra_values: dict[str, Any] | None = None
    """Values of other components' hub side (the Dask Gateway service, its role, the users' client
    configuration), merged before `values_overrides`; secrets as Output leaves, so only they are secret."""


class JupyterHub(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    url: pulumi.Output[str]
    load_balancer_hostname: pulumi.Output[str]

    def __init__(self, name: str, args: JupyterHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:k8s:JupyterHub", name, None, opts)
        hub = args.hub
        child = pulumi.ResourceOptions(parent=self)
        k8s_child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        tags = args.tags or {}

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=hub.namespace, labels=pod_security_labels(hub.pod_security)),
            opts=k8s_child,
        )

        # The identity of user servers: EKS Pod Identity maps it to the user role. No API token is
        # mounted (KubeSpawner's automount is off as well).
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-user-servers",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=USER_SERVICE_ACCOUNT, namespace=namespace.metadata.apply(lambda m: m.name or hub.namespace)
            ),
            automount_service_account_token=False,
            opts=k8s_child,
        )
        if hub.user_servers.has_curators:
            # The curator profiles' identity (Pod Identity maps it to the curators' role); no API token.
            k8s.core.v1.ServiceAccount(
                f"{name}-curator-servers",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=CURATOR_SERVICE_ACCOUNT,
                    namespace=namespace.metadata.apply(lambda m: m.name or hub.namespace),
                ),
                automount_service_account_token=False,
                opts=k8s_child,
            )

        # Generated here rather than by the chart's `lookup`, so they survive upgrades and
        # re-installs, stay Pulumi secrets, and rotate when `secretsGeneration` is bumped.
        keepers = {"generation": str(hub.secrets_generation)}

        def hex_secret(purpose: str) -> pulumi.Output[str]:
            random_id = random.RandomId(
                f"{name}-{purpose}",
                byte_length=32,
                keepers=keepers,
                opts=pulumi.ResourceOptions(
                    parent=self, additional_secret_outputs=["hex", "b64Std", "b64Url", "dec", "id"]
                ),
            )
            return pulumi.Output.secret(random_id.hex)

        secrets = HubSecrets(
            cookie_secret=hex_secret("cookie-secret"),
            proxy_token=hex_secret("proxy-token"),
            crypt_key=hex_secret("crypt-key"),
            oauth_client_id=pulumi.Output.secret(args.oauth_client_id),
            oauth_client_secret=pulumi.Output.secret(args.oauth_client_secret),
        )

        certificate_arn: pulumi.Input[str] | None = hub.https.acm_certificate_arn
        if hub.https.mode == "acm" and not certificate_arn and hub.dns.hosted_zone_id:
            certificate_arn = self._certificate(name, hub, tags)

        profile_slugs = list(args.profile_images)
        values = pulumi.Output.all(
            args.storage_class,
            certificate_arn,
            args.user_bucket,
            args.user_image_repository,
            *(args.profile_images[slug][0] for slug in profile_slugs),
        ).apply(
            lambda resolved: build_values(
                hub,
                storage_class=resolved[0],
                secrets=secrets,
                certificate_arn=resolved[1],
                user_storage=UserStorage(bucket=resolved[2], region=args.region) if resolved[2] else None,
                user_image=UserImage(resolved[3], args.user_image_tag) if resolved[3] and args.user_image_tag else None,
                profile_images={
                    slug: UserImage(repository, args.profile_images[slug][1])
                    for slug, repository in zip(profile_slugs, resolved[4:], strict=True)
                },
                extra_values=args.extra_values,
                load_balancer_tags=component_tags(tags, "jhub:k8s:JupyterHub"),
                user_scheduler_image_tag=user_scheduler.image_tag(args.kubernetes_version),
                prepull_images=args.prepull_images,
                capacity=args.capacity,
                database=args.database,
                department=args.department,
            )
        )
        # The namespace's NetworkPolicies, before the release starts any pod (strict enforcement
        # denies a pod no policy selects for good): a default deny, one policy per component; the
        # chart has none for its user-scheduler (without which no user pod is placed).
        policy_options = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        user = hub.user_servers
        network = HubNetworkSpec(
            namespace=hub.namespace,
            release=RELEASE_NAME,
            https_mode=hub.https.mode,
            vpc_cidr=args.vpc_cidr,
            user_egress_ports=[(80, "TCP"), (443, "TCP")] + [(p.port, p.protocol) for p in user.extra_egress_ports],
            pod_identity=args.user_bucket is not None,
            lockdown=args.lockdown,
            database_cidrs=list(args.database_cidrs),
            dask_namespace=args.dask_namespace,
        )
        policies = [
            declare(f"{name}-{policy['metadata']['name']}", policy, policy_options)
            for policy in hub_network_policies(network)
        ]
        scheduler_rights = self._user_scheduler_rights(name, hub.namespace, args.provider)
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart="jupyterhub",
            version=hub.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            namespace=namespace.metadata.apply(lambda m: m.name),
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            timeout=900,  # first user image pulls on fresh nodes take minutes
            max_history=10,
            opts=pulumi.ResourceOptions.merge(
                k8s_child,
                pulumi.ResourceOptions(
                    depends_on=[service_account, *policies, *scheduler_rights, *(args.release_depends_on or [])]
                ),
            ),
        )

        self.release = release
        if args.lockdown:
            self._lockdown(name, hub, release, args.provider)

        # The id comes from the release's status: unknown in a preview of a release not installed yet
        # (a first preview, or one after a failed first `up`), and the engine skips a read with an
        # unknown id. A fixed "ns/proxy-public" would be read during that preview and fail with
        # "not found" (depends_on does not delay a read whose id is known).
        proxy_service = k8s.core.v1.Service.get(
            f"{name}-{PROXY_SERVICE}",
            pulumi.Output.concat(release.status.namespace, "/", PROXY_SERVICE),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[release]),
        )
        self.load_balancer_hostname = proxy_service.status.apply(_load_balancer_hostname)
        if hub.dns.hosted_zone_id:
            names = [hub.domain, f"*.{hub.domain}"] if hub.subdomain_host else [hub.domain]
            for index, record_name in enumerate(names):
                aws.route53.Record(
                    f"{name}-dns-{index}",
                    zone_id=hub.dns.hosted_zone_id,
                    name=record_name,
                    type="CNAME",
                    ttl=300,
                    records=[self.load_balancer_hostname],
                    opts=child,
                )

        scheme = "http" if hub.https.mode == "none" else "https"
        self.namespace = namespace.metadata.apply(lambda m: m.name or hub.namespace)
        self.url = pulumi.Output.from_input(f"{scheme}://{hub.domain}")
        self.register_outputs(
            {"namespace": self.namespace, "url": self.url, "load_balancer_hostname": self.load_balancer_hostname}
        )

    def _lockdown(
        self, name: str, hub: JupyterHubSettings, release: k8s.helm.v3.Release, provider: k8s.Provider
    ) -> None:
        pulumi.log.warn(
            f"LOCKDOWN is on for namespace {hub.namespace}: all traffic denied, hub and proxy scaled to 0. "
            "Set incident.lockdown: false and `pulumi up` to reopen.",
            resource=self,
        )
        options = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[release])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-lockdown-deny-all",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="lockdown-deny-all", namespace=hub.namespace),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
            ),
            opts=options,
        )
        for deployment in ("hub", "proxy"):
            k8s.apps.v1.DeploymentPatch(
                f"{name}-lockdown-{deployment}",
                metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                    name=deployment,
                    namespace=hub.namespace,
                    # Take the replicas field from Helm while the lockdown lasts.
                    annotations={"pulumi.com/patchForce": "true"},
                ),
                spec=k8s.apps.v1.DeploymentSpecPatchArgs(replicas=0),
                opts=options,
            )

    def _user_scheduler_rights(self, name: str, namespace: str, provider: k8s.Provider) -> list[pulumi.Resource]:
        """What kube-scheduler needs beyond the chart's v1.30 rules (components/user_scheduler.py),
        bound to the chart's user-scheduler service account."""
        options = pulumi.ResourceOptions(parent=self, provider=provider)
        role_name = f"{namespace}-user-scheduler-since-1.30"
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-user-scheduler-since-1-30",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=role_name),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=rule["apiGroups"],
                    resources=rule["resources"],
                    resource_names=rule.get("resourceNames"),
                    verbs=rule["verbs"],
                )
                for rule in user_scheduler.ADDED_SINCE_1_30
            ],
            opts=options,
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-user-scheduler-since-1-30",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=role_name),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role_name),
            subjects=[
                k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=user_scheduler.SERVICE_ACCOUNT, namespace=namespace)
            ],
            opts=pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(depends_on=[role])),
        )
        return [role, binding]

    def _certificate(self, name: str, hub: JupyterHubSettings, tags: dict[str, str]) -> pulumi.Output[str]:
        """A DNS-validated ACM certificate for the hub (and `*.domain` with per-user subdomains)."""
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=hub.domain,
            subject_alternative_names=[f"*.{hub.domain}"] if hub.subdomain_host else None,
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=tags,
            opts=child,
        )
        # `example.org` and `*.example.org` share one validation record, so one record validates both.
        option = certificate.domain_validation_options.apply(lambda options: options[0])
        validation_record = aws.route53.Record(
            f"{name}-certificate-validation",
            zone_id=hub.dns.hosted_zone_id or "",
            name=option.apply(lambda o: o.resource_record_name or ""),
            type=option.apply(lambda o: o.resource_record_type or "CNAME"),
            records=[option.apply(lambda o: o.resource_record_value or "")],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[validation_record.fqdn],
            opts=child,
        )
        return validation.certificate_arn


def _load_balancer_hostname(status: Any) -> str:
    ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
    return (ingress[0].hostname or "") if ingress else ""
