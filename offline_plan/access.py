"""Who may log in to the hub and who is admin, read back from the Helm values the plan sends (what
the hub will enforce, not what the settings meant), for `./plan` and the pull-request review.

The rules are OAuthenticator 17.4.0's (tests/test_login.py runs them): with `manage_groups`, admin
groups also let their members in, admin is revoked at login for whoever is in none of them, and the
user's groups become exactly the provider's at each login and every 5 minutes (`enable_auth_state`).
"""

from __future__ import annotations

from typing import Any

from offline_plan.dask_access import dask_lines
from offline_plan.mock_engine import Inventory
from settings import OPENING_TRAITS

RELEASE = "kubernetes:helm.sh/v3:Release"


def _hub_values(inventory: Inventory) -> dict[str, Any] | None:
    for release in inventory.of_type(RELEASE):
        if release.inputs.get("chart") == "jupyterhub" and isinstance(release.inputs.get("values"), dict):
            return release.inputs["values"]
    return None


def _names(kind: str, entries: list[str]) -> str:
    return f"{kind} " + ", ".join(entries) if entries else ""


def access_lines(values: dict[str, Any]) -> list[str]:
    config = values["hub"]["config"]
    authenticator = config["JupyterHub"]["authenticator_class"]
    admin_users = (config.get("Authenticator") or {}).get("admin_users") or []
    if authenticator == "generic-oauth":
        rules = config["GenericOAuthenticator"]
        source = "ID token" if rules.get("userdata_from_id_token") else "userinfo"
        head = (
            f"OpenID Connect ({rules.get('login_service', 'identity provider')}, token endpoint "
            f"{rules['token_url']}); user name from claim `{rules['username_claim']}`, groups from "
            f"`{rules['auth_state_groups_key'].removeprefix('oauth_user.')}` ({source})"
        )
        allowed = [_names("groups", rules.get("allowed_groups") or [])]
        groups_from = "the identity provider's groups"
    elif authenticator == "github":
        rules = config["GitHubOAuthenticator"]
        head = "GitHub OAuth"
        organizations = rules.get("allowed_organizations") or []
        allowed = [
            _names("organizations", [o for o in organizations if ":" not in o]),
            _names("teams", [o for o in organizations if ":" in o]),
        ]
        groups_from = "the user's GitHub teams (org:team)"
    else:
        return [f"  authenticator {authenticator!r}: not one the program configures"]
    admin_groups = rules.get("admin_groups") or []
    admins = [_names("users", admin_users), _names("groups" if authenticator != "github" else "teams", admin_groups)]
    admins = [a for a in admins if a]
    opened = [k for k in OPENING_TRAITS if rules.get(k)]
    lines = [f"  login:  {head}"]
    if opened:
        who = "EVERYONE (" + ", ".join(opened) + ")"
    elif not any(allowed):
        who = "ONLY THE ADMINS (no allow rule: nobody else gets in)"
    else:
        who = "; ".join([a for a in allowed if a] + ["admins"])
    lines.append(f"  may log in: {who}")
    lines.append("  admins: " + ("; ".join(admins) if admins else "none"))
    if admin_groups:
        lines.append("          (admin is revoked at login for anyone neither listed nor in an admin group)")
    if rules.get("manage_groups"):
        refresh = "at each login and every 5 minutes" if rules.get("enable_auth_state") else "at each login"
        lines.append(f"  hub groups: {groups_from}, synced {refresh}")
    return lines + profile_lines(values)


def _memory(kubespawner_value: str | int) -> str:
    """KubeSpawner's memory form (2G: 2 GiB) as the settings write it (2Gi)."""
    if isinstance(kubespawner_value, str) and kubespawner_value[-1:] in ("K", "M", "G", "T"):
        return f"{kubespawner_value}i"
    return f"{kubespawner_value} bytes"


def profile_lines(values: dict[str, Any]) -> list[str]:
    """Which groups see which server profiles (hub_config/profiles_by_group.py enforces it at spawn)."""
    profiles = values["singleuser"].get("profileList") or []
    if not profiles:
        return ["  servers: one size for everyone (no profiles)"]
    enforced = "20-profiles-by-group" in (values["hub"].get("extraConfig") or {})
    lines = ["  profiles:" + ("" if enforced else " (GROUP RULES NOT ENFORCED: the hub snippet is missing)")]
    for profile in profiles:
        override = profile["kubespawner_override"]
        gpus = (override.get("extra_resource_limits") or {}).get("nvidia.com/gpu")
        size = f"{override['cpu_limit']:g} CPU, {_memory(override['mem_limit'])}" + (f", {gpus} GPU" if gpus else "")
        who = ", ".join(profile["allowed_groups"]) if profile.get("allowed_groups") else "everyone"
        default = " (default)" if profile.get("default") else ""
        pool = override.get("node_selector", {}).get("node-purpose", "user")
        writes = "; writes shared/" if override.get("service_account") == "jupyter-curator" else ""
        lines.append(f"    {profile['slug']}{default}: {size} on {pool} nodes{writes}; for {who}")
    return lines


def render_access(inventory: Inventory) -> str:
    values = _hub_values(inventory)
    if values is None:
        return f"Who may log in to '{inventory.stack}': (the hub's values are unknown in this preview)"
    lines = [f"Who may log in to '{inventory.stack}' (read from the hub's values):", *access_lines(values)]
    return "\n".join([*lines, *dask_lines(inventory, values)])
