"""Who may log in and who is admin, decided by the real authenticator classes the hub runs
(oauthenticator 17.4.0 on JupyterHub 5.5.0, the z2jh 4.4.0 hub image's pins) configured exactly as
the chart would configure them from each stack's values: `hub.config` sections applied to the
traitlets config, then the `hub.extraConfig` snippets executed with it as `c` (the chart's
jupyterhub_config.py does both, in that order). The class comes from the `authenticator_class`
entry point the values name.

The identity provider is a real HTTP server on 127.0.0.1 (token and userinfo endpoints for OpenID
Connect, GitHub's token/user/teams/membership API); only the host of the stack's endpoints is
replaced, so the paths the stack wrote are the ones served. The login runs through
`get_authenticated_user`, JupyterHub's path from the OAuth callback: authenticate (code + PKCE
verifier for a token, then the user's claims), blocked users, the allow check, the admin decision.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import tornado.web
from oauthenticator.oauth2 import _serialize_state
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from traitlets.config import Config

from offline_plan.access import access_lines
from offline_plan.mock_engine import Inventory
from tests.test_jupyterhub import hub_settings, hub_values
from tests.user_pods import chart_spawner_config

VERIFIER = "pkce-verifier-0123456789abcdef0123456789abcdef"


def _s256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).decode().rstrip("=")


@dataclass
class IdentityProvider:
    """The accounts the fake provider knows: claims per user, GitHub teams and org membership."""

    client_id: str
    client_secret: str
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    org_members: set[tuple[str, str]] = field(default_factory=set)
    """(org, login) and (org:team, login) memberships GitHub's API answers 204 for."""

    def app(self, token_path: str, userinfo_path: str) -> tornado.web.Application:
        provider = self

        class Token(tornado.web.RequestHandler):
            def post(self) -> None:
                form = {k: v[0] for k, v in parse_qs(self.request.body.decode()).items()}
                assert form["client_id"] == provider.client_id and form["client_secret"] == provider.client_secret
                claims = provider.codes.pop(form["code"])
                assert _s256(form["code_verifier"]) == claims.pop("_challenge"), "PKCE verifier mismatch"
                token = uuid.uuid4().hex
                provider.tokens[token] = claims
                self.write({"access_token": token, "token_type": "Bearer", "scope": "openid"})

        def bearer(handler: tornado.web.RequestHandler) -> dict[str, Any]:
            token = handler.request.headers.get("Authorization", "").partition(" ")[2]
            if token not in provider.tokens:
                raise tornado.web.HTTPError(401)
            return provider.tokens[token]

        class UserInfo(tornado.web.RequestHandler):
            def get(self) -> None:
                self.write({k: v for k, v in bearer(self).items() if k != "_teams"})

        class Teams(tornado.web.RequestHandler):
            def get(self) -> None:
                self.set_header("Content-Type", "application/json")
                self.write(json.dumps(bearer(self).get("_teams", [])))

        class OrgMember(tornado.web.RequestHandler):
            def get(self, org: str, login: str) -> None:
                bearer(self)
                self.set_status(204 if (org, login) in provider.org_members else 404)

        class TeamMember(tornado.web.RequestHandler):
            def get(self, org: str, team: str, login: str) -> None:
                bearer(self)
                self.set_status(204 if (f"{org}:{team}", login) in provider.org_members else 404)

        return tornado.web.Application(
            [
                (token_path, Token),
                (userinfo_path, UserInfo),
                (r"/api/v3/user/teams", Teams),
                (r"/api/v3/orgs/([^/]+)/members/([^/]+)", OrgMember),
                (r"/api/v3/orgs/([^/]+)/teams/([^/]+)/members/([^/]+)", TeamMember),
            ]
        )

    def callback(self, claims: dict[str, Any]) -> SimpleNamespace:
        """What the OAuth callback hands the authenticator: the code and the PKCE state cookie."""
        code = uuid.uuid4().hex
        self.codes[code] = {**copy.deepcopy(claims), "_challenge": _s256(VERIFIER)}
        state = _serialize_state({"state_id": "s", "next_url": None, "code_verifier": VERIFIER})
        return SimpleNamespace(
            get_argument=lambda name, default=None: code if name == "code" else default,
            get_state_cookie=lambda: state,
        )


