"""Test-only matchers for the EventBridge event patterns and CloudWatch Logs filter patterns this project declares.

Neither function contains matching logic of its own: each hands the pattern to an independent, published engine, so
a test cannot share a mistake with the program that wrote the pattern. What each engine does faithfully, and what it
does not, decides what these functions accept.

EventBridge event patterns: `event_pattern_matches`
    Engine: LocalStack's Python port of AWS event-ruler (`localstack-core`, Apache-2.0), module
    `localstack.services.events.event_rule_engine`: `EventPatternCompiler` validates a pattern as PutRule does (same
    error texts: unknown operator, numeric operand that is not a number, a leaf that is not an array, empty array,
    ...), `EventRuleEngine` matches. LocalStack checks both against real AWS with snapshot tests. Chosen over moto's
    `moto.events.models.EventPattern` (no validation: a misspelt operator matches every event; arrays of objects never
    match) and the PyPI package `event-ruler` 0.3.0 (a wrapper of an early Go quamina: no numeric, prefix, cidr,
    wildcard or `$or`). AWS's own event-ruler is Java on Maven Central, which is not reachable here.
    Implemented: exact values, arrays in events (any element; arrays of objects are flattened), prefix, suffix,
    equals-ignore-case, anything-but (values, prefix, suffix, wildcard), numeric ranges (JSON numbers only), exists
    true/false, cidr (IPv4 and IPv6), `$or` at any depth, null and empty-string values.
    Known differences from AWS: `wildcard` makes `*` match one or more characters (AWS: zero or more) and does not
    implement `\\*` escapes (such a pattern never matches a literal asterisk); fields from different elements of one
    event array may satisfy one pattern (event-ruler's `rulesForJSONEvent` requires the same element); `true` in an
    event satisfies `numeric` (Python's bool is an int). Avoid those three in the project's patterns.
    The module imports one name from LocalStack's server runtime (`InvalidEventPatternException`, from the generated
    API module that pulls in the whole gateway); `_event_rule_engine` supplies that single exception class while the
    module loads, so only the base `localstack-core` wheel is needed.

CloudWatch Logs filter patterns: `filter_pattern_matches`
    No published offline engine implements the CloudWatch grammar beyond plain terms. Looked at: moto (only plain terms
    and one quoted phrase; every other form silently matches every event), the LocalStack community edition (matches
    every event; the real engine is in the closed LocalStack Pro), localemu and ministack (JSON selectors are match-all
    or single-clause with `&&`/`||` silently dropped), npm (nothing published), fakecloud (a Rust engine; crates.io
    is not reachable here and its PyPI package is only a client). So the engine is moto's
    `moto.logs.utils.EventMessageFilter` (moto, Apache-2.0), restricted to the two forms it implements as AWS
    documents them:
      * one double-quoted phrase, `"access denied"`: the event contains that exact text (case-sensitive);
      * plain alphanumeric terms separated by single spaces, the first starting with a letter (moto's own rule),
        `Failed login`: the event contains every term.
    Anything else (`?term`, `-term`, a quoted phrase mixed with terms, `{ JSON selector }`, `[space, delimited]`,
    `%regex%`, the empty pattern) raises `UnsupportedFilterPatternError` instead of returning moto's vacuous True.
    moto matches terms as substrings (`ERROR` also matches `ERRORS`); whether AWS does for part of a word was not
    verified, so keep test events free of look-alike words.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
from collections.abc import Mapping
from functools import cache
from typing import Any

__all__ = [
    "EVENT_ENVELOPE_FIELDS",
    "InvalidEventError",
    "InvalidEventPatternError",
    "PatternError",
    "UnsupportedFilterPatternError",
    "event_pattern_matches",
    "filter_pattern_matches",
]

# Fields TestEventPattern requires in an event (EventBridge API reference); an event without one of them is not an
# event EventBridge would ever deliver, and a non-match against it would prove nothing.
EVENT_ENVELOPE_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")

_ENGINE_MODULE = "localstack.services.events.event_rule_engine"
_ENGINE_RUNTIME_IMPORT = "localstack.aws.api.events"

_QUOTED_PHRASE = re.compile(r'"[^"\\]+"')
_PLAIN_TERMS = re.compile(r"[A-Za-z][A-Za-z0-9]*(?: [A-Za-z0-9]+)*")
# moto's own classes for the two forms above; anything else it would classify as "unsupported" and match everything.
_MOTO_FAITHFUL_FILTERS = frozenset({"QuotedTermFilterPattern", "SingleTermFilterPattern"})


class PatternError(ValueError):
    """A pattern or event these matchers refuse: the answer would not be AWS's."""


