"""RFC 9457 problem details: the one mapping from errors to HTTP answers.

Every error the API returns is `application/problem+json` with `type`, `title`, `status` and `detail`;
validation errors add an `errors` list naming each offending field as a path (`points/17/lat`) and as a
JSON Pointer into the request body (`#/points/17/lat`).
"""

from __future__ import annotations

import importlib
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError  # an error type, as sqlalchemy.exc's: no SQL here
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"

# slug -> (title, what it means): served at /problems/{slug} so that every `type` URI resolves.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "validation-error": (
        "Your request is not valid",
        "One or more fields break the API contract; `errors` names each one. Nothing of the request was "
        "stored: fix the fields and send the whole request again.",
    ),
    "unauthorized": (
        "Authentication required",
        "Send `Authorization: Bearer <token>` with a token from POST /v1/auth/register or "
        "POST /v1/auth/tokens. Revoked tokens stop working at once.",
    ),
    "forbidden-role": (
        "This token's role cannot call this endpoint",
        "Person tokens reach /v1/me and /v1/auth; operator tokens reach /v1/operator only. Among operators, "
        "only administrators publish transit feeds, emission factors and zone sets; analysts read.",
    ),
    "not-owner": (
        "Another operator owns this object",
        "An operator deletes only the zone sets it uploaded.",
    ),
    "not-found": ("Not found", "There is no such object among yours."),
    "payload-too-large": (
        "Request body too large",
        "The body, after gzip decoding, is larger than the server accepts. Send fewer points per request.",
    ),
    "unsupported-encoding": (
        "Unsupported Content-Encoding",
        "Request bodies may be sent as is or with `Content-Encoding: gzip`.",
    ),
    "invalid-body": (
        "The request body cannot be read",
        "The body is not valid JSON, or not valid gzip when `Content-Encoding: gzip` is sent.",
    ),
    "privacy-budget-exhausted": (
        "Privacy budget exhausted",
        "This differentially private release would spend more ε than the operator's monthly budget allows. "
        "Ask again without `epsilon` (k-anonymity only) or next month.",
    ),
    "conflict": ("Conflict", "The request conflicts with what exists already."),
    "rate-limited": (
        "Too many requests",
        "This client sent more requests of this kind than the service accepts in the window. Wait for the "
        "number of seconds in `Retry-After`.",
    ),
    "service-unavailable": (
        "Service unavailable",
        "The service cannot reach its database just now. Nothing was stored; retry after a moment.",
    ),
}


class FieldError(BaseModel):
    field: str = Field(description="Path of the offending field, `/`-separated (`points/17/lat`).")
    pointer: str = Field(description="JSON Pointer to the field in the request body (RFC 6901).")
    location: str = Field(description="Where the field is: body, query, path or header.")
    detail: str = Field(description="What is wrong with it.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "field": "points/17/lat",
                    "pointer": "#/points/17/lat",
                    "location": "body",
                    "detail": "Input should be less than or equal to 90",
                }
            ]
        }
    )


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(description="URI of the problem type; it resolves to its description.")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(default=None, description="Validation errors, one per field.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/validation-error",
                    "title": "Your request is not valid",
                    "status": 422,
                    "detail": "1 field is not valid: points/17/lat",
                    "errors": [
                        {
                            "field": "points/17/lat",
                            "pointer": "#/points/17/lat",
                            "location": "body",
                            "detail": "Input should be less than or equal to 90",
                        }
                    ],
                }
            ]
        }
    )


class ProblemError(Exception):
    """Raise anywhere to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers
        self.errors = errors


def problem_body(
    status: int, slug: str, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    title = PROBLEM_TYPES[slug][0] if slug in PROBLEM_TYPES else HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if slug in PROBLEM_TYPES else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, slug, detail, errors),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "not-found", f"No {what} with this id among yours.")


def invalid_field(
    field: str, detail: str, location: str = "body", *, in_summary: bool = False
) -> ProblemError:
    """A 422 naming one field, shaped like the validation errors of the request schemas. With
    `in_summary`, the problem's own `detail` repeats why (for a client that shows only that line)."""
    error = {"field": field, "pointer": "#/" + field, "location": location, "detail": detail}
    summary = f"1 field is not valid: {field}" + (f". {detail}" if in_summary else "")
    return ProblemError(422, "validation-error", summary, errors=[error])


log = logging.getLogger("coachco2.problems")

