"""Login settings: who may log in to JupyterHub and who is an admin, with GitHub or any OpenID Connect
issuer, and the authenticator traits that would bypass those rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from settings.base import _field_error, _Model


class GitHubAuthSettings(_Model):
    allowed_organizations: list[str] = Field(default_factory=list)
    """GitHub organizations (`my-org`) or teams (`my-org:team-slug`) whose members may log in."""
    admin_users: list[str] = Field(default_factory=list)
    """GitHub user names that are JupyterHub admins."""
    admin_teams: list[str] = Field(default_factory=list)
    """GitHub teams (`my-org:team-slug`) whose members are JupyterHub admins (and may log in)."""

    @model_validator(mode="after")
    def _check(self) -> GitHubAuthSettings:
        pattern = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?::[A-Za-z0-9_.-]+)?$")
        bad = [entry for entry in self.allowed_organizations if not pattern.match(entry)]
        if bad:
            raise _field_error("allowedOrganizations", f"{bad} are not `org` or `org:team-slug` entries")
        bad = [entry for entry in self.admin_teams if not pattern.match(entry) or ":" not in entry]
        if bad:
            raise _field_error("adminTeams", f"{bad} are not `org:team-slug` entries")
        return self


def _https_url(value: str) -> str:
    if not re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?(/\S*)?$", value):
        raise ValueError(f"{value!r} is not an https:// URL (the login's tokens must travel over TLS)")
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]
# Claims a user can set for themselves at most identity providers: two people could end up with one
# JupyterHub account (and its home, bucket prefix and servers).
USER_EDITABLE_CLAIMS = {"name", "given_name", "family_name", "nickname", "middle_name"}
GROUP_NAME = r"^[^\s,]{1,255}$"


# Authenticator traits that let users in without the allow rules (OAuthenticator 17.4.0).
OPENING_TRAITS = ("allow_all", "allow_existing_users")


def opening_traits(hub_config: Mapping[str, Any]) -> list[str]:
    """`Section.trait` for each opening trait a `hub.config` turns on (settings refuse them in
    valuesOverrides, the checklist in the values, the plan shows them)."""
    return sorted(
        f"{section}.{trait}"
        for section, entries in hub_config.items()
        if isinstance(entries, Mapping)
        for trait in OPENING_TRAITS
        if entries.get(trait)
    )


class OidcAuthSettings(_Model):
    """Any OpenID Connect issuer, through OAuthenticator's GenericOAuthenticator (which has no
    discovery: the endpoints are written here, so a review sees where tokens go; the issuer's
    `/.well-known/openid-configuration` lists them)."""

    issuer: HttpsUrl
    """The issuer URL (documentation and a cross-check: each endpoint must be on its host)."""
    authorize_url: HttpsUrl
    """`authorization_endpoint` of the issuer's discovery document."""
    token_url: HttpsUrl
    """`token_endpoint` of the issuer's discovery document."""
    claims_from: Literal["userinfo", "idToken"] = "userinfo"
    """Where the user name and groups are read: the `userinfo` endpoint (with the access token), or the
    `idToken` the token endpoint returns (for issuers whose userinfo has no groups, e.g. Microsoft Entra ID).
    OAuthenticator checks the ID token's audience and expiry, not its signature: sound only because it
    comes straight from the token endpoint over TLS (OpenID Connect Core 3.1.3.7), which is enforced here."""
    userinfo_url: HttpsUrl | None = None
    """`userinfo_endpoint` of the issuer's discovery document (claimsFrom `userinfo`)."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    """Scopes requested; `openid` is required (add the one that releases groups, if the issuer needs one)."""
    username_claim: str = Field("preferred_username", pattern=r"^[A-Za-z0-9_:.-]+$")
    """Userinfo claim that becomes the JupyterHub user name (lower-cased); one the issuer's admins control."""
    groups_claim: str = Field("groups", pattern=r"^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$")
    """Userinfo claim listing the user's groups (a dotted path for nested claims, e.g. realm_access.roles)."""
    allowed_groups: list[Annotated[str, Field(pattern=GROUP_NAME)]] = Field(default_factory=list)
    """Groups whose members may log in."""
    admin_groups: list[Annotated[str, Field(pattern=GROUP_NAME)]] = Field(default_factory=list)
    """Groups whose members are JupyterHub admins (and may log in); admin is revoked for others at login."""
    login_service: str = Field("your organisation", min_length=1, max_length=60)
    """Shown on the login button ("Sign in with ...")."""

    @model_validator(mode="after")
    def _check(self) -> OidcAuthSettings:
        if "openid" not in self.scopes:
            raise _field_error("scopes", "OpenID Connect needs the `openid` scope; add it")
        if self.username_claim in USER_EDITABLE_CLAIMS:
            raise _field_error(
                "usernameClaim",
                f"`{self.username_claim}` is a display name users can edit, so two people could share an "
                "account; use preferred_username, email (verified by the issuer) or sub",
            )
        if self.claims_from == "userinfo" and not self.userinfo_url:
            raise _field_error("userinfoUrl", "claimsFrom `userinfo` needs the issuer's userinfo_endpoint; set it")
        if self.claims_from == "idToken" and self.userinfo_url:
            raise _field_error("userinfoUrl", "is not used with claimsFrom `idToken`; remove it")
        issuer_host = self.issuer.split("/")[2]
        for key, url in (
            ("authorizeUrl", self.authorize_url),
            ("tokenUrl", self.token_url),
            ("userinfoUrl", self.userinfo_url),
        ):
            if url and url.split("/")[2] != issuer_host:
                raise _field_error(
                    key,
                    f"{url} is not on the issuer's host {issuer_host}; copy it from the issuer's discovery document",
                )
        if not (self.allowed_groups or self.admin_groups):
            raise _field_error(
                "allowedGroups",
                "no group may log in, so nobody could; list the identity provider's groups in allowedGroups "
                "(and adminGroups)",
            )
        return self
