"""The contract describes every answer: each JSON answer of a 2xx status has a typed schema, all the way
down. An object must name its properties, or be a map whose values are typed; `{}`, `{"type": "object"}`
and `additionalProperties: true` without properties say nothing a client can use."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

# Files a route hands over as they are (described by their media type, not by a schema).
FILE_TYPES = {
    "text/html",
    "application/pdf",
    "application/zip",
    "application/gpx+xml",
    "text/csv",
    "application/x-ndjson",
}

#: Answers typed by a document of their own rather than here, with where it is.
DOCUMENTED_ELSEWHERE = {
    # The complete export is a file to keep; its JSON Schema is served at /v1/me/export/schema.
    ("GET", "/v1/me/export"): "GET /v1/me/export/schema",
    # That schema is a JSON Schema document: its `properties` are schemas of any shape.
    ("GET", "/v1/me/export/schema"): "JSON Schema draft 2020-12",
}

#: Parts of the OpenPATH app's answers that are e-mission's own documents, passed as the app reads them
#: (docs/openpath.md): entries of the phone's data streams, the timeline and the dashboard's metrics.
OPENPATH_DOCUMENTS = {
    "UsercacheGetOut.server_to_phone[]",
    "TimelineOut.timeline[]",
    "FindEntriesOut.phone_data[]",
    "MetricsOut.distance[]",
    "MetricsOut.duration[]",
    "MetricsOut.count[]",
    "MetricsOut.footprint[]",
}


def untyped(schema: dict[str, Any]) -> bool:
    """True for a schema that says nothing by itself: empty, or an object that names nothing and whose
    values are not typed."""
    if "$ref" in schema or schema.get("properties") or schema.get("items") or schema.get("enum"):
        return False
    if "const" in schema:
        return False
    if any(key in schema for key in ("anyOf", "oneOf", "allOf")):
        return all(untyped(part) for key in ("anyOf", "oneOf", "allOf") for part in schema.get(key, []))
    values = schema.get("additionalProperties")
    if isinstance(values, dict) and values and not untyped(values):
        return False
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(kind in (None, "object") for kind in kinds) and all(
        kind in (None, "object", "null") for kind in kinds
    )


def untyped_parts(spec: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    """Where inside `schema` (following references) something is untyped."""
    components = spec.get("components", {}).get("schemas", {})
    found: list[str] = []
    seen: set[str] = set()

    def walk(node: dict[str, Any], at: str) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                walk(components[name], name)
            return
        if untyped(node):
            found.append(at)
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for part in node.get(key, []):
                walk(part, at)
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, f"{at}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{at}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{at}{{}}")

    walk(schema, where)
    return found


def untyped_answers(spec: dict[str, Any]) -> list[str]:
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                if status == "204" and answer.get("content"):
                    found.append(f"{method.upper()} {path} {status} has content")
                    continue
                if (method.upper(), path) in DOCUMENTED_ELSEWHERE:
                    continue
                for media, content in (answer.get("content") or {}).items():
                    if media in FILE_TYPES:
                        continue
                    parts = untyped_parts(spec, content.get("schema", {}), "(answer)")
                    found += [
                        f"{method.upper()} {path} {status} {media} {part}"
                        for part in parts
                        if part not in OPENPATH_DOCUMENTS
                    ]
    return found


def test_the_check_sees_an_untyped_answer() -> None:
    spec: dict[str, Any] = {
        "paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {}}}}}}}}
    }
    assert untyped_answers(spec) == ["GET /x 200 application/json (answer)"]
    no_content = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    assert untyped_answers({"paths": {"/x": {"delete": {"responses": {"204": no_content}}}}}) == [
        "DELETE /x 204 has content"
    ]
    assert untyped({"type": "object", "additionalProperties": True})
    assert untyped({"type": ["object", "null"]})
    assert not untyped({"$ref": "#/components/schemas/TripOut"})
    assert not untyped({"type": "object", "additionalProperties": {"type": "number"}})
    assert untyped({"type": "object", "additionalProperties": {}})
    # Deeper down, behind a reference: a map of anything, an object that names nothing.
    nested = {
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}
                        }
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "Out": {
                    "type": "object",
                    "properties": {
                        "margin": {"type": "object", "additionalProperties": True},
                        "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                    },
                },
                "Feature": {"type": "object", "properties": {"geometry": {"type": "object"}}},
            }
        },
    }
    assert untyped_answers(nested) == [
        "GET /x 200 application/json Out.margin",
        "GET /x 200 application/json Feature.geometry",
    ]


async def test_every_json_answer_has_a_typed_schema(app: FastAPI) -> None:
    assert untyped_answers(app.openapi()) == []


async def test_no_two_schemas_share_a_name(app: FastAPI) -> None:
    # FastAPI renames both to their module paths (app__x__schemas__Name) when two models share a name.
    assert [name for name in app.openapi()["components"]["schemas"] if "__" in name] == []
