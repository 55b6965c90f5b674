"""The contract describes every answer: each JSON answer of a 2xx status has a typed schema."""

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


def untyped(schema: dict[str, Any]) -> bool:
    """True for a schema that says nothing: empty, or an object that allows anything and names nothing."""
    if "$ref" in schema or schema.get("properties") or schema.get("items") or schema.get("enum"):
        return False
    if any(key in schema for key in ("anyOf", "oneOf", "allOf")):
        return all(untyped(part) for key in ("anyOf", "oneOf", "allOf") for part in schema.get(key, []))
    return schema.get("type") in (None, "object")


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
                for media, content in (answer.get("content") or {}).items():
                    if media in FILE_TYPES:
                        continue
                    if untyped(content.get("schema", {})):
                        found.append(f"{method.upper()} {path} {status} {media}")
    return found


def test_the_check_sees_an_untyped_answer() -> None:
    spec = {
        "paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {}}}}}}}}
    }
    assert untyped_answers(spec) == ["GET /x 200 application/json"]
    no_content = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    assert untyped_answers({"paths": {"/x": {"delete": {"responses": {"204": no_content}}}}}) == [
        "DELETE /x 204 has content"
    ]
    assert untyped({"type": "object", "additionalProperties": True})
    assert not untyped({"$ref": "#/components/schemas/TripOut"})


async def test_every_json_answer_has_a_typed_schema(app: FastAPI) -> None:
    assert untyped_answers(app.openapi()) == []


async def test_no_two_schemas_share_a_name(app: FastAPI) -> None:
    # FastAPI renames both to their module paths (app__x__schemas__Name) when two models share a name.
    assert [name for name in app.openapi()["components"]["schemas"] if "__" in name] == []
