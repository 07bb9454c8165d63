"""The RiskEvent schemas, compiled once, and their verdicts as (JSON path, message) pairs.

The files in schemas/ are the single source of truth: the plugin and the emulator both load
them from here. Validators are built once per process (building one costs ~100x a check).
jsonschema, the judge, is imported only when an instance fails the fast check (or for the
reference validator): spooling valid lines never loads it (about 45 ms of every start).
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

import fastjsonschema
from rfc3339_validator import validate_rfc3339  # type: ignore[import-untyped]

from okta_risk_output.errors import SchemaError
from okta_risk_output.intake.code_cache import cached_code
from okta_risk_output.net import dotted_quad
from okta_risk_output.timestamps import is_normal_utc

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator as JsonSchemaValidator

__all__ = [
    "EVENT_SCHEMA",
    "REQUEST_SCHEMA",
    "SchemaError",
    "event_validator",
    "inline_refs",
    "load_schema",
    "request_validator",
    "schema_text",
]

EVENT_SCHEMA = "risk_event.schema.json"
REQUEST_SCHEMA = "risk_events_request.schema.json"
_SCHEMAS = (EVENT_SCHEMA, REQUEST_SCHEMA)

_MESSAGE_ALPHABET = "letters, digits, space, '.', '-' and '_'"


def schema_text(name: str) -> str:
    """The schema file exactly as shipped."""
    return resources.files("okta_risk_output").joinpath("schemas").joinpath(name).read_text("utf-8")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded


class Validator:
    """A compiled validator for one schema, with format checks (ip, date-time) switched on.

    Two engines, one verdict. A valid instance (nearly every one) is recognised by code
    that fastjsonschema generates from an inlined copy of the schema ($refs replaced by
    what they point to), about twenty times faster than jsonschema; an invalid one is
    explained by jsonschema, the judge, with every error and its path (built on first
    need). The fast path's format checks are jsonschema's, written out below (a test holds
    them to jsonschema's own). tests/property/test_validation_differential.py
    checks that both engines give the same verdict. `reference=True` builds the plain
    jsonschema one over the schema files as they are, which that test compares against.
    """

    def __init__(self, name: str, *, reference: bool = False) -> None:
        self._name = name
        self._reference = reference
        self._fast: Callable[[Any], Any] | None = None
        self._judge: JsonSchemaValidator | None = None
        if not reference:
            self._fast = _compile_fast(inline_refs(name))

    def errors(self, instance: Any) -> list[SchemaError]:
        """Every reason the instance is invalid, sorted by path; empty when it is valid."""
        if self._fast is not None and self._fast_says_valid(instance):
            return []
        # A set: a bad timestamp fails both `format` and `pattern`, explained the same way.
        found = {_explain(e) for e in self.judge().iter_errors(instance)}
        return sorted(found, key=lambda e: (e.path, e.message))

    def is_valid(self, instance: Any) -> bool:
        if self._fast is not None:
            return self._fast_says_valid(instance)
        return bool(self.judge().is_valid(instance))

    def judge(self) -> JsonSchemaValidator:
        """jsonschema's validator for this schema, built on first use (inlined $refs; the
        reference one resolves them through a registry of the schema files)."""
        if self._judge is None:
            import jsonschema
            from referencing import Registry, Resource

            cls = jsonschema.validators.validator_for(load_schema(self._name))
            if self._reference:
                registry: Registry[Any] = Registry().with_resources(
                    (load_schema(n)["$id"], Resource.from_contents(load_schema(n)))
                    for n in (EVENT_SCHEMA, REQUEST_SCHEMA)
                )
                schema = load_schema(self._name)
            else:
                registry = Registry()
                schema = inline_refs(self._name)
            self._judge = cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
        return self._judge

    def _fast_says_valid(self, instance: Any) -> bool:
        assert self._fast is not None
        try:
            self._fast(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True


def _compile_fast(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """fastjsonschema's code for the inlined schema, compiled once and kept between runs
    (code_cache.py). It speaks draft 7; nothing this schema uses differs from 2020-12 there
    once the $refs are inlined."""
    draft7 = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
    definition = {"$schema": "http://json-schema.org/draft-07/schema#", **draft7}
    formats = {"ipv4": is_ipv4, "ipv6": is_ipv6, "date-time": is_date_time}
    key = f"fastjsonschema {fastjsonschema.VERSION}\n{json.dumps(definition, sort_keys=True)}"

    def build() -> str:
        code: str = fastjsonschema.compile_to_code(definition, formats=formats, use_default=False)
        return code

    namespace: dict[str, Any] = {}
    exec(cached_code("risk-event-validator", key, build), namespace)  # noqa: S102 - our own
    # The generated module defines one entry point, named for the schema's scope.
    check = namespace[_ENTRY]
    return functools.partial(check, custom_formats=formats)


_ENTRY = "validate"
"""The name fastjsonschema gives the validator of a schema without an $id."""


# The three format checks, as jsonschema's FORMAT_CHECKER makes them (jsonschema/_format.py:
# the same calls, the same exception meaning "no"), written out so that the fast path needs
# no jsonschema. tests/unit/test_schema.py holds them to jsonschema's own on edge cases; the
# differential test compares the whole verdicts.
def is_ipv4(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if dotted_quad(value) is not None:  # the texts IPv4Address accepts, matched at once
        return True
    try:
        return bool(ipaddress.IPv4Address(value))
    except ipaddress.AddressValueError:
        return False


def is_ipv6(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        address = ipaddress.IPv6Address(value)
    except ipaddress.AddressValueError:
        return False
    return not getattr(address, "scope_id", "")


def is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    # Nearly every value is in the one form normalisation writes: one match and a cached
    # calendar give the same verdict (a day that exists, a time of day) at a third the cost.
    normal = is_normal_utc(value)
    if normal is not None:
        return normal
    return bool(validate_rfc3339(value.upper()))


def inline_refs(name: str) -> dict[str, Any]:
    """The schema with every $ref (local "#/$defs/..." or another schema file) inlined."""
    schemas = {load_schema(n)["$id"].rsplit("/", 1)[-1]: load_schema(n) for n in _SCHEMAS}

    def resolve(node: Any, root: dict[str, Any]) -> Any:
        if isinstance(node, list):
            return [resolve(item, root) for item in node]
        if not isinstance(node, dict):
            return node
        rest = {k: resolve(v, root) for k, v in node.items() if k not in ("$ref", "$defs")}
        ref = node.get("$ref")
        if ref is None:
            return rest
        if ref.startswith("#/$defs/"):
            target = resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
        else:
            other = schemas[ref]
            target = resolve(other, other)
        target = {k: v for k, v in target.items() if k not in ("$schema", "$id")}
        if set(target) & set(rest):
            return {**rest, "allOf": [*rest.get("allOf", []), target]}
        return {**target, **rest}

    inlined: dict[str, Any] = resolve(load_schema(name), load_schema(name))
    return inlined


@functools.cache
def event_validator() -> Validator:
    return Validator(EVENT_SCHEMA)


@functools.cache
def request_validator() -> Validator:
    return Validator(REQUEST_SCHEMA)


def _explain(error: ValidationError) -> SchemaError:
    """Turn jsonschema's message into one a person fixing their pipeline can act on."""
    path = error.json_path
    field = path.rsplit(".", 1)[-1]
    # Typed loosely by jsonschema; here they are the JSON values the keyword looked at.
    instance: Any = error.instance
    schema: Any = error.schema
    if error.validator == "anyOf" and field == "ip":
        text = (
            f"{_short(instance)} is not an IPv4 or IPv6 address "
            "(no prefix length, no zone id, no leading zeros)"
        )
    elif error.validator == "pattern" and field == "message":
        bad = sorted({c for c in instance if not (c.isascii() and (c.isalnum() or c in " .-_"))})
        shown = ", ".join(repr(c) for c in bad[:5])
        text = f"message may contain only {_MESSAGE_ALPHABET}; found {shown}"
    elif error.validator in ("pattern", "format") and field in ("timestamp", "expiresAt"):
        text = f"{_short(instance)} is not a UTC date-time like 2024-01-31T12:00:00.000Z"
    elif error.validator == "maxLength" and field == "message":
        text = f"message is {len(instance)} characters long; at most 512 are allowed"
    elif error.validator in ("maxItems", "minItems"):
        limit = error.validator_value
        bound = "at most" if error.validator == "maxItems" else "at least"
        text = f"has {len(instance)} items; {bound} {limit} allowed"
    elif error.validator == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {})))
        text = f"{error.message}; allowed here: {allowed}"
    elif error.validator == "enum" and field == "riskLevel":
        text = f"riskLevel {_short(instance)} is not one of HIGH, MEDIUM, LOW"
    else:
        text = error.message
    return SchemaError(path=path, message=text)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
