"""Reading the stack's Pulumi config into the validated settings, and turning pydantic's errors into
one line per problem that names the full config key, what is wrong and the fix."""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pydantic

from settings.base import PROJECT, SettingsError, _FieldError
from settings.regions import region_problem
from settings.root import SECRET_KEYS, Settings

_TOP_LEVEL_KEYS = {
    (field.alias or name) for name, field in Settings.model_fields.items() if name not in {"stack", "region", "secrets"}
}


# Namespaces a stack file may set: ours, the AWS provider's (read by the default provider the program
# configures through the stack), and the engine's own options (`pulumi:disable-default-providers`).
PROVIDER_NAMESPACE = "aws"
ENGINE_NAMESPACE = "pulumi"


@cache
def aws_provider_keys() -> frozenset[str]:
    """The keys the AWS provider reads from `aws:` config, from the provider SDK's own config module
    (pulumi_aws/config/vars.py, one `__config__.get*('<key>')` per key), read as text: importing the
    SDK to validate a stack file would cost seconds."""
    spec = importlib.util.find_spec("pulumi_aws")
    assert spec is not None and spec.submodule_search_locations, "pulumi_aws is a runtime requirement"
    source = (Path(next(iter(spec.submodule_search_locations))) / "config" / "vars.py").read_text()
    return frozenset(re.findall(r"__config__\.get\w*\('(\w+)'\)", source))


def _unknown_key(full_key: str, valid: set[str] | frozenset[str], namespace: str) -> str:
    key = full_key.partition(":")[2]
    close = difflib.get_close_matches(key, sorted(valid), n=3)
    hint = f" (did you mean {' or '.join(f'{namespace}:{c}' for c in close)}?)" if close else ""
    return f"{full_key}: unknown setting; remove it or fix its spelling{hint}; valid keys: {', '.join(sorted(valid))}"


def _parse_value(raw: Any) -> Any:
    """Pulumi passes structured config as JSON text and scalars as strings; pydantic coerces scalars."""
    if isinstance(raw, str) and raw[:1] in "{[":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def parse_settings(stack: str, config: Mapping[str, Any], secret_keys: set[str] | frozenset[str]) -> Settings:
    """Build the validated settings from a flat Pulumi config map (``"<namespace>:<key>" -> value``).

    Pure and offline: the Pulumi program, the offline plan and the tests all call this. Raises
    ``SettingsError`` with every problem found, one per line.
    """
    problems: list[str] = []
    document: dict[str, Any] = {"stack": stack, "secrets": {}}
    region = config.get("aws:region")
    if not region:
        problems.append("aws:region: not set; run `pulumi config set aws:region <region>`, e.g. eu-west-1")
    elif problem := region_problem(str(region), str(config.get("aws:skipRegionValidation")).lower() == "true"):
        problems.append(problem)
    else:
        document["region"] = region

    for full_key, raw in sorted(config.items()):
        namespace, _, key = full_key.partition(":")
        if namespace == PROVIDER_NAMESPACE and key not in aws_provider_keys():
            problems.append(_unknown_key(full_key, aws_provider_keys(), namespace))
        if namespace not in (PROJECT, PROVIDER_NAMESPACE, ENGINE_NAMESPACE):
            problems.append(
                f"{full_key}: unknown namespace {namespace!r}; this program reads {PROJECT}:<key> (or a key with "
                f"no namespace) and the AWS provider's {PROVIDER_NAMESPACE}:<key>"
            )
        if namespace != PROJECT:
            continue
        if key in SECRET_KEYS:
            if full_key not in secret_keys:
                problems.append(
                    f"{full_key}: is stored in plain text in the stack file; remove it and run "
                    f"`pulumi config set --secret {key} <value>`"
                )
            else:
                document["secrets"][to_snake(key)] = raw
        elif key in _TOP_LEVEL_KEYS and raw in ("", None):
            problems.append(f"{full_key}: has no value; give it its settings (docs/settings.md) or remove the key")
        elif key in _TOP_LEVEL_KEYS:
            document[key] = _parse_value(raw)
        else:
            problems.append(_unknown_key(full_key, _TOP_LEVEL_KEYS | set(SECRET_KEYS), PROJECT))

    if problems:
        raise SettingsError("\n".join(problems))
    try:
        return Settings.model_validate(document)
    except pydantic.ValidationError as exc:
        raise SettingsError(_format_errors(exc)) from None


