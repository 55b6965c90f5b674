"""The served OpenAPI document as a contract clients are generated from (docs/api.md): readable and
unique operation ids, every instant declared as one, every example valid against its own schema, and the
security each operation states matching what the server requires."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.openapi import OPERATION_ID, OPERATION_IDS, operation_id
from app.core.schemas import MONTH_PATTERN
from app.main import create_app
from app.settings import Settings
from tests.conftest import Person
from tests.contract.spec import Contract, examples, subschemas

# -- operation ids ---------------------------------------------------------------------------------------


def test_operation_ids_are_unique_readable_and_from_the_table(app: FastAPI) -> None:
    contract = Contract(app.openapi())
    ids = [(method, path, operation.get("operationId")) for method, path, operation in contract.operations()]
    assert ids
    malformed = [entry for entry in ids if not isinstance(entry[2], str) or not OPERATION_ID.match(entry[2])]
    assert malformed == []
    seen: dict[str, tuple[str, str]] = {}
    twice = []
    for method, path, op_id in ids:
        if op_id in seen:
            twice.append((op_id, seen[op_id], (method, path)))
        seen[op_id] = (method, path)
    assert twice == []
    # Every operation's id is written in the table (stable when a function is renamed), and the table
    # names no operation that is gone.
    served = {(method, path) for method, path, _ in ids}
    assert sorted(served - set(OPERATION_IDS)) == []
    assert sorted(set(OPERATION_IDS) - served) == []
    assert seen["trips-list"] == ("GET", "/v1/me/trips")
    assert seen["trips-get"] == ("GET", "/v1/me/trips/{trip_id}")


def test_every_tag_is_described(app: FastAPI) -> None:
    spec = app.openapi()
    described = {tag["name"] for tag in spec["tags"] if tag.get("description")}
    used = {tag for _, _, operation in Contract(spec).operations() for tag in operation.get("tags", [])}
    assert used and used <= described
    assert all(len(operation.get("tags", [])) == 1 for _, _, operation in Contract(spec).operations())


def test_an_operation_missing_from_the_table_gets_its_tag_and_name() -> None:
    route = SimpleNamespace(
        methods={"GET"}, path_format="/v1/me/new", tags=["self data"], name="list_new_things"
    )
    assert operation_id(route) == "self-data-list-new-things"
    assert OPERATION_ID.match(operation_id(route))
    untagged = SimpleNamespace(methods={"POST"}, path_format="/x", tags=[], name="do_it")
    assert operation_id(untagged) == "service-do-it"
    assert not OPERATION_ID.match("list_trips_v1_me_trips_get")


# -- times -----------------------------------------------------------------------------------------------

#: Words that, first or last in a field's name (split on `_`), say it holds a time.
TIME_LAST = {"at", "time", "ts", "date", "day", "since", "until", "from", "to", "month", "months"}
TIME_LAST |= {"timestamp"}
TIME_FIRST = {"start", "end"}
#: Names that say a time and hold something else, with what they hold.
NOT_TIMES = {"starts_from": "a number of legs that must teach before learning starts"}


def suggests_time(name: str) -> bool:
    words = name.lower().split("_")
    return name not in NOT_TIMES and (words[-1] in TIME_LAST or words[0] in TIME_FIRST)


def _alternatives(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas a value may match: the parts of anyOf/oneOf, and one per type of `type: [...]`."""
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [alt for part in schema[key] for alt in _alternatives(part)]
    if isinstance(schema.get("type"), list):
        return [{**schema, "type": kind} for kind in schema["type"]]
    return [schema]


def time_fault(contract: Contract, name: str, schema: dict[str, Any]) -> str | None:
    """Why a field named like a time is not declared as one (None when it is). Accepted:
    - a string of `format: date-time` (an instant) or `format: date` (a local day);
    - a month, YYYY-MM: JSON Schema has no format for it, so the pattern of app.core.schemas.MonthText;
    - epoch seconds, as numbers, only where the name says so (`ts`, `*_ts`, `*_s`: the OpenPATH protocol),
      or beside a date-time alternative (an input that takes both, such as a point's `ts` or `from=`);
    - an object (`start` and `end` of a trip are places).
    Arrays are judged by their items."""
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return time_fault(contract, name, schema["items"])
    alternatives = [alt for alt in _alternatives(schema) if alt.get("type") != "null"]
    if not alternatives:
        return "declares no type"
    has_instant = any(alt.get("format") == "date-time" for alt in alternatives)
    epoch_named = name == "ts" or name.endswith(("_ts", "_s"))
    for alt in alternatives:
        resolved = contract.resolve(alt)
        kind = resolved.get("type")
        if kind == "object" or "properties" in resolved:
            continue
        if kind == "string" and resolved.get("format") in ("date-time", "date"):
            continue
        if kind == "string" and resolved.get("pattern") == MONTH_PATTERN and "month" in name:
            continue
        if kind in ("number", "integer") and (epoch_named or has_instant):
            continue
        if (
            kind == "string"
            and has_instant
            and re.fullmatch(r"\^-\?\[0-9\]\+.*", resolved.get("pattern", ""))
        ):
            continue  # epoch seconds written in a query string, beside the RFC 3339 form
        return f"is {resolved} without a date or date-time format"
    return None