class InvalidEventPatternError(PatternError):
    """AWS would reject this event pattern (PutRule / TestEventPattern: InvalidEventPatternException)."""


class InvalidEventError(PatternError):
    """The event lacks a field every EventBridge event has, or is not JSON."""


class UnsupportedFilterPatternError(PatternError):
    """The filter pattern uses syntax no available offline engine implements faithfully."""


def event_pattern_matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether EventBridge would deliver `event` to a rule with `pattern`, per LocalStack's port of event-ruler.

    Raises InvalidEventPatternError for a pattern AWS would reject, and InvalidEventError for an event missing one of
    EVENT_ENVELOPE_FIELDS.
    """
    # Both sides go through JSON, as they do on the way to AWS: tuples become arrays, non-JSON values fail here.
    try:
        pattern_json = json.loads(json.dumps(pattern))
        event_json = json.loads(json.dumps(event))
    except (TypeError, ValueError) as error:
        raise PatternError(f"pattern and event must be JSON-serialisable: {error}") from error
    missing = [name for name in EVENT_ENVELOPE_FIELDS if name not in event_json]
    if missing:
        raise InvalidEventError(f"event lacks the EventBridge envelope field(s) {missing}")

    engine = _event_rule_engine()
    try:
        compiled = engine.EventPatternCompiler().compile_event_pattern(pattern_json)
    except engine.InvalidEventPatternException as error:
        raise InvalidEventPatternError(str(error)) from error
    return bool(engine.EventRuleEngine().evaluate_pattern_on_event(compiled, event_json))


def filter_pattern_matches(pattern: str, log_event: str) -> bool:
    """Whether a CloudWatch Logs metric/subscription filter with `pattern` matches the raw message `log_event`.

    Only a single quoted phrase or plain alphanumeric terms are accepted (see the module docstring); every other
    form raises UnsupportedFilterPatternError.
    """
    if not (_QUOTED_PHRASE.fullmatch(pattern) or _PLAIN_TERMS.fullmatch(pattern)):
        raise UnsupportedFilterPatternError(
            f"filter pattern {pattern!r} is outside the subset with a faithful offline engine: one double-quoted "
            'phrase ("access denied") or plain alphanumeric terms separated by single spaces (Failed login). '
            "?term, -term, mixed forms, { JSON selectors }, [space-delimited] and %regex% patterns have no "
            "faithful implementation available (moto would match every event)."
        )
    from moto.logs.utils import EventMessageFilter

    event_filter = EventMessageFilter(pattern)
    kind = type(event_filter.filter_type).__name__
    if kind not in _MOTO_FAITHFUL_FILTERS:  # a moto release that classifies differently must not pass silently
        raise UnsupportedFilterPatternError(f"moto classified {pattern!r} as {kind}, not as a term or phrase pattern")
    return bool(event_filter.matches(log_event))


@cache
def _event_rule_engine() -> types.ModuleType:
    """Import LocalStack's event rule engine without its server runtime."""
    if _ENGINE_MODULE in sys.modules or _ENGINE_RUNTIME_IMPORT in sys.modules:
        return importlib.import_module(_ENGINE_MODULE)

    class InvalidEventPatternException(Exception):  # noqa: N818  (LocalStack's name, looked up by the module)
        """Stand-in for localstack.aws.api.events.InvalidEventPatternException, the module's only runtime import."""

    runtime = types.ModuleType(_ENGINE_RUNTIME_IMPORT)
    runtime.InvalidEventPatternException = InvalidEventPatternException  # type: ignore[attr-defined]
    sys.modules[_ENGINE_RUNTIME_IMPORT] = runtime
    try:
        return importlib.import_module(_ENGINE_MODULE)
    except ImportError as error:
        raise ImportError(
            f"{_ENGINE_MODULE} not importable: install the pinned localstack-core (requirements-dev.txt)"
        ) from error
    finally:
        del sys.modules[_ENGINE_RUNTIME_IMPORT]