def to_snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _format_errors(exc: pydantic.ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        context = error.get("ctx", {})
        inner = context.get("error")
        if isinstance(inner, _FieldError):
            loc.append(inner.field)
            message = inner.message
        else:
            message = _plain_message(error, [str(part) for part in error["loc"]])
        lines.append(f"{_key_path(loc)}: {message}")
    return "\n".join(lines)


def _key_path(loc: list[str]) -> str:
    if not loc:
        return f"{PROJECT}:<settings>"
    head, *rest = loc
    if head == "region":
        return "aws:region"
    path = f"{PROJECT}:{head}"
    for part in rest:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


def _keys_beside(loc: list[str]) -> list[str]:
    """The keys the stack file may write where `loc` ends: the fields (as spelt in the stack file) of the
    settings model that holds its last part, found by walking the model along the path."""
    model: Any = Settings
    for part in loc[:-1]:
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        if part.isdigit() or part not in fields:
            continue  # a list index or a dict key: the same model's items
        model = _model_in(fields[part].annotation)
        if model is None:
            return []
    return sorted(field.alias or name for name, field in model.model_fields.items())


def _field_at(loc: list[str]) -> Any:
    """The settings field `loc` names (for a list item: the list's field), or None."""
    model: Any = Settings
    field: Any = None
    for part in loc:
        fields = {f.alias or name: f for name, f in model.model_fields.items()} if model is not None else {}
        if part.isdigit() or part not in fields:
            continue
        field = fields[part]
        model = _model_in(field.annotation)
    return field


def _model_in(annotation: Any) -> type[pydantic.BaseModel] | None:
    """The settings model a field holds, directly or in an Optional, list or dict."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for inner in typing.get_args(annotation):
        if (model := _model_in(inner)) is not None:
            return model
    return None


# What a value of the wrong kind should have been, in the stack file's YAML, by pydantic's error type.
_EXPECTED = {
    "model_type": "a mapping of settings (`key: value` lines indented under it, or {key: value})",
    "model_attributes_type": "a mapping of settings (`key: value` lines indented under it, or {key: value})",
    "dict_type": "a mapping (`name: value` lines indented under it, or {name: value})",
    "list_type": "a list (`- item` lines indented under it, or [a, b])",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def _plain_message(error: Any, loc: list[str]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required but not set; add it to the stack file (see docs/settings.md)"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(loc[-1], _keys_beside(loc), n=3) if loc else []
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        return f"unknown setting; remove it or fix its spelling{hint} (see docs/settings.md)"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, got {error['input']!r} (see docs/settings.md)"
    if kind == "string_type":
        # YAML reads 1.30 as the number 1.3 and `on` as true: quoting keeps the text as written.
        return f"must be text, got {error['input']!r}; put it in quotes in the stack file"
    if kind == "literal_error":
        return f"{error['input']!r} is not allowed; {error['msg'].lower()}"
    if kind == "string_pattern_mismatch":
        # The field's own description says what the value is (docs/settings.md prints the same); the pattern alone
        # reads as noise to someone who wrote https://hub.example.org for a domain.
        field = _field_at(loc)
        sentence = re.split(r"(?<!e\.g)\.\s+(?=[A-Z`])", field.description)[0] if field and field.description else ""
        what = f" ({' '.join(sentence.split()).rstrip('.')})" if sentence else ""
        return f"{error['input']!r} has the wrong form{what}; it must match {error['ctx']['pattern']}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{message} (got {error['input']!r})" if kind != "value_error" else message


def load_settings() -> Settings:
    """Read the running stack's Pulumi config into validated settings (raises SettingsError)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    return parse_settings(pulumi.get_stack(), merged, frozenset(secret_keys))
