"""Each Helm release's values against its chart version's own values schema, as Helm checks them at
install: the values coalesced over the chart's defaults (`chartutil.ToRenderValues`: `CoalesceValues`,
then `ValidateAgainstSchema`), with the draft the schema declares.

The chart data is carried in `data/charts/<chart>-<version>/`: `values.yaml` (the defaults) and, when the
chart ships one, `values.schema.json`, each listed with its sha256 in that folder's SOURCE.md (which also
says where it was read). The plan and the tests use this one loader.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from offline_plan.mock_engine import REDACTED, ROOT, Recorded
from policies.checklist import UNKNOWN

CHARTS = ROOT / "data" / "charts"
PLACEHOLDERS = frozenset({REDACTED, UNKNOWN})
"""What the plan's inventory holds instead of a secret or a value the engine does not know yet."""
# What the schema says about a string's content: the plan cannot check it on a placeholder (the real
# string is a secret or not known yet). Its type it can: a placeholder where the schema wants an object
# or a number stands for a value that is no string, which the plan cannot check, so it fails.
_STRING_CONTENT = frozenset({"pattern", "format", "enum", "const", "minLength", "maxLength"})
_HASH_LINE = re.compile(r"^\s+([0-9a-f]{64})\s+(\S+)$", re.M)


class ChartDataError(Exception):
    """The chart version has no carried data, or the data does not match its recorded sha256."""


@dataclass(frozen=True)
class ChartData:
    name: str
    version: str
    folder: Path
    defaults: dict[str, Any]
    schema: dict[str, Any] | None
    """None: the chart ships no values schema (Helm checks nothing)."""

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class SchemaProblem:
    path: str
    """JSON path of the refused value in the coalesced values (`$.singleuser.uid`)."""
    message: str
    """The schema validator's message."""
    keys: tuple[str | int, ...]
    """The same path as keys, to find the value in the program's own values."""


def recorded_hashes(folder: Path) -> dict[str, str]:
    """File name -> sha256, as the folder's SOURCE.md records them (indented `<sha256>  <name>` lines)."""
    note = folder / "SOURCE.md"
    text = note.read_text() if note.is_file() else ""
    return {name: digest for digest, name in _HASH_LINE.findall(text)}


@cache
def chart_data(name: str, version: str) -> ChartData:
    """The carried defaults and schema of one chart version, checked against their recorded sha256."""
    folder = CHARTS / f"{name}-{version}"
    shown = folder.relative_to(ROOT)
    if not (folder / "values.yaml").is_file():
        raise ChartDataError(
            f"no data carried for chart {name} {version}: add {shown}/ with the chart's values.yaml (and its "
            "values.schema.json if it ships one) and a SOURCE.md giving their source and sha256 "
            f"(data/charts/*/SOURCE.md show how), or use a chart version that has them"
        )
    hashes = recorded_hashes(folder)
    files = ["values.yaml"] + (["values.schema.json"] if (folder / "values.schema.json").is_file() else [])
    for file in files:
        digest = hashlib.sha256((folder / file).read_bytes()).hexdigest()
        if hashes.get(file) != digest:
            raise ChartDataError(
                f"{shown}/{file} has sha256 {digest}, but {shown}/SOURCE.md records "
                f"{hashes.get(file, 'none')}: restore the file from the source the note names, or record the "
                "new source and hash"
            )
    schema = json.loads((folder / "values.schema.json").read_text()) if len(files) == 2 else None
    return ChartData(name, version, folder, yaml.safe_load((folder / "values.yaml").read_text()) or {}, schema)