def hub_config(values: dict[str, Any]) -> Config:
    """The traitlets config the chart builds from the values (tests/user_pods.py: `singleuser.*`
    mapped, `hub.config` sections applied, `hub.extraConfig` snippets executed)."""
    return chart_spawner_config(values, "jupyterhub", "4.4.0")


def authenticator_class(values: dict[str, Any]) -> type:
    name = values["hub"]["config"]["JupyterHub"]["authenticator_class"]
    return entry_points(group="jupyterhub.authenticators")[name].load()


async def _logins(values: dict[str, Any], users: dict[str, dict[str, Any]], members: set[tuple[str, str]]) -> dict:
    """Log each user in through the real authenticator against the loopback provider; the auth model
    JupyterHub receives (name, admin, groups), or None when refused."""
    cls = authenticator_class(values)
    c = hub_config(values)
    section = c[cls.__name__]
    provider = IdentityProvider(str(section.client_id), str(section.client_secret), org_members=members)
    token_path = urlsplit(section.token_url).path if "token_url" in section else "/login/oauth/access_token"
    userinfo_path = urlsplit(section.userdata_url).path if "userdata_url" in section else "/api/v3/user"
    (sock,) = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(provider.app(token_path, userinfo_path))
    server.add_sockets([sock])
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    if "token_url" in section:  # OpenID Connect: the stack's endpoints, on the loopback host
        section.token_url = base + token_path
        section.userdata_url = base + userinfo_path
    else:  # GitHub: every endpoint derives from github_url
        section.github_url = base
    try:
        authenticator = cls(config=c)
        results = {}
        for name, claims in users.items():
            model = await authenticator.get_authenticated_user(provider.callback(claims), None)
            results[name] = None if model is None else {k: model.get(k) for k in ("name", "admin", "groups")}
        return results
    finally:
        server.stop()


def logins(values: dict[str, Any], users: dict[str, dict[str, Any]], members: set[tuple[str, str]]) -> dict:
    return asyncio.run(_logins(values, users, members))


# ---- The people each stack's settings name --------------------------------------------------------


def _team(slug: str) -> dict[str, Any]:
    org, team = slug.split(":")
    # GitHub answers with the organization's login in its own case (team-full: slug, organization.login).
    return {"slug": team, "organization": {"login": org.upper()}, "name": team}


def _github(login: str, teams: list[str]) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)), "email": None, "_teams": [_team(t) for t in teams]}


def expectations(plan: Inventory) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str]], dict[str, Any]]:
    """(users' claims, provider memberships, expected outcome per user) from the stack's settings."""
    settings = hub_settings(plan)
    if settings.get("auth", "github") == "oidc":
        oidc = settings["oidc"]
        claim, groups = oidc.get("usernameClaim", "preferred_username"), oidc.get("groupsClaim", "groups")
        allowed, admin = oidc["allowedGroups"][0], oidc["adminGroups"][0]
        users = {
            "member": {claim: "Member.One", groups: [allowed, "unrelated"]},
            "admin": {claim: "admin.one", groups: [admin]},
            "outsider": {claim: "outsider", groups: ["marketing"]},
            "no-groups-claim": {claim: "nogroups"},
        }
        expected = {
            "member": {"name": "member.one", "admin": False, "groups": sorted([allowed, "unrelated"])},
            "admin": {"name": "admin.one", "admin": True, "groups": [admin]},
            "outsider": None,
            "no-groups-claim": None,
        }
        return users, set(), expected
    github = settings["github"]
    org = github["allowedOrganizations"][0]
    team = f"{org.split(':')[0]}:analysts"
    admin, admin_team = github["adminUsers"][0], github["adminTeams"][0]
    users = {
        "member": _github("member-one", [team]),
        "admin-user": _github(admin, []),
        "admin-team": _github("team-admin", [admin_team]),
        "outsider": _github("outsider", ["elsewhere:team"]),
    }
    # The allowed org (or team) has member-one; the team admin is in no allowed org.
    members = {(org, "member-one")}
    expected = {
        "member": {"name": "member-one", "admin": False, "groups": [team.lower()]},
        "admin-user": {"name": admin, "admin": True, "groups": []},
        "admin-team": {"name": "team-admin", "admin": True, "groups": [admin_team.lower()]},
        "outsider": None,
    }
    return users, members, expected


