"""What a department group gives its members is taken back when they leave it (security review of
hub_config/department_group_overrides.py): JupyterHub 5.5.0 keeps a user's Spawner between starts and
apply_group_overrides only sets what an override names, so a trait the module does not put back stays on the
spawner of a user removed from the group until the hub restarts. tests/test_department_regroup.py proves it for
today's two traits; this check makes a third (a CPU limit, a node pool) fail until the module resets it too."""

from __future__ import annotations

import ast

from components.department_values import group_overrides
from hub_config import source
from settings.department import DepartmentSettings

EVERY_FIELD = {
    "groups": [
        {
            "group": "data-science",
            "homeSize": "50Gi",
            "maxServers": 5,
            "maxGpuServers": 1,
        }
    ]
}


def traits_the_module_puts_back() -> set[str]:
    (function,) = [
        node
        for node in ast.parse(source("department_group_overrides")).body
        if isinstance(node, ast.FunctionDef) and node.name == "department_group_overrides"
    ]
    return {
        target.attr
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "spawner"
    }


def test_every_trait_a_group_override_sets_is_put_back_before_the_next_start() -> None:
    department = DepartmentSettings.model_validate(EVERY_FIELD)
    overridden = {key for o in group_overrides(department).values() for key in o["spawner_override"]}
    assert overridden, "no override: the check has nothing to compare"
    assert overridden <= traits_the_module_puts_back(), overridden - traits_the_module_puts_back()