#: Domain exceptions that reach an endpoint, and the field each one is about: (module, class name) ->
#: (field, location, repeat the reason in the problem's `detail`). Subclasses are matched first.
DOMAIN_PROBLEMS: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("app.imports.parsers.types", "ImportFormatError"): ("file", "body", True),
    ("app.openpath.envelope", "EnvelopeFormatError"): ("phone_to_server", "body", False),
    ("app.transit.gtfs", "GtfsError"): ("file", "body", True),
    ("app.statistics.zones", "ZoneFormatError"): ("body", "body", False),
}


def _domain_handler(field: str, location: str, in_summary: bool) -> Any:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        problem = invalid_field(field, getattr(exc, "message", str(exc)), location, in_summary=in_summary)
        return problem_response(problem.status, problem.slug, problem.detail, errors=problem.errors)

    return handle


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    loc = [str(part) for part in error.get("loc", ())]
    location = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
    parts = loc[1:] if loc and loc[0] == location else loc
    # pydantic names the branch of a union or a function validator in the path; it is noise to a client.
    parts = [
        p for p in parts if not p.startswith(("function-", "union[")) and p not in ("float", "str", "int")
    ]
    field = "/".join(parts)
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "json_invalid":
        message = "The body is not valid JSON: " + str(error.get("ctx", {}).get("error", message))
    return {
        "field": field,
        "pointer": "#/" + field if field else "#",
        "location": location,
        "detail": message,
    }


def validation_problem(errors: list[dict[str, str]]) -> JSONResponse:
    names = ", ".join(e["field"] or "(body)" for e in errors[:5])
    more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
    count = f"{len(errors)} field{'s are' if len(errors) > 1 else ' is'} not valid"
    return problem_response(422, "validation-error", f"{count}: {names}{more}", errors=errors)


#: PostgreSQL error classes and codes that mean the store is out of reach, not that the request or the code
#: is wrong (https://www.postgresql.org/docs/current/errcodes-appendix.html): connection exceptions (08),
#: insufficient resources (53), operator intervention such as a shutdown (57), authorization (28), a
#: database that does not exist (3D000) and tables that do not (42P01: a database recreated empty, not
#: migrated), which only an administrator can mend.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "28")
_UNAVAILABLE_SQLSTATES = ("3D000", "42P01", "3F000")


#: PostgreSQL's answers to two transactions that collided (a deadlock, a serialization failure): the one it
#: rolled back succeeds if sent again
_TRANSIENT_SQLSTATES = ("40P01", "40001")


def _sqlstate(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def is_transient(exc: BaseException) -> bool:
    """True for a transaction the database rolled back because it collided with another (a deadlock, a
    serialization failure): sent again, it succeeds."""
    if isinstance(exc, OperationalError) and "locking protocol" in str(getattr(exc, "orig", "")):
        return True  # SQLite's SQLITE_PROTOCOL: a journal reset raced this connection; retrying succeeds
    return _sqlstate(exc) in _TRANSIENT_SQLSTATES


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the store is out of reach or cannot write now", not a bug."""
    if isinstance(exc, OperationalError | OSError | TimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = _sqlstate(exc)
    return sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in _UNAVAILABLE_SQLSTATES


def install(app: FastAPI) -> None:
    """Route every error through problem details."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.detail, headers=exc.headers, errors=exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem([_field_error(dict(e)) for e in exc.errors()])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {401: "unauthorized", 404: "not-found", 413: "payload-too-large"}.get(exc.status_code, "")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        return problem_response(exc.status_code, slug, detail, headers=headers or None)

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            return await _integrity(request, exc)
        if not database_unavailable(exc):
            raise exc
        return problem_response(
            503, "service-unavailable", "The database cannot be reached.", headers={"Retry-After": "5"}
        )

    async def _integrity(_: Request, exc: Exception) -> JSONResponse:
        # A write that collided with a concurrent one (a person erased while one of their requests ran,
        # two publications of one new name): nothing of this request was stored.
        log.warning(
            "a request collided with a concurrent change (%s)", type(getattr(exc, "orig", exc)).__name__
        )
        return problem_response(
            409,
            "conflict",
            "The request collided with a change made at the same time (for instance the account being "
            "erased); nothing of it was stored. Send it again.",
        )

    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(StaleDataError, _integrity)
    # Registered per class so that they are answered here, not logged as crashes by the server.
    for exc_class in (OperationalError, DBAPIError, OSError):
        app.add_exception_handler(exc_class, _database)

    for (module, name), (field, location, in_summary) in DOMAIN_PROBLEMS.items():
        exc_type = getattr(importlib.import_module(module), name)
        app.add_exception_handler(exc_type, _domain_handler(field, location, in_summary))