def coalesce(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's `CoalesceValues` for one chart (chartutil/coalesce.go): the release's values win; tables
    merge; a null in the values removes the key the defaults have; a table never merges with a non-table
    (the release's value stays, Helm only warns)."""
    merged: dict[str, Any] = copy.deepcopy(dict(values))
    for key, default in defaults.items():
        if key not in merged:
            merged[key] = copy.deepcopy(default)
        elif merged[key] is None:
            del merged[key]
        elif isinstance(merged[key], dict) and isinstance(default, dict):
            merged[key] = coalesce(merged[key], default)
    return merged


def _wanted_types(schema: Any) -> str:
    wanted = schema.get("type") if isinstance(schema, dict) else None
    return "/".join(wanted) if isinstance(wanted, list) else str(wanted)


def schema_problems(chart: ChartData, values: Any) -> list[SchemaProblem]:
    """What the chart's schema refuses in `values` merged over its defaults ([] without a schema).

    A placeholder (a redacted secret, a value not known yet) passes where the schema wants a string,
    whatever it says of the string's content; anywhere else it is refused (the plan cannot check it)."""
    if chart.schema is None:
        return []
    validator_class = jsonschema.validators.validator_for(chart.schema, default=jsonschema.Draft7Validator)
    validator = validator_class(chart.schema)
    problems = []
    # Values that are no table (a whole secret) are checked as they are: the schema wants an object.
    document = coalesce(values, chart.defaults) if isinstance(values, Mapping) else values
    for error in validator.iter_errors(document):
        if isinstance(error.instance, str) and error.instance in PLACEHOLDERS:
            if error.validator in _STRING_CONTENT:
                continue
            if error.validator == "type":
                kind = "a redacted secret" if error.instance == REDACTED else "a value not known yet"
                message = (
                    f"{error.instance!r} ({kind}) where the schema wants {_wanted_types(error.schema)}: the plan "
                    "cannot check it; pass the value itself, with only its string leaves secret"
                )
                problems.append(SchemaProblem(error.json_path, message, tuple(error.absolute_path)))
                continue
        problems.append(SchemaProblem(error.json_path, error.message, tuple(error.absolute_path)))
    return sorted(problems, key=lambda p: p.path)


def keys_not_in_defaults(
    values: Mapping[str, Any], defaults: Mapping[str, Any], free_form: Iterable[str] = (), path: str = ""
) -> list[str]:
    """Keys of `values` that the chart's defaults do not have: for a chart without a schema, where the
    templates read only the keys they know and ignore the rest. A default that is an empty table
    (`nodeSelector: {}`) and the tables named in `free_form` (dotted paths whose keys the templates range
    over) take any key."""
    free = set(free_form)
    unknown = []
    for key, value in values.items():
        dotted = f"{path}{key}"
        if key not in defaults:
            unknown.append(dotted)
        elif isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key] and dotted not in free:
            unknown += keys_not_in_defaults(value, defaults[key], free, f"{dotted}.")
    return unknown


RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"
HELM_INSTALLS = (RELEASE, CHART)
"""What installs a chart: a Helm release, or a v4 Chart (Pulumi registers each object it renders)."""


@dataclass(frozen=True)
class ReleaseValues:
    """One release of the plan's inventory and what its chart's data says of its values."""

    release: str
    chart: ChartData
    values: Any
    problems: list[SchemaProblem]

    @property
    def summary(self) -> str:
        """The plan's line for this release."""
        if self.values == UNKNOWN:
            return "values not known in this preview (they wait on other resources): the full plan checks them"
        if self.chart.schema is None:
            return (
                f"{self.chart.label} ships no values schema: not validated (tests check each key the program "
                f"sets against {self.chart.folder.relative_to(ROOT)}/values.yaml)"
            )
        if self.problems:
            return f"values refused by {self.chart.label} schema ({len(self.problems)} problems)"
        return f"values validated against {self.chart.label} schema"


def release_values(release: Recorded) -> ReleaseValues:
    """Check one `kubernetes:helm.sh/v3:Release` of the inventory (ChartDataError: no data carried)."""
    chart = chart_data(str(release.inputs.get("chart")), str(release.inputs.get("version")))
    values = release.inputs.get("values", {})
    problems = [] if values == UNKNOWN else schema_problems(chart, values)
    return ReleaseValues(str(release.inputs.get("name", release.name)), chart, values, problems)