def test_members_log_in_outsiders_do_not_and_admin_groups_make_admins(plan: Inventory) -> None:
    users, members, expected = expectations(plan)
    assert logins(hub_values(plan), users, members) == expected


# ---- The test bites: a hub opened to everyone, or groups not managed, is seen --------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_allow_all_lets_the_outsider_in(plans: dict[str, Inventory], stack: str) -> None:
    values = copy.deepcopy(hub_values(plans[stack]))
    section = {"github": "GitHubOAuthenticator", "generic-oauth": "GenericOAuthenticator"}[
        values["hub"]["config"]["JupyterHub"]["authenticator_class"]
    ]
    values["hub"]["config"][section]["allow_all"] = True
    users, members, _ = expectations(plans[stack])
    assert logins(values, users, members)["outsider"] is not None


def test_without_the_teams_snippet_github_admin_teams_are_not_admins(plans: dict[str, Inventory]) -> None:
    values = copy.deepcopy(hub_values(plans["dev"]))
    values["hub"]["extraConfig"] = {}
    users, members, _ = expectations(plans["dev"])
    assert logins(values, users, members)["admin-team"] is None  # neither org member nor admin


def test_groups_claim_elsewhere_refuses_everyone_but_never_admits(plans: dict[str, Inventory]) -> None:
    values = copy.deepcopy(hub_values(plans["prod"]))
    values["hub"]["config"]["GenericOAuthenticator"]["auth_state_groups_key"] = "oauth_user.roles"
    users, members, _ = expectations(plans["prod"])
    assert all(model is None for model in logins(values, users, members).values())


# ---- What the plan tells a reviewer --------------------------------------------------------------


def test_the_plan_says_who_may_log_in_and_who_is_admin(plan: Inventory) -> None:
    settings = hub_settings(plan)
    text = "\n".join(access_lines(hub_values(plan)))
    if settings.get("auth", "github") == "oidc":
        oidc = settings["oidc"]
        assert f"may log in: groups {', '.join(oidc['allowedGroups'])}; admins" in text
        assert f"admins: groups {', '.join(oidc['adminGroups'])}" in text
        assert oidc["tokenUrl"] in text
    else:
        github = settings["github"]
        assert f"may log in: organizations {github['allowedOrganizations'][0]}" in text
        assert f"admins: users {', '.join(github['adminUsers'])}; teams {', '.join(github['adminTeams'])}" in text
    assert "EVERYONE" not in text


def test_the_plan_shouts_when_the_hub_is_open_to_everyone(plans: dict[str, Inventory]) -> None:
    values = copy.deepcopy(hub_values(plans["prod"]))
    values["hub"]["config"]["GenericOAuthenticator"]["allow_all"] = True
    assert "  may log in: EVERYONE (allow_all)" in access_lines(values)


def test_the_plan_says_when_only_the_admins_may_log_in(plans: dict[str, Inventory]) -> None:
    """A dev stack may leave the allow rule empty (prod refuses it): the plan says who that leaves."""
    for stack, rules_key, allow_key in (
        ("prod", "GenericOAuthenticator", "allowed_groups"),
        ("dev", "GitHubOAuthenticator", "allowed_organizations"),
    ):
        values = copy.deepcopy(hub_values(plans[stack]))
        values["hub"]["config"][rules_key][allow_key] = []
        assert "  may log in: ONLY THE ADMINS (no allow rule: nobody else gets in)" in access_lines(values)


def test_the_plan_says_which_groups_see_which_profiles(plan: Inventory) -> None:
    values = hub_values(plan)
    text = "\n".join(access_lines(values))
    for profile in hub_settings(plan)["userServers"]["profiles"]:
        who = ", ".join(profile["groups"]) if profile.get("groups") else "everyone"
        assert f"    {profile['slug']}{' (default)' if profile.get('default') else ''}: " in text
        assert f"; for {who}" in text
    assert "NOT ENFORCED" not in text
    broken = copy.deepcopy(values)
    del broken["hub"]["extraConfig"]["20-profiles-by-group"]
    assert "GROUP RULES NOT ENFORCED" in "\n".join(access_lines(broken))
