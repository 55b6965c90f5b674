"""The served OpenAPI document: the contract clients are generated from (conventions in docs/api.md).

FastAPI writes the document from the routes; this module settles what it leaves to chance:

- **Operation ids** `<tag>-<name>` (`trips-list`, `trips-get`), from one table, so that they stay the same
  when a function is renamed and a generated client's method names do not move.
- **Examples as written.** FastAPI drops every `null` from the document (`exclude_none`), examples
  included, so that `{"trips": [], "next_cursor": null}` became `{"trips": []}`, which its own schema
  refuses. The component schemas are put back as pydantic wrote them.
- **Errors** are problem details (RFC 9457): FastAPI's validation-error schema is replaced by `Problem`,
  and every 4xx/5xx answer is `application/problem+json`.
- **Security** is stated on every operation: the bearer scheme where a token is required; the bearer
  scheme or nothing for the OpenPATH app's calls, whose credential (the opcode) may travel in the body
  instead; `[]` where the operation is public (registration, health, problem types, modes).
- **Servers** from `COACHCO2_PUBLIC_URL` (default `/`, the server that served the document).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi._compat import get_definitions, get_flat_models_from_fields, get_model_name_map
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_fields_from_routes, get_openapi
from pydantic import BaseModel

from app.ingest.schemas import LocationBatchIn, LocationColumnsIn
from app.settings import Settings

#: Bodies validated straight from their bytes (ingest), described with the models they use.
EXTRA_SCHEMAS: tuple[type[BaseModel], ...] = (LocationBatchIn, LocationColumnsIn)

#: The name of the bearer scheme in `components.securitySchemes` (see app/core/deps.py).
BEARER = "bearer"

#: What an operation id looks like: lower-case words joined by hyphens, the first one its tag's.
OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")

#: The operation id of each (method, path). A route missing here gets `<tag>-<function-name>`.
OPERATION_IDS: dict[tuple[str, str], str] = {
    # service
    ("GET", "/health"): "service-health",
    ("GET", "/health/ready"): "service-ready",
    ("GET", "/health/live"): "service-live",
    ("GET", "/problems/{slug}"): "service-problem-type",
    # accounts
    ("POST", "/v1/auth/register"): "accounts-register",
    ("GET", "/v1/auth/tokens"): "accounts-tokens-list",
    ("POST", "/v1/auth/tokens"): "accounts-tokens-create",
    ("DELETE", "/v1/auth/tokens/current"): "accounts-tokens-revoke-current",
    ("DELETE", "/v1/auth/tokens/{token_id}"): "accounts-tokens-revoke",
    # ingest
    ("POST", "/v1/me/locations"): "ingest-locations",
    ("POST", "/v1/me/locations/columns"): "ingest-locations-columns",
    ("GET", "/v1/me/pipeline"): "ingest-pipeline",
    # trips
    ("GET", "/v1/me/trips"): "trips-list",
    ("GET", "/v1/me/trips/{trip_id}"): "trips-get",
    ("DELETE", "/v1/me/trips/{trip_id}"): "trips-delete",
    ("PATCH", "/v1/me/trips/{trip_id}/legs/{leg_id}"): "trips-correct-leg",
    ("PUT", "/v1/me/trips/{trip_id}/purpose"): "trips-set-purpose",
    ("GET", "/v1/me/trips/{trip_id}/alternatives"): "trips-alternatives",
    # me: footprint and coaching
    ("GET", "/v1/me/profile"): "me-profile-get",
    ("PUT", "/v1/me/profile"): "me-profile-set",
    ("GET", "/v1/me/summary"): "me-summary",
    ("GET", "/v1/me/coaching/trajectory"): "me-trajectory",
    ("GET", "/v1/me/coaching/recurring"): "me-recurring",
    ("GET", "/v1/me/attestations/mobility-allowance"): "me-mobility-allowance",
    # self data
    ("GET", "/v1/me"): "self-data-held",
    ("DELETE", "/v1/me"): "self-data-erase",
    ("GET", "/v1/me/learning"): "self-data-learning-get",
    ("PUT", "/v1/me/learning"): "self-data-learning-set",
    ("PUT", "/v1/me/retention"): "self-data-retention-set",
    ("GET", "/v1/me/export"): "self-data-export",
    ("GET", "/v1/me/export/schema"): "self-data-export-schema",
    ("GET", "/v1/me/consents"): "self-data-consents-list",
    ("PUT", "/v1/me/consents/{purpose}"): "self-data-consents-set",
    ("GET", "/v1/me/consents/receipts"): "self-data-receipts-list",
    ("GET", "/v1/me/consents/receipts/{receipt_id}"): "self-data-receipts-get",
    ("GET", "/v1/me/privacy-zones"): "self-data-privacy-zones-list",
    ("POST", "/v1/me/privacy-zones"): "self-data-privacy-zones-add",
    ("DELETE", "/v1/me/privacy-zones/{zone_id}"): "self-data-privacy-zones-delete",
    ("GET", "/v1/me/access-log"): "self-data-access-log",
    # imports
    ("POST", "/v1/me/imports"): "imports-upload",
    ("GET", "/v1/me/imports"): "imports-list",
    ("GET", "/v1/me/imports/{import_id}"): "imports-get",
    # modes
    ("GET", "/v1/modes"): "modes-list",
    # operator
    ("GET", "/v1/operator/me"): "operator-whoami",
    ("GET", "/v1/operator/actions"): "operator-actions-list",
    ("GET", "/v1/operator/factors"): "operator-factors-list",
    ("POST", "/v1/operator/factors"): "operator-factors-add",
    ("GET", "/v1/operator/transit-feeds"): "operator-transit-feeds-list",
    ("PUT", "/v1/operator/transit-feeds/{name}"): "operator-transit-feeds-put",
    ("DELETE", "/v1/operator/transit-feeds/{name}"): "operator-transit-feeds-delete",
    # operator statistics
    ("GET", "/v1/operator/stats/modal-share"): "operator-stats-modal-share",
    ("GET", "/v1/operator/stats/co2-per-user"): "operator-stats-co2-per-user",
    ("GET", "/v1/operator/stats/profile"): "operator-stats-profile",
    ("GET", "/v1/operator/stats/timeseries"): "operator-stats-timeseries",
    ("GET", "/v1/operator/stats/od"): "operator-stats-origin-destination",
    ("GET", "/v1/operator/stats/zones"): "operator-stats-zones",
    ("GET", "/v1/operator/privacy/budget"): "operator-privacy-budget",
    ("GET", "/v1/operator/privacy/releases"): "operator-privacy-releases",
    ("GET", "/v1/operator/zone-sets"): "operator-zone-sets-list",
    ("POST", "/v1/operator/zone-sets"): "operator-zone-sets-upload",
    ("GET", "/v1/operator/zone-sets/{zone_set_id}"): "operator-zone-sets-get",
    ("DELETE", "/v1/operator/zone-sets/{zone_set_id}"): "operator-zone-sets-delete",
    ("PUT", "/v1/operator/zone-sets/{zone_set_id}/official"): "operator-zone-sets-make-official",
    ("DELETE", "/v1/operator/zone-sets/{zone_set_id}/official"): "operator-zone-sets-withdraw-official",
    # operator publications
    ("GET", "/v1/operator/publications"): "operator-publications-list",
    ("GET", "/v1/operator/publications/{zone_set}/{month}"): "operator-publications-get",
    ("GET", "/v1/operator/publications/{zone_set}/{month}/map"): "operator-publications-map",
    # the OpenPATH app (e-mission's protocol)
    ("POST", "/usercache/put"): "openpath-usercache-put",
    ("POST", "/usercache/get"): "openpath-usercache-get",
    ("POST", "/profile/create"): "openpath-profile-create",
    ("POST", "/profile/get"): "openpath-profile-get",
    ("POST", "/profile/update"): "openpath-profile-update",
    ("POST", "/pipeline/get_complete_ts"): "openpath-pipeline-complete-ts",
    ("POST", "/pipeline/get_range_ts"): "openpath-pipeline-range-ts",
    ("POST", "/timeline/getTrips/{day}"): "openpath-timeline-trips",
    ("POST", "/datastreams/find_entries/timestamp"): "openpath-entries-by-timestamp",
    ("POST", "/datastreams/find_entries/local_date"): "openpath-entries-by-local-date",
    ("POST", "/result/metrics/{time_type}"): "openpath-metrics",
}


#: The tags, in the order the documentation lists them, with what each groups.
TAGS: list[dict[str, str]] = [
    {"name": "service", "description": "Health checks and the problem types errors refer to."},
    {"name": "accounts", "description": "Pseudonymous registration and a person's device tokens."},
    {"name": "ingest", "description": "The phone's points and motion hints, and how far processing got."},
    {"name": "trips", "description": "A person's trips and legs: modes, CO2e, corrections and purposes."},
    {"name": "me", "description": "Summaries, coaching, the vehicle profile and the mobility attestation."},
    {
        "name": "self data",
        "description": "What is held about the person, its export and erasure, consents, privacy zones, "
        "retention, the access log and what corrections taught.",
    },
    {"name": "imports", "description": "History files (GPX, GeoJSON, Google location history) imported."},
    {"name": "modes", "description": "Transport modes and the emission factors in force."},
    {
        "name": "operator",
        "description": "An operator's identity, the territory's emission factors and transit feeds, and "
        "the record of changes.",
    },
    {
        "name": "operator statistics",
        "description": "Differentially private aggregates over consenting people, the privacy budget, "
        "and zone sets.",
    },
    {"name": "operator publications", "description": "Exact, k-anonymous monthly publications."},
    {
        "name": "e-mission compatibility",
        "description": "The OpenPATH phone app's upload, profile and older diary calls (docs/openpath.md).",
    },
    {
        "name": "OpenPATH app",
        "description": "The OpenPATH app's diary and dashboard calls (docs/openpath.md).",
    },
]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def operation_id(route: Any) -> str:
    """The operation id of a route (FastAPI's `generate_unique_id_function`): from the table, or else
    `<tag>-<function-name>`, hyphenated."""
    method = sorted(route.methods)[0]
    known = OPERATION_IDS.get((method, route.path_format))
    if known is not None:
        return known
    tag = _slug(str(route.tags[0])) if route.tags else "service"
    return f"{tag}-{_slug(route.name)}"


def _pydantic_definitions(app: FastAPI) -> dict[str, Any]:
    """The component schemas as pydantic writes them, before FastAPI drops their nulls."""
    fields = get_fields_from_routes(app.routes)
    names = get_model_name_map(get_flat_models_from_fields(fields, known_models=set()))
    _, definitions = get_definitions(
        fields=fields, model_name_map=names, separate_input_output_schemas=app.separate_input_output_schemas
    )
    described: dict[str, Any] = jsonable_encoder(definitions)
    return described


def _add_extra_schemas(components: dict[str, Any], models: Sequence[type[BaseModel]]) -> None:
    for model in models:
        described = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(described.pop("$defs", {}))
        components[model.__name__] = described


def _problem_answers(paths: dict[str, Any]) -> None:
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path in paths.values():
        for operation in path.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = {
                    "description": responses["422"].get("description", "Validation error"),
                    "content": {"application/problem+json": {"schema": problem_ref}},
                }
            for code, response in responses.items():
                content = response.get("content", {})
                if code >= "400" and content and "application/problem+json" not in content:
                    # Errors are problem documents whatever the endpoint's own media type.
                    response["content"] = {"application/problem+json": next(iter(content.values()))}


#: Tags of the OpenPATH app's calls: their credential is the opcode in the body's `user` field, or a
#: bearer token (app/openpath/auth.py).
BODY_CREDENTIAL_TAGS = {"e-mission compatibility", "OpenPATH app"}
UNAUTHORIZED = {
    "description": "No credential, or an unknown or revoked one.",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _security(schema: dict[str, Any]) -> None:
    """Every operation states its security: the bearer scheme; the bearer scheme or none for the OpenPATH
    app's calls, whose opcode may travel in the body instead (OpenAPI cannot name a credential in a body);
    or `[]` when it needs no credential at all."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.setdefault(
        BEARER,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A person's or an operator's token: `Authorization: Bearer <token>`.",
        },
    )
    schema["security"] = [{BEARER: []}]
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if BODY_CREDENTIAL_TAGS.intersection(operation.get("tags", [])):
                operation["security"] = [{BEARER: []}, {}]
                operation.setdefault("responses", {}).setdefault("401", UNAUTHORIZED)
            operation.setdefault("security", [])


def build_openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of `app`, built once and kept."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags or TAGS,
        servers=[{"url": settings.public_url, "description": "This Coach CO2 server"}],
        license_info={"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
    )
    # The data controller answers for the deployment (the contact consent receipts name). Set here, not
    # through get_openapi, whose check of the address wants a package the service does not need.
    schema["info"]["contact"] = {"name": settings.controller_name, "email": settings.controller_email}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, described in _pydantic_definitions(app).items():
        if name in components:
            components[name] = described
    _add_extra_schemas(components, EXTRA_SCHEMAS)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    _problem_answers(schema.get("paths", {}))
    _security(schema)
    app.openapi_schema = schema
    return schema