def time_faults(contract: Contract) -> list[str]:
    faults = []
    for name, component in contract.schemas.items():
        for where, schema in subschemas(component, f"#/components/schemas/{name}"):
            for prop, sub in (schema.get("properties") or {}).items():
                if suggests_time(prop):
                    fault = time_fault(contract, prop, sub)
                    if fault:
                        faults.append(f"{where}.{prop} {fault}")
    for method, path, operation in contract.operations():
        for parameter in operation.get("parameters", []):
            if suggests_time(parameter["name"]):
                fault = time_fault(contract, parameter["name"], parameter.get("schema", {}))
                if fault:
                    faults.append(f"{method} {path} parameter {parameter['name']} {fault}")
        bodies = [operation.get("requestBody", {}), *operation.get("responses", {}).values()]
        for body in bodies:
            for content in (body.get("content") or {}).values():
                for where, schema in subschemas(content.get("schema", {}), f"{method} {path}"):
                    for prop, sub in (schema.get("properties") or {}).items():
                        if suggests_time(prop):
                            fault = time_fault(contract, prop, sub)
                            if fault:
                                faults.append(f"{where}.{prop} {fault}")
    return faults


#: What an example value written as a time looks like: a day, a month, or an RFC 3339 date-time.
LOOKS_LIKE_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}(-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}.*)?)?$")


def untyped_times(contract: Contract) -> list[str]:
    """Example values written as times whose schema does not say so (a time whose name does not)."""
    found: list[str] = []

    def walk(schema: dict[str, Any], value: Any, where: str) -> None:
        schema = contract.resolve(schema)
        alternatives = [contract.resolve(a) for a in _alternatives(schema) if a.get("type") != "null"]
        if isinstance(value, str) and LOOKS_LIKE_TIME.match(value):
            declared = any(
                a.get("format") in ("date", "date-time") or a.get("pattern") == MONTH_PATTERN
                for a in alternatives
            )
            if not declared:
                found.append(f"{where} = {value!r}")
        for alt in alternatives:
            if isinstance(value, dict):
                for key, item in value.items():
                    sub = (alt.get("properties") or {}).get(key, alt.get("additionalProperties"))
                    if isinstance(sub, dict) and sub:
                        walk(sub, item, f"{where}.{key}")
            elif isinstance(value, list) and isinstance(alt.get("items"), dict):
                for item in value:
                    walk(alt["items"], item, f"{where}[]")

    for example in examples(contract):
        walk(example.schema, example.value, example.where)
    return sorted(set(found))


def test_every_time_is_declared_as_a_date_or_a_date_time(app: FastAPI) -> None:
    contract = Contract(app.openapi())
    assert time_faults(contract) == []
    assert untyped_times(contract) == []


def test_the_time_checks_see_an_undeclared_time() -> None:
    spec = {
        "paths": {
            "/x": {
                "get": {
                    "parameters": [{"name": "since", "in": "query", "schema": {"type": "string"}}],
                    "responses": {},
                }
            }
        },
        "components": {
            "schemas": {
                "Trip": {
                    "type": "object",
                    "properties": {
                        "start_time": {"type": "string"},
                        "end_time": {"type": "string", "format": "date-time"},
                        "start": {"$ref": "#/components/schemas/Place"},
                        "created_at": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        "months": {"type": "array", "items": {"type": "string"}},
                        "start_ts": {"type": "number"},
                        "end_s": {"type": "number"},
                        "day": {"type": "integer"},
                        "timezone": {"type": "string"},
                        "endpoint": {"type": "string"},
                        "seen": {"type": "string", "examples": ["2026-11-02T09:00:00Z"]},
                    },
                },
                "Place": {"type": "object", "properties": {"lat": {"type": "number"}}},
            }
        },
    }
    faults = time_faults(Contract(spec))
    assert [fault.split(" ")[0] for fault in faults] == [
        "#/components/schemas/Trip.start_time",
        "#/components/schemas/Trip.created_at",
        "#/components/schemas/Trip.months",
        "#/components/schemas/Trip.day",
        "GET",
    ]
    assert untyped_times(Contract(spec)) == [
        "#/components/schemas/Trip.seen examples/0 = '2026-11-02T09:00:00Z'"
    ]


# -- examples --------------------------------------------------------------------------------------------


def invalid_examples(contract: Contract) -> list[str]:
    return [
        f"{example.where}: {error}"
        for example in examples(contract)
        for error in contract.errors(example.schema, example.value)
    ]


