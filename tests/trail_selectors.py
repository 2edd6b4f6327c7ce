"""Test-only model of what a CloudTrail trail records, and a check that its selectors are what the API accepts.

No offline engine applies CloudTrail event selectors (moto's cloudtrail backend stores them and never filters an
event; LocalStack's CloudTrail is in the closed Pro edition), so `trail_records` follows the CloudTrail API
reference, which the trail's inputs (pulumi-aws: `advancedEventSelectors[].fieldSelectors[]` with `field`,
`equals`, `startsWiths`, `endsWiths`, `notEquals`, `notStartsWiths`, `notEndsWiths`) map one to one:
  * a trail records an event if any of its selectors matches it ("if the event matches any event selector, the
    trail processes and logs the event. If the event doesn't match any event selector, the trail doesn't log the
    event" -- EventSelector);
  * a selector matches if every one of its field selectors does;
  * a field selector's Equals / StartsWith / EndsWith include the event when its field has one of the values
    (exact, first characters, last characters), the Not* operators exclude it; no wildcards;
  * a trail without selectors records every management event and no data event (the default);
  * a condition on a field the event does not have never holds (not modelled further: the program's
    selectors only read fields every event of their category has).
An event is the flat dict of the fields selectors read: eventCategory, eventSource, eventName, readOnly ("true" or
"false"), resources.type, resources.ARN (an S3 object's ARN is `arn:aws:s3:::<bucket>/<key>`).

`api_violations` puts the selectors in the API's own form and validates them with botocore's `ParamValidator`
against the PutEventSelectors input shape of botocore's CloudTrail service model (member names, types, required
members, minimum lengths), then the rules that model states only in prose (AdvancedFieldSelector, and the field
list pulumi-aws documents): Equals is the only operator for readOnly, eventCategory and resources.type;
eventCategory is required in every selector, resources.type in every data selector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

# The pulumi-aws input name of each operator, and the member of AdvancedFieldSelector it becomes.
OPERATORS = {
    "equals": "Equals",
    "startsWiths": "StartsWith",
    "endsWiths": "EndsWith",
    "notEquals": "NotEquals",
    "notStartsWiths": "NotStartsWith",
    "notEndsWiths": "NotEndsWith",
}
# pulumi-aws TrailAdvancedEventSelectorFieldSelectorArgs.field: "You can specify only the following values".
FIELDS = {"readOnly", "eventSource", "eventName", "eventCategory", "resources.type", "resources.ARN"}
EQUALS_ONLY = {"readOnly", "eventCategory", "resources.type"}


def _matches(operator: str, value: str | None, operands: Sequence[str]) -> bool:
    if value is None:
        return False
    if operator in ("equals", "notEquals"):
        return value in operands
    if operator in ("startsWiths", "notStartsWiths"):
        return any(value.startswith(o) for o in operands)
    return any(value.endswith(o) for o in operands)


def _field_matches(condition: Mapping[str, Any], event: Mapping[str, str]) -> bool:
    value = event.get(condition["field"])
    for operator, operands in condition.items():
        if operator == "field" or operands is None:
            continue
        if operator not in OPERATORS:
            raise ValueError(f"unknown operator {operator!r} in {condition}")
        hit = _matches(operator, value, operands)
        if operator.startswith("not") and (value is None or hit):
            return False
        if not operator.startswith("not") and not hit:
            return False
    return True


def trail_records(trail: Mapping[str, Any], event: Mapping[str, str]) -> bool:
    """Whether a trail with these inputs records `event`."""
    if trail.get("eventSelectors"):
        raise ValueError("basic event selectors are not modelled: the program uses advanced ones")
    selectors = trail.get("advancedEventSelectors") or []
    if not selectors:
        return event.get("eventCategory") == "Management"
    return any(all(_field_matches(c, event) for c in s["fieldSelectors"]) for s in selectors)


def api_form(trail: Mapping[str, Any]) -> dict[str, Any]:
    """The PutEventSelectors request the provider makes for these trail inputs."""
    selectors = []
    for selector in trail.get("advancedEventSelectors") or []:
        fields = [
            {"Field": c["field"], **{OPERATORS[k]: v for k, v in c.items() if k != "field" and v is not None}}
            for c in selector["fieldSelectors"]
        ]
        selectors.append({**({"Name": selector["name"]} if selector.get("name") else {}), "FieldSelectors": fields})
    return {"TrailName": trail["name"], "AdvancedEventSelectors": selectors}


def api_violations(trail: Mapping[str, Any]) -> list[str]:
    """What CloudTrail would refuse in the trail's selectors (empty: nothing)."""
    request = api_form(trail)
    shape = botocore.session.get_session().get_service_model("cloudtrail").operation_model("PutEventSelectors")
    report = ParamValidator().validate(request, shape.input_shape)
    problems = [report.generate_report()] if report.has_errors() else []
    for selector in request["AdvancedEventSelectors"]:
        fields = [f["Field"] for f in selector["FieldSelectors"]]
        problems += [f"unknown field {f!r}" for f in fields if f not in FIELDS]
        problems += [
            f"{f['Field']} takes only Equals"
            for f in selector["FieldSelectors"]
            if f["Field"] in EQUALS_ONLY and set(f) - {"Field", "Equals"}
        ]
        if "eventCategory" not in fields:
            problems.append(f"selector {selector.get('Name')!r} has no eventCategory")
        categories = {v for f in selector["FieldSelectors"] if f["Field"] == "eventCategory" for v in f["Equals"]}
        if "Data" in categories and "resources.type" not in fields:
            problems.append(f"data selector {selector.get('Name')!r} has no resources.type")
    return problems
