"""Dask Gateway behind the hub's login: its namespace (Pod Security "restricted", enforced), the
gateway's hub API token (generated here: the hub registers the service with it), and the official
`dask-gateway` chart, pinned, with values from components/dask_gateway_values.py and every pod the
chart makes transformed to meet "restricted" where its values cannot say so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.dask_gateway_rbac import gateway_rbac
from components.dask_gateway_values import (
    HUB_TOKEN_KEY,
    HUB_TOKEN_SECRET,
    RELEASE_NAME,
    dashboard_login_middleware,
    gateway_values,
    limit_range_spec,
    require_dashboard_login,
    resource_quota_spec,
    restrict_pods,
)
from components.dask_network_policies import DaskNetworkSpec, dask_network_policies
from components.jupyterhub import RELEASE_NAME as HUB_RELEASE
from components.jupyterhub import pod_security_labels
from components.kube_objects import declare_manifest
from components.network_policies import declare
from settings.dask import DaskGatewaySettings

CHART_REPOSITORY = "https://helm.dask.org"


def restricted_transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """The chart's objects as Pulumi registers them (`transforms` of the v4 Chart reach each child it
    renders): a Deployment's pod template gets the restricted security contexts."""
    if args.type_ != "kubernetes:apps/v1:Deployment":
        return None
    return pulumi.ResourceTransformResult(props=restrict_pods(args.props), opts=args.opts)


def dashboard_login_transform(namespace: str) -> pulumi.ResourceTransform:
    """The controller's configuration with the dashboard login middleware first on its routes."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != "kubernetes:core/v1:ConfigMap":
            return None
        props = require_dashboard_login({"kind": "ConfigMap", **args.props}, namespace)
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


def declare_rbac(prefix: str, document: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """One object of components/dask_gateway_rbac.py as its own typed resource."""
    return declare_manifest(f"{prefix}-{document['kind'].lower()}-{document['metadata']['name']}", document, opts)


@dataclass(frozen=True)
class DaskGatewayArgs:
    dask: DaskGatewaySettings
    hub_namespace: str
    worker_image: pulumi.Input[str]
    """The image of schedulers and workers (components/dask_gateway_values.worker_image)."""
    provider: k8s.Provider
    core_node_selector: dict[str, str]
    hub_public_url: str
    """The hub's public URL (scheme and host): where the dashboard check sends a browser to log in."""
    vpc_cidr: str = "10.0.0.0/16"
    """The VPC's range: the control plane's ENIs, which the api, controller and traefik reach after DNAT."""
    depends_on: list[pulumi.Resource] | None = None
    environments: dict[str, str] | None = None
    """The environments a cluster may run (name -> image by digest): those the stack's user servers run."""
    default_environment: str | None = None


class DaskGateway(pulumi.ComponentResource):
    hub_api_token: pulumi.Output[str]
    """The gateway's token at the hub (a Pulumi secret): the hub's `hub.services.dask-gateway.apiToken`."""
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: DaskGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("jhub:k8s:DaskGateway", name, None, opts)
        dask = args.dask
        k8s_child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=dask.namespace, labels=pod_security_labels("restricted")),
            opts=k8s_child,
        )
        token = random.RandomId(
            f"{name}-hub-api-token",
            byte_length=32,
            opts=pulumi.ResourceOptions(
                parent=self, additional_secret_outputs=["hex", "b64Std", "b64Url", "dec", "id"]
            ),
        )
        self.hub_api_token = pulumi.Output.secret(token.hex)
        namespace_name = namespace.metadata.apply(lambda m: m.name or dask.namespace)
        secret = k8s.core.v1.Secret(
            f"{name}-hub-api-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=HUB_TOKEN_SECRET, namespace=namespace_name),
            string_data={HUB_TOKEN_KEY: self.hub_api_token},
            opts=k8s_child,
        )
        # The namespace's NetworkPolicies before any pod of the chart (strict enforcement denies a pod
        # no policy selects for good).
        network = DaskNetworkSpec(
            namespace=dask.namespace, hub_namespace=args.hub_namespace, hub_release=HUB_RELEASE, vpc_cidr=args.vpc_cidr
        )
        policy_options = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        policies = [
            declare(f"{name}-{policy['metadata']['name']}", policy, policy_options)
            for policy in dask_network_policies(network)
        ]
        # Totals of the namespace, and defaults for the chart's containers (which set no resources).
        quota = k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dask-clusters", namespace=namespace_name),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=resource_quota_spec(dask)["hard"]),
            opts=k8s_child,
        )
        limits = k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dask-defaults", namespace=namespace_name),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type=item["type"],
                        default=item["default"],
                        default_request=item["defaultRequest"],
                        max=item["max"],
                    )
                    for item in limit_range_spec(dask)["limits"]
                ]
            ),
            opts=k8s_child,
        )
        # The api's and the controller's accounts and roles (the chart's values name these accounts).
        access = [declare_rbac(f"{name}-rbac", document, policy_options) for document in gateway_rbac(dask.namespace)]
        values: pulumi.Output[dict[str, Any]] = pulumi.Output.from_input(args.worker_image).apply(
            lambda image: gateway_values(
                dask,
                hub_namespace=args.hub_namespace,
                image=image,
                core_node_selector=args.core_node_selector,
                hub_public_url=args.hub_public_url,
                environments=args.environments,
                default_environment=args.default_environment,
            )
        )
        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            name=RELEASE_NAME,
            chart="dask-gateway",
            version=dask.chart_version,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            namespace=namespace_name,
            values=values,
            opts=pulumi.ResourceOptions.merge(
                k8s_child,
                pulumi.ResourceOptions(
                    depends_on=[namespace, secret, quota, limits, *policies, *access, *(args.depends_on or [])],
                    transforms=[restricted_transform, dashboard_login_transform(dask.namespace)],
                ),
            ),
        )
        # After the chart, whose CRDs define it (traefik ignores a route whose middleware is missing:
        # until it exists no dashboard is served at all).
        middleware = dashboard_login_middleware(dask.namespace)
        k8s.apiextensions.CustomResource(
            f"{name}-dashboard-login",
            api_version=middleware["apiVersion"],
            kind=middleware["kind"],
            metadata=k8s.meta.v1.ObjectMetaArgs(**middleware["metadata"]),
            spec=middleware["spec"],
            opts=pulumi.ResourceOptions.merge(k8s_child, pulumi.ResourceOptions(depends_on=[self.chart])),
        )
        self.namespace = namespace_name
        self.register_outputs({"namespace": self.namespace})
