"""Announcements on the hub's pages, rendered by JupyterHub 5.5.0's own templates (share/jupyterhub/templates:
login.html, home.html and spawn.html set `announcement` from `announcement_<page>`, and page.html prints it with
`| safe`) in a Jinja environment configured as the hub's (`autoescape=True`), from the template_vars the stack's
values carry. Markup in a setting is shown, never run."""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from jupyterhub._data import DATA_FILES_PATH

from components.department_values import announcement_template_vars
from offline_plan.mock_engine import STACKS, Inventory
from settings.department import DepartmentSettings
from tests.test_jupyterhub import hub_values

TEMPLATES = Path(DATA_FILES_PATH) / "templates"
PAGES = {"login": "login.html", "home": "home.html", "spawn": "spawn.html"}
SCRIPT = "<script>alert('owned')</script><img src=x onerror=alert(1)>"


def render(page: str, template_vars: dict[str, Any]) -> str:
    """The page as JupyterHub's BaseHandler.render_template renders it: its template_namespace, with the
    configured template_vars merged in (handlers/base.py), through the hub's Jinja options (app.py)."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=ChainableUndefined)
    namespace = {
        "base_url": "/hub/",
        "prefix": "/",
        "user": SimpleNamespace(name="alice", admin=False, spawners={}, active=False, url="/user/alice/"),
        "login_url": "/hub/login",
        "logout_url": "/hub/logout",
        "login_service": "Example SSO",
        "authenticator_login_url": "/hub/oauth_login",
        "static_url": lambda path, **kwargs: f"/hub/static/{path}",
        "version_hash": "",
        "services": [],
        "parsed_scopes": {},
        "expanded_scopes": set(),
        "xsrf": "x",
        "xsrf_token": "x",
        **template_vars,
    }
    return environment.get_template(PAGES[page]).render(**namespace)


def announcement_div(page_html: str) -> str | None:
    match = re.search(r'<div class="container text-center announcement[^"]*">(.*?)</div>', page_html, re.S)
    return match.group(1) if match else None


def test_each_stacks_announcements_show_on_their_pages_only(plan: Inventory) -> None:
    template_vars = hub_values(plan)["hub"]["config"]["JupyterHub"].get("template_vars", {})
    department = yaml.safe_load((STACKS / f"Pulumi.{plan.stack}.yaml").read_text())["config"]["jhub-eks:department"]
    assert department["announcements"]
    for page in PAGES:
        shown = announcement_div(render(page, template_vars)) or ""
        for announcement in department["announcements"]:
            expected = html.escape(announcement["text"])
            assert (expected in shown) == (page in announcement.get("pages", list(PAGES))), (page, shown)
            if announcement.get("link") and page in announcement.get("pages", list(PAGES)):
                assert f'href="{announcement["link"]}"' in shown


def test_markup_in_a_setting_is_shown_escaped_never_run() -> None:
    settings = DepartmentSettings.model_validate({"announcements": [{"text": SCRIPT, "link": "https://example.org/x"}]})
    for page in PAGES:
        shown = announcement_div(render(page, announcement_template_vars(settings)))
        assert shown is not None
        assert "<script" not in shown and "<img" not in shown
        assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in shown
        assert '<a href="https://example.org/x" rel="noopener noreferrer">' in shown


def test_the_templates_print_the_announcement_unescaped_so_the_escaping_is_ours() -> None:
    """page.html's `| safe`: raw markup in template_vars would reach the browser as markup."""
    shown = announcement_div(render("login", {"announcement_login": SCRIPT}))
    assert shown is not None and "<script>alert('owned')</script>" in shown


@pytest.mark.parametrize("link", ['https://example.org/"><script>alert(1)</script>', "javascript:alert(1)"])
def test_a_link_that_could_break_out_or_run_script_is_refused(link: str) -> None:
    with pytest.raises(ValueError, match="link"):
        DepartmentSettings.model_validate({"announcements": [{"text": "hi", "link": link}]})