def test_every_example_is_valid_against_its_schema(app: FastAPI) -> None:
    contract = Contract(app.openapi())
    found = list(examples(contract))
    # Every component schema carries at least one (tests/core/test_service.py), and so do parameters.
    assert len(found) > len(contract.schemas)
    assert invalid_examples(contract) == []


def test_the_example_check_sees_a_broken_example() -> None:
    list_schema = {
        "type": "object",
        "properties": {
            "trips": {"type": "array", "items": {"$ref": "#/components/schemas/Trip"}},
            "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["trips", "next_cursor"],
        "examples": [{"trips": []}],
    }
    trip = {
        "type": "object",
        "properties": {"start_time": {"type": "string", "format": "date-time", "examples": ["yesterday"]}},
        "examples": [{"start_time": "2016-06-21 22:21"}],
    }
    answer = {"content": {"application/json": {"schema": {"type": "integer"}, "example": "many"}}}
    spec = {
        "paths": {"/x": {"get": {"responses": {"200": answer}}}},
        "components": {"schemas": {"TripList": list_schema, "Trip": trip}},
    }
    faults = invalid_examples(Contract(spec))
    assert len(faults) == 4, faults
    assert any("'next_cursor' is a required property" in fault for fault in faults)
    assert any("'yesterday' is not a 'date-time'" in fault for fault in faults)
    assert any("'2016-06-21 22:21' is not a 'date-time'" in fault for fault in faults)
    assert any(fault.startswith("GET /x answer 200 application/json example") for fault in faults)


# -- security, servers -----------------------------------------------------------------------------------

#: A value for each path parameter, so that every operation can be called.
PATH_VALUES = {
    "purpose": "research",
    "slug": "not-found",
    "name": "yelo",
    "zone_set": "grid-500m",
    "month": "2026-11",
    "day": "2026-11-02",
    "time_type": "yyyy_mm_dd",
}


def _path(path: str) -> str:
    return re.sub(
        r"\{([a-z_]+)\}",
        lambda m: PATH_VALUES.get(m[1], "8a0b6a5e-2f4c-4d1a-9b3e-5c6d7e8f9a0b"),
        path,
    )


BEARER = [{"bearer": []}]
#: The OpenPATH app's calls: a bearer token, or none because the opcode travels in the body's `user`.
BEARER_OR_BODY = [{"bearer": []}, {}]


def test_every_operation_states_its_security(app: FastAPI) -> None:
    spec = app.openapi()
    assert spec["security"] == BEARER
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A person's or an operator's token.",
    }
    stated = {(m, p): op.get("security") for m, p, op in Contract(spec).operations()}
    assert {key: value for key, value in stated.items() if value not in ([], BEARER, BEARER_OR_BODY)} == {}
    public = {key for key, value in stated.items() if value == []}
    assert {("POST", "/v1/auth/register"), ("GET", "/health"), ("GET", "/problems/{slug}")} <= public
    assert stated["POST", "/usercache/put"] == BEARER_OR_BODY
    assert stated["GET", "/v1/me/trips"] == BEARER


async def test_the_stated_security_is_what_the_server_requires(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    """Without any credential, an operation that states the bearer scheme answers 401 with
    `WWW-Authenticate`, a public one anything but 401; the OpenPATH app's calls answer 401 without an
    opcode, and take a person's bearer token instead."""
    wrong = []
    for method, path, operation in Contract(app.openapi()).operations():
        body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        response = await client.request(method, _path(path), **body)
        security = operation["security"]
        if security != [] and (response.status_code != 401 or "www-authenticate" not in response.headers):
            wrong.append(f"{method} {path} states a credential but answered {response.status_code}")
        if security == [] and response.status_code == 401:
            wrong.append(f"{method} {path} states none but answered 401")
        if "401" not in operation["responses"] and security != []:
            wrong.append(f"{method} {path} does not declare its 401")
        if security == BEARER_OR_BODY:
            with_token = await client.request(method, _path(path), headers=alice.headers, **body)
            if with_token.status_code == 401:
                wrong.append(f"{method} {path} refused a person's bearer token")
    assert wrong == []


@pytest.mark.parametrize(
    ("public_url", "servers"),
    [
        (None, [{"url": "/", "description": "This Coach CO2 server"}]),
        (
            "https://coachco2.example.org",
            [{"url": "https://coachco2.example.org", "description": "This Coach CO2 server"}],
        ),
    ],
)
def test_servers_name_the_public_url(tmp_path: Any, public_url: str | None, servers: list[Any]) -> None:
    extra = {} if public_url is None else {"public_url": public_url}
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", **extra)
    spec = create_app(settings).openapi()
    assert spec["servers"] == servers
    assert spec["info"]["license"]["identifier"] == "AGPL-3.0-or-later"
    assert spec["info"]["contact"]["email"] == settings.controller_email


def test_a_public_url_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="public_url"):
        Settings(public_url="coachco2.example.org")
