"""JupyterHub settings: the hub's domain, HTTPS and DNS, and its user servers (images, resources,
profiles); the login rules are in settings/login.py."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from catalog.instance_types import quantity_kib
from settings.base import Cidr, CpuCores, Memory, _field_error, _Model
from settings.image_tags import movable_tag_problem
from settings.login import GROUP_NAME, GitHubAuthSettings, OidcAuthSettings, opening_traits


class HttpsSettings(_Model):
    mode: Literal["letsencrypt", "secret", "acm", "none"] = Field(
        description=(
            "How HTTPS is served: `letsencrypt` (the chart's autohttps with Let's Encrypt), `secret` (an existing "
            "kubernetes.io/tls secret), `acm` (TLS offloaded to an AWS NLB with an ACM certificate) or `none` "
            "(plain HTTP; dev only, and must be written out)."
        )
    )
    contact_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    """Let's Encrypt account e-mail (mode `letsencrypt`)."""
    secret_name: str | None = Field(None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Name of the TLS secret in the JupyterHub namespace (mode `secret`)."""
    acm_certificate_arn: str | None = Field(
        None, pattern=r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$"
    )
    """ACM certificate for the NLB (mode `acm`). Leave it empty with `dns.hostedZoneId` set to create
    and DNS-validate one."""

    @model_validator(mode="after")
    def _check(self) -> HttpsSettings:
        if self.mode == "letsencrypt" and not self.contact_email:
            raise _field_error("contactEmail", "Let's Encrypt needs a contact e-mail; set https.contactEmail")
        if self.mode == "secret" and not self.secret_name:
            raise _field_error("secretName", "mode `secret` needs the TLS secret's name; set https.secretName")
        return self


class DnsSettings(_Model):
    hosted_zone_id: str | None = Field(None, pattern=r"^Z[A-Z0-9]{1,31}$")
    """Route 53 hosted zone of `domain`: the hub's DNS record (and, in mode `acm`, its certificate) are created."""


class ResourceSettings(_Model):
    cpu_guarantee: CpuCores = 0.5
    """CPU reserved for each user server: cores (0.5) or a Kubernetes quantity (500m)."""
    cpu_limit: CpuCores = 2
    """CPU a user server may use at most: cores or a Kubernetes quantity."""
    memory_guarantee: Memory = "1Gi"
    """Memory reserved for each user server, a Kubernetes quantity (e.g. 1Gi, 512Mi)."""
    memory_limit: Memory = "4Gi"
    """Memory a user server may use at most (e.g. 4Gi); the pod is OOM-killed beyond it."""

    @model_validator(mode="after")
    def _check(self) -> ResourceSettings:
        if self.cpu_guarantee > self.cpu_limit:
            raise _field_error("cpuGuarantee", f"{self.cpu_guarantee} exceeds cpuLimit {self.cpu_limit}")
        if quantity_kib(self.memory_guarantee) > quantity_kib(self.memory_limit):
            raise _field_error("memoryGuarantee", f"{self.memory_guarantee} exceeds memoryLimit {self.memory_limit}")
        return self


class ImageSettings(_Model):
    name: str = Field("quay.io/jupyterhub/k8s-singleuser-sample", pattern=r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+$")
    """User server image repository (an ECR repository URL once the registry is set up)."""
    tag: str = Field("4.4.0", pattern=r"^[\w][\w.-]{0,127}$")
    """User server image tag (pin it; `latest` is refused)."""
    from_registry: bool = False
    """Pull the image from this stack's ECR repository (`name` is then ignored); nodes pull through their role."""

    @model_validator(mode="after")
    def _check(self) -> ImageSettings:
        if self.tag == "latest":
            raise _field_error("tag", "`latest` is not reproducible; pin a version tag")
        movable = movable_tag_problem(self.tag)
        if movable:
            raise _field_error("tag", f"{movable}; pin a version tag")
        return self


class EgressPortSettings(_Model):
    port: int = Field(ge=1, le=65535)
    """Destination port."""
    protocol: Literal["TCP", "UDP"] = "TCP"
    """Protocol."""


class ProfileSettings(_Model):
    """One choice on the spawn page: KubeSpawner's profile_list entry."""

    slug: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
    """Short name, what a user posts to choose it (`{"profile": "<slug>"}`)."""
    display_name: str = Field(min_length=1, max_length=60)
    """Shown on the spawn page."""
    description: str = Field("", max_length=300)
    """Shown under the name."""
    default: bool = False
    """Preselected; exactly one profile is the default, and it is open to everyone who may log in."""
    resources: ResourceSettings | None = None
    """CPU and memory guarantee and limit (default: userServers.resources)."""
    image: ImageSettings | None = None
    """The image by tag (default: userServers'). Superseded by `environment`; prod refuses it (a tag moves)."""
    environment: str | None = None
    """The environment its servers run (a name pinned under `jhub-eks:environments`; default: userServers')."""
    node_pool: Literal["user", "gpu"] = "user"
    """Which node group runs it: `user` or `gpu` (nodeGroups.gpu)."""
    gpus: int = Field(0, ge=0, le=8)
    """NVIDIA GPUs per server (nvidia.com/gpu; with time-slicing, shares of one); needs nodePool `gpu`."""
    groups: list[Annotated[str, Field(pattern=GROUP_NAME)]] = Field(default_factory=list)
    """Hub groups (the identity provider's groups, or GitHub `org:team`) whose members see and may start
    it; empty: everyone who may log in. Enforced in the hub at every spawn, not only on the page."""
    shared_data_writer: bool = False
    """Servers of this profile may write the user bucket's `shared/` prefix, which every server reads (they run
    as the curators' service account and IAM role); needs `groups`, the curators."""
    start_timeout_seconds: int | None = Field(None, ge=60, le=3600)
    """Seconds a server may take to start (default: the chart's 300; large GPU images pull for longer)."""

    @model_validator(mode="after")
    def _check(self) -> ProfileSettings:
        if self.gpus and self.node_pool != "gpu":
            raise _field_error(
                "gpus", f"profile {self.slug!r} asks for GPUs on nodePool `{self.node_pool}`; set nodePool: gpu"
            )
        if self.shared_data_writer and not self.groups:
            raise _field_error(
                "sharedDataWriter",
                f"profile {self.slug!r} would let everyone write shared/; limit it to the curators with `groups`",
            )
        if self.node_pool == "gpu" and not self.gpus:
            raise _field_error(
                "nodePool", f"profile {self.slug!r} is on the GPU pool without GPUs; set gpus: 1 or more"
            )
        return self


class UserServerSettings(_Model):
    image: ImageSettings = ImageSettings()
    """User server image by tag. Superseded by `environment`; prod refuses it (a tag is not a digest)."""
    environment: str | None = None
    """The environment user servers run: a name pinned by digest under `jhub-eks:environments` (environments/
    holds the team's; docs/environments.md). Profiles without their own `environment` run it too."""
    resources: ResourceSettings = ResourceSettings()
    """CPU and memory guarantees and limits of each user server."""
    profiles: list[ProfileSettings] = Field(default_factory=list)
    """Server choices on the spawn page (empty: one server size, `image` and `resources`)."""
    shm_size: str = Field("1Gi", pattern=r"^\d+[MG]i$")
    """Size of the memory-backed /dev/shm of every user server (data loaders need more than the
    container runtime's 64M); it counts against the server's memory limit."""
    storage_capacity: str = Field("10Gi", pattern=r"^\d+[MGT]i$")
    """Size of each user's home volume (encrypted gp3, dynamic PVC)."""
    extra_egress_ports: list[EgressPortSettings] = Field(default_factory=list)
    """Internet ports user servers may reach besides DNS, HTTP (80) and HTTPS (443), e.g. [{port: 22}] for git+ssh."""
    idle_timeout_seconds: int = Field(3600, ge=300, le=7 * 24 * 3600)
    """Idle user servers are stopped after this many seconds (idle culling is always on)."""

    @property
    def has_curators(self) -> bool:
        """Whether a profile writes the shared prefix (and so runs as the curators' identity)."""
        return any(profile.shared_data_writer for profile in self.profiles)

    @model_validator(mode="after")
    def _check(self) -> UserServerSettings:
        if self.environment is not None and "image" in self.model_fields_set:
            raise _field_error("image", "is set beside `environment`; remove `image` (the environment pins the image)")
        for choice in self.profiles:
            if choice.environment is not None and choice.image is not None:
                raise _field_error(
                    "profiles", f"profile {choice.slug!r} sets both `image` and `environment`; remove `image`"
                )
        slugs = [p.slug for p in self.profiles]
        if len(set(slugs)) != len(slugs):
            raise _field_error("profiles", f"slugs must be unique, got {slugs}")
        if self.profiles:
            defaults = [p for p in self.profiles if p.default]
            if len(defaults) != 1:
                raise _field_error("profiles", f"exactly one profile needs `default: true`, found {len(defaults)}")
            if defaults[0].groups:
                raise _field_error(
                    "profiles",
                    f"the default profile {defaults[0].slug!r} is limited to groups; the default must be open to "
                    "everyone who may log in (a user with no profile would start without one)",
                )
        for profile in [None, *self.profiles]:
            resources = self.resources if profile is None or profile.resources is None else profile.resources
            if quantity_kib(self.shm_size) >= quantity_kib(resources.memory_limit):
                where = "userServers.resources" if profile is None else f"profile {profile.slug!r}"
                raise _field_error(
                    "shmSize",
                    f"{self.shm_size} of /dev/shm would take all of {where}'s memoryLimit {resources.memory_limit}; "
                    "lower shmSize or raise the limit",
                )
        return self


class JupyterHubSettings(_Model):
    domain: str = Field(max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    """DNS name users open, e.g. hub.example.org; the OAuth callback is https://<domain>/hub/oauth_callback."""
    chart_version: str = Field("4.4.0", pattern=r"^\d+\.\d+\.\d+$")
    """Zero-to-JupyterHub chart version (`./plan` validates the values against this version's schema, carried in
    `data/charts/jupyterhub-<version>/`); prod writes it in the stack file."""
    namespace: str = Field("jupyterhub", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Kubernetes namespace of the release. Immutable: a change reinstalls the hub."""
    auth: Literal["github", "oidc"] = "github"
    """Login: `github` (GitHub OAuth; organizations and teams decide) or `oidc` (any OpenID Connect issuer; its
    groups decide). Client id/secret: the secrets `oauthClientId` and `oauthClientSecret`."""
    github: GitHubAuthSettings = GitHubAuthSettings()
    """GitHub login rules (auth `github`)."""
    oidc: OidcAuthSettings | None = None
    """OpenID Connect login rules (auth `oidc`)."""
    https: HttpsSettings
    """TLS for the hub's public endpoint."""
    dns: DnsSettings = DnsSettings()
    """Route 53 automation."""
    load_balancer_source_ranges: list[Cidr] = Field(default_factory=list)
    """CIDRs allowed to reach the hub's load balancer (required in prod; 0.0.0.0/0 must be written out)."""
    subdomain_host: bool = False
    """Serve each user on `<user>.<domain>` (origin isolation); needs a wildcard certificate (mode secret or acm)."""
    user_servers: UserServerSettings = UserServerSettings()
    """User servers (KubeSpawner)."""
    pod_security: Literal["restricted", "baseline"] = "restricted"
    """Pod Security Standard the hub namespace enforces. `restricted` (every pod the chart and KubeSpawner make
    meets it: non-root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp); `baseline`
    only for a user image or extra container that must run as root (the plan's checklist warns)."""
    secrets_generation: int = Field(1, ge=1)
    """Bump to regenerate the hub cookie secret, proxy token and CryptKeeper keys (logs everyone out)."""
    values_overrides: dict[str, Any] = Field(default_factory=dict)
    """Escape hatch: Helm values merged last over the generated ones (`./plan` validates the result against the
    chart's schema and stops on a value it refuses)."""

    @model_validator(mode="after")
    def _check(self) -> JupyterHubSettings:
        if self.auth == "oidc" and self.oidc is None:
            raise _field_error("oidc", "auth `oidc` needs the issuer's endpoints and groups; add an oidc section")
        if self.auth == "github" and self.oidc is not None:
            raise _field_error("oidc", "is set but auth is `github`; set auth: oidc or remove the oidc section")
        hub_config = (self.values_overrides.get("hub") or {}).get("config") or {}
        opened = [f"hub.config.{trait}" for trait in opening_traits(hub_config)]
        if opened:
            raise _field_error(
                "valuesOverrides",
                f"{opened} would let users in without the allow rules; remove it and use "
                "github.allowedOrganizations or oidc.allowedGroups",
            )
        if self.subdomain_host and self.https.mode not in ("secret", "acm"):
            raise _field_error(
                "subdomainHost",
                f"needs a wildcard certificate, which https mode `{self.https.mode}` cannot provide; "
                "use https.mode `secret` or `acm`, or set subdomainHost: false",
            )
        world = any(ipaddress.IPv4Network(c).prefixlen == 0 for c in self.load_balancer_source_ranges)
        if self.https.mode == "letsencrypt" and self.load_balancer_source_ranges and not world:
            # Let's Encrypt validates HTTP-01 from addresses it does not publish (several vantage
            # points), so with port 80 limited to these ranges the certificate is never issued.
            raise _field_error(
                "loadBalancerSourceRanges",
                "limits port 80, but Let's Encrypt validates from addresses it does not publish, so the "
                "certificate would never be issued; use https.mode `acm` with dns.hostedZoneId (DNS "
                "validation works behind source ranges), or open the hub with [0.0.0.0/0]",
            )
        if self.https.mode == "acm" and not self.https.acm_certificate_arn and not self.dns.hosted_zone_id:
            raise _field_error(
                "https.acmCertificateArn",
                "mode `acm` needs a certificate; set https.acmCertificateArn or dns.hostedZoneId to create one",
            )
        return self
