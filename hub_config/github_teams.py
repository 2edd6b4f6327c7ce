# hub.extraConfig: GitHub teams become JupyterHub groups (auth `github`).
# OAuthenticator 17.4.0 has no GitHub groups of its own: with manage_groups on, a user's groups
# are what `auth_state_groups_key` returns, and the teams are in the auth state only with
# `populate_teams_in_auth_state` (GitHub's GET /user/teams, read:org scope). A callable cannot be
# written in YAML, hence this snippet; the rest of the GitHub settings are in hub.config.


def github_team_groups(auth_state):
    """`org:team-slug` for each of the user's teams (GitHub's `team-full` objects: `slug` and
    `organization.login` are required fields), lower-cased as the program writes adminTeams: GitHub
    returns the organization's login in its own case, and team slugs are lower-case already."""
    teams = (auth_state or {}).get("teams") or []
    return sorted({f"{team['organization']['login']}:{team['slug']}".lower() for team in teams})


c.GitHubOAuthenticator.auth_state_groups_key = github_team_groups  # type: ignore[name-defined]  # noqa: F821
