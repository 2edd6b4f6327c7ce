"""Every Helm release's values against its chart version's own data (issue 22): `./plan` validates them
against the chart's values schema as Helm does at install, and stops on a value the schema refuses;
for a chart that ships no schema, every key the program sets is a key of the chart's defaults."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from components.gpu_device_plugin import device_plugin_values
from components.jupyterhub_values import deep_merge
from offline_plan.chart_values import (
    CHARTS,
    RELEASE,
    ChartDataError,
    chart_data,
    coalesce,
    keys_not_in_defaults,
    recorded_hashes,
    release_values,
    schema_problems,
)
from offline_plan.mock_engine import REDACTED, Inventory, Recorded
from policies.checklist import UNKNOWN
from tests.conftest import ROOT

WRONG_TYPE_STACK = ROOT / "tests" / "fixtures" / "stacks" / "Pulumi.dev-wrong-values-type.yaml"

# Tables of a schema-less chart whose keys are not chart keys: the templates range over them.
FREE_FORM = {
    # templates/deployment.yaml: `range $key, $value := .Values.extraArgs` -> `--<key>=<value>`, so its
    # keys are cluster-autoscaler flags (the defaults list three of them).
    "cluster-autoscaler": ["extraArgs"],
}


def hub_chart() -> Any:
    return chart_data("jupyterhub", "4.4.0")


# ---- ./plan, as a reviewer runs it ----------------------------------------------------------------


@pytest.fixture(scope="module")
def plan_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    """prod (all three charts) and dev with a wrong type in valuesOverrides, planned side by side."""
    folder = tmp_path_factory.mktemp("chart-values")
    jobs = {"prod": ("prod", None), "wrong-type": ("dev", WRONG_TYPE_STACK)}
    processes = {}
    for name, (stack, stack_file) in jobs.items():
        out = folder / name / f"plan-{stack}.json"
        command = [sys.executable, "-m", "offline_plan.plan", stack, "--out", str(out), "--quiet", "--no-reachability"]
        command += ["--stack-file", str(stack_file)] if stack_file else []
        processes[name] = (subprocess.Popen(command, cwd=ROOT, stdout=-1, stderr=-1, text=True), out, command)
    results = {}
    for name, (process, out, command) in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        results[name] = (subprocess.CompletedProcess(command, process.returncode, stdout, stderr), out)
    return results


def test_the_plan_says_how_each_releases_values_were_checked(plan_runs: dict[str, Any]) -> None:
    result, _ = plan_runs["prod"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "  jupyterhub: values validated against jupyterhub 4.4.0 schema\n" in result.stdout
    for chart, version in [("cluster-autoscaler", "9.59.0"), ("nvidia-device-plugin", "0.20.0")]:
        line = next(line for line in result.stdout.splitlines() if line.startswith(f"  {chart}: "))
        assert f"{chart} {version} ships no values schema: not validated" in line
        assert f"data/charts/{chart}-{version}/values.yaml" in line


def test_a_wrong_type_in_values_overrides_stops_the_plan_naming_chart_path_and_message(
    plan_runs: dict[str, Any],
) -> None:
    result, out = plan_runs["wrong-type"]
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "release 'jupyterhub': chart jupyterhub 4.4.0's values schema" in result.stderr
    assert (
        "  $.singleuser.startTimeout: '10m' is not of type 'integer', 'null' "
        "(set by jhub-eks:jupyterhub.valuesOverrides.singleuser.startTimeout)"
    ) in result.stderr
    assert not out.parent.exists()  # stopped before writing anything


# ---- Every stack: every release has its chart's data, and passes ----------------------------------


def test_every_release_of_every_stack_passes_its_charts_check(plans: dict[str, Inventory]) -> None:
    charts = set()
    for stack, inventory in plans.items():
        for release in inventory.of_type(RELEASE):
            checked = release_values(release)
            assert checked.problems == [], (stack, checked.release, checked.problems)
            charts.add((checked.chart.name, checked.chart.schema is not None))
    assert charts == {("jupyterhub", True), ("cluster-autoscaler", False), ("nvidia-device-plugin", False)}


def _no_schema_values(plans: dict[str, Inventory]) -> list[tuple[str, str, dict[str, Any]]]:
    """(chart, version, values) of each release whose chart ships no schema, in every stack, plus the
    device plugin with time-slicing (its `config` table; no stack uses it)."""
    found = []
    for inventory in plans.values():
        for release in inventory.of_type(RELEASE):
            if chart_data(release.inputs["chart"], release.inputs["version"]).schema is None:
                found.append((release.inputs["chart"], release.inputs["version"], release.inputs["values"]))
    found.append(("nvidia-device-plugin", "0.20.0", device_plugin_values(4)))
    return found


def test_every_key_set_for_a_chart_without_schema_is_a_key_of_its_defaults(plans: dict[str, Inventory]) -> None:
    checked = _no_schema_values(plans)
    assert {chart for chart, _, _ in checked} == {"cluster-autoscaler", "nvidia-device-plugin"}
    for chart, version, values in checked:
        defaults = chart_data(chart, version).defaults
        assert keys_not_in_defaults(values, defaults, FREE_FORM.get(chart, ())) == [], (chart, version)


@pytest.mark.parametrize(
    ("chart", "values", "misspelt"),
    [
        ("cluster-autoscaler", {"autoDiscovery": {"clusterNames": "x"}}, "autoDiscovery.clusterNames"),
        ("cluster-autoscaler", {"rbac": {"serviceAccount": {"anotations": {}}}}, "rbac.serviceAccount.anotations"),
        ("nvidia-device-plugin", {"nvidiaDriverRoots": "/"}, "nvidiaDriverRoots"),
    ],
)
def test_the_key_check_names_a_misspelt_key(chart: str, values: dict[str, Any], misspelt: str) -> None:
    data = chart_data(chart, {"cluster-autoscaler": "9.59.0", "nvidia-device-plugin": "0.20.0"}[chart])
    assert keys_not_in_defaults(values, data.defaults, FREE_FORM.get(chart, ())) == [misspelt]


def test_the_device_plugins_subchart_schema_does_not_apply() -> None:
    """The chart's one dependency (node-feature-discovery, `condition: nfd.enabled,gfd.enabled` in its
    Chart.yaml) ships a schema; Helm drops a disabled subchart, schema included, before validating. The
    condition takes the first path that holds a bool, in the values coalesced over the defaults."""
    for replicas in (1, 4):
        merged = coalesce(device_plugin_values(replicas), chart_data("nvidia-device-plugin", "0.20.0").defaults)
        condition = next(
            merged[table]["enabled"]
            for table in ("nfd", "gfd")
            if isinstance(merged.get(table, {}).get("enabled"), bool)
        )
        assert condition is False


# ---- The check itself: Helm's merge, placeholders, the carried data --------------------------------


def test_a_null_removes_the_charts_default_as_helm_does() -> None:
    """Helm deletes a key whose value is null (coalesce.go), then validates: no type error for it. A plain
    merge would keep the null and refuse it, a false failure."""
    values = {"hub": {"nodeSelector": None}}
    assert "nodeSelector" not in coalesce(values, hub_chart().defaults)["hub"]
    assert schema_problems(hub_chart(), values) == []
    validator = jsonschema.Draft7Validator(hub_chart().schema)
    assert list(validator.iter_errors(deep_merge(hub_chart().defaults, values)))  # what a plain merge gives
    # A null that removes a required key is refused, as Helm refuses it.
    assert [p.message for p in schema_problems(hub_chart(), {"cull": None})] == ["'cull' is a required property"]


def test_the_release_values_win_and_tables_merge() -> None:
    merged = coalesce({"a": {"b": 1}, "c": None, "d": 5}, {"a": {"b": 0, "e": 2}, "c": 3, "d": {"x": 1}})
    assert merged == {"a": {"b": 1, "e": 2}, "d": 5}


@pytest.mark.parametrize("placeholder", [REDACTED, UNKNOWN])
def test_placeholders_pass_where_the_schema_wants_a_string_and_fail_elsewhere(placeholder: str) -> None:
    chart = hub_chart()
    # Strings: any string, and one the schema constrains (hub.db.type is an enum).
    assert schema_problems(chart, {"proxy": {"secretToken": placeholder}}) == []
    assert schema_problems(chart, {"hub": {"db": {"type": placeholder}}}) == []
    # Not strings: the plan cannot check what the placeholder stands for.
    (problem,) = schema_problems(chart, {"singleuser": {"uid": placeholder}})
    assert problem.path == "$.singleuser.uid" and "wants integer/null" in problem.message
    (problem,) = schema_problems(chart, {"hub": {"config": placeholder}})
    assert problem.path == "$.hub.config" and "wants object" in problem.message
    assert [p.path for p in schema_problems(chart, placeholder)] == ["$"]


def test_a_release_without_carried_chart_data_is_refused_with_the_folder_to_add() -> None:
    release = Recorded(RELEASE, "r", "urn:r", "", True, {"chart": "cluster-autoscaler", "version": "9.58.0"})
    with pytest.raises(ChartDataError, match=r"add data/charts/cluster-autoscaler-9\.58\.0/ with the chart's values"):
        release_values(release)


def test_every_carried_chart_folder_loads_and_records_the_hash_of_each_file() -> None:
    folders = [f for f in CHARTS.iterdir() if f.is_dir() and (f / "values.yaml").is_file()]
    assert {f.name for f in folders} >= {"jupyterhub-4.4.0", "cluster-autoscaler-9.59.0", "nvidia-device-plugin-0.20.0"}
    for folder in folders:
        name, _, version = folder.name.rpartition("-")
        data = chart_data(name, version)
        assert set(recorded_hashes(folder)) >= {"values.yaml"} | ({"values.schema.json"} if data.schema else set())


def test_a_carried_file_that_differs_from_its_recorded_hash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(CHARTS / "cluster-autoscaler-9.59.0", tmp_path / "cluster-autoscaler-9.59.0")
    monkeypatch.setattr("offline_plan.chart_values.CHARTS", tmp_path)
    monkeypatch.setattr("offline_plan.chart_values.ROOT", tmp_path)
    load = chart_data.__wrapped__  # not the cached copy of the real folder
    assert load("cluster-autoscaler", "9.59.0").schema is None
    with (tmp_path / "cluster-autoscaler-9.59.0" / "values.yaml").open("a") as values:
        values.write("extra: true\n")
    with pytest.raises(ChartDataError, match=r"values\.yaml has sha256 .* but .*SOURCE\.md records"):
        load("cluster-autoscaler", "9.59.0")
