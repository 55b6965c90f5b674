"""Reading an OpenAPI 3.1 document as a client would: JSON Schema 2020-12 validators that resolve
`#/components/schemas/...`, and walks over every schema, property, parameter and example in it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

#: RFC 3339 section 5.6 `date-time`: a full date, `T`, a time with optional fraction, and an offset.
RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
FULL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
SPEC_URI = "urn:coachco2:openapi"

#: The formats checked, with date-time held to RFC 3339 (jsonschema leaves it unchecked without an extra
#: package).
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # a real day and time
    return True


@FORMATS.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not FULL_DATE.match(value):
        return False
    date.fromisoformat(value)
    return True


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value) is not None


class Contract:
    """An OpenAPI document, with validators for its schemas."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        """A validator of `schema` whose `#/components/...` references point into the document."""
        return Draft202012Validator(_rebase(schema), registry=self._registry, format_checker=FORMATS)

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
            for error in self.validator(schema).iter_errors(instance)
        ]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """`schema`, or the component it references."""
        seen = 0
        while "$ref" in schema and seen < 20:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
            seen += 1
        return schema

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, operations in self.spec.get("paths", {}).items():
            for method, operation in operations.items():
                if method in ("get", "put", "post", "patch", "delete", "head", "options"):
                    yield method.upper(), path, operation


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                f"{SPEC_URI}{value}"
                if key == "$ref" and isinstance(value, str) and value.startswith("#")
                else _rebase(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rebase(item) for item in node]
    return node


@dataclass(frozen=True)
class Example:
    where: str
    schema: dict[str, Any]
    value: Any


#: Keywords whose values are data, not schemas: a walk over schemas does not go into them.
DATA_KEYWORDS = {"examples", "example", "default", "const", "enum"}


def subschemas(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """`schema` and every schema inside it (not following references), with where each is."""
    if not isinstance(schema, dict):
        return
    yield where, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from subschemas(sub, f"{where}.{name}")
    for key in ("items", "additionalProperties", "not", "propertyNames", "contains"):
        if isinstance(schema.get(key), dict):
            yield from subschemas(schema[key], f"{where}[{key}]")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key) or []):
            yield from subschemas(sub, f"{where}[{key}/{i}]")


def examples(contract: Contract) -> Iterator[Example]:
    """Every example the document gives: in component schemas (and their properties), parameters, request
    bodies and answers."""
    for name, component in contract.schemas.items():
        for where, schema in subschemas(component, f"#/components/schemas/{name}"):
            yield from _schema_examples(where, schema)
    for method, path, operation in contract.operations():
        at = f"{method} {path}"
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            where = f"{at} parameter {parameter['name']}"
            for sub_where, sub in subschemas(schema, where):
                yield from _schema_examples(sub_where, sub)
            yield from _media_examples(where, schema, parameter)
        bodies = [("request body", operation.get("requestBody", {}))]
        bodies += [(f"answer {status}", answer) for status, answer in operation.get("responses", {}).items()]
        for what, body in bodies:
            for media, content in (body.get("content") or {}).items():
                schema = content.get("schema", {})
                where = f"{at} {what} {media}"
                for sub_where, sub in subschemas(schema, where):
                    yield from _schema_examples(sub_where, sub)
                yield from _media_examples(where, schema, content)


def _schema_examples(where: str, schema: dict[str, Any]) -> Iterator[Example]:
    if isinstance(schema.get("examples"), list):
        for i, value in enumerate(schema["examples"]):
            yield Example(f"{where} examples/{i}", schema, value)
    if "example" in schema:
        yield Example(f"{where} example", schema, schema["example"])


def _media_examples(where: str, schema: dict[str, Any], holder: dict[str, Any]) -> Iterator[Example]:
    """The `example` / `examples` of a parameter or a media type (the latter a map of Example Objects)."""
    if "example" in holder:
        yield Example(f"{where} example", schema, holder["example"])
    for key, example in (holder.get("examples") or {}).items():
        if isinstance(example, dict) and "value" in example:
            yield Example(f"{where} examples/{key}", schema, example["value"])
