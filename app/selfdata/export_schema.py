"""The JSON Schema (draft 2020-12) of the `json` export: what each part of the document holds."""

from __future__ import annotations

from typing import Any

_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_NUM = {"type": "number"}
_NNUM = {"type": ["number", "null"]}
_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}


def _object(properties: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties),
    }


_LINESTRING = _object(
    {
        "type": {"const": "LineString"},
        "coordinates": {"type": "array", "items": {"type": "array", "items": _NUM, "minItems": 2}},
    },
    "GeoJSON LineString (RFC 7946), [lon, lat] positions, simplified.",
)

_LEG = _object(
    {
        "id": _STR,
        "start_time": _TIME,
        "end_time": _TIME,
        "mode": _STR,
        "mode_source": {"enum": ["inferred", "activity", "user"]},
        "inferred_mode": {"type": "string", "description": "What the pipeline concluded, even if corrected."},
        "confidence": _NUM,
        "occupants": {"type": ["integer", "null"]},
        "distance_m": _NUM,
        "co2e_g": _NUM,
        "factor_set": {"type": "string", "description": "Factor set and counted components, or `territory`."},
        "factor_key": _STR,
        "factor_unit": {"enum": ["passenger-km", "vehicle-km"]},
        "factor_g_per_km": _NUM,
        "point_count": {"type": "integer"},
        "geometry": _LINESTRING,
        "reasons": {
            "type": "array",
            "items": {"type": "object"},
            "description": "Why the pipeline inferred its mode: rules with their figures (docs/modes.md).",
        },
        "features": {
            "type": ["object", "null"],
            "description": "The motion features your confirmations are compared on (docs/modes.md).",
        },
    },
    "A part of a trip in one transport mode, with the factor behind its CO2e.",
)

_TRIP = _object(
    {
        "id": _STR,
        "status": {"enum": ["open", "closed"]},
        "start_time": _TIME,
        "end_time": _TIME,
        "start": _object({"lat": _NUM, "lon": _NUM}, "Where the trip started."),
        "end": _object({"lat": _NUM, "lon": _NUM}, "Where it ended."),
        "distance_m": _NUM,
        "duration_s": _NUM,
        "co2e_g": _NUM,
        "purpose": _NSTR,
        "purpose_source": _NSTR,
        "legs": {"type": "array", "items": _LEG},
    },
    "A trip between two stays.",
)

EXPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "/v1/me/export/schema",
    "title": "Coach CO2 export",
    "description": "Everything Coach CO2 holds about one person. Times are RFC 3339 in UTC, distances in "
    "metres, emissions in grams CO2e.",
    **_object(
        {
            "format": {"const": "coachco2-export"},
            "format_version": {"const": 1},
            "schema": _STR,
            "generator": _STR,
            "exported_at": _TIME,
            "account": _object(
                {
                    "user_id": _STR,
                    "created_at": _TIME,
                    "point_retention_days": {"type": "integer"},
                    "learn_from_confirmations": {"type": "boolean"},
                },
                "The pseudonymous account.",
            ),
            "devices": {
                "type": "array",
                "description": "Tokens, one per device; secrets are never stored, so never exported.",
                "items": _object(
                    {
                        "id": _STR,
                        "device_label": _NSTR,
                        "created_at": _TIME,
                        "last_used_at": _NTIME,
                        "revoked_at": _NTIME,
                    },
                    "A device token.",
                ),
            },
            "profile": _object(
                {"car_fuel": _NSTR, "car_occupancy": {"type": ["integer", "null"]}, "bike_kind": _NSTR},
                "What the person declared about their vehicles.",
            ),
            "consents": {
                "type": "array",
                "items": _object(
                    {"purpose": _STR, "granted": {"type": "boolean"}, "updated_at": _TIME}, "A purpose."
                ),
            },
            "consent_history": {
                "type": "array",
                "description": "Every consent change, with the receipt given (Kantara Consent Receipt 1.1).",
                "items": _object(
                    {
                        "id": _STR,
                        "purpose": _STR,
                        "granted": {"type": "boolean"},
                        "at": _TIME,
                        "receipt": {"type": "object"},
                    },
                    "A consent change.",
                ),
            },
            "privacy_zones": {
                "type": "array",
                "items": _object(
                    {
                        "id": _STR,
                        "label": _STR,
                        "lat": _NUM,
                        "lon": _NUM,
                        "radius_m": _NUM,
                        "created_at": _TIME,
                    },
                    "A place whose trip ends never reach an operator.",
                ),
            },
            "access_log": {
                "type": "array",
                "items": _object(
                    {"at": _TIME, "actor": _STR, "action": _STR, "reason": _STR},
                    "A time something other than the person read their data.",
                ),
            },
            "pipeline": _object(
                {
                    "pending_points": {"type": "integer"},
                    "processed_until": _NTIME,
                    "points_purged_until": _NTIME,
                },
                "Processing state; raw points before `points_purged_until` were deleted by retention.",
            ),
            "openpath": _object(
                {
                    "opcodes": {
                        "type": "array",
                        "items": _object(
                            {
                                "study": _STR,
                                "subgroup": _NSTR,
                                "issued_at": _TIME,
                                "registered_at": _NTIME,
                                "last_used_at": _NTIME,
                                "revoked_at": _NTIME,
                                "profile": {"type": "object"},
                            },
                            "An OpenPATH app sign-in code of the person (the code itself is not kept).",
                        ),
                    },
                    "inputs": {
                        "type": "array",
                        "items": _object(
                            {
                                "key": _STR,
                                "written_at": _TIME,
                                "start_time": _TIME,
                                "end_time": _TIME,
                                "label": _NSTR,
                                "status": _STR,
                                "trip_id": _NSTR,
                                "entry": {"type": "object"},
                            },
                            "A label or survey answer entered in the OpenPATH app, as the phone sent it.",
                        ),
                    },
                },
                "What the OpenPATH app sent besides locations: its sign-in codes and profile, labels, surveys.",
            ),
            "trips": {"type": "array", "items": _TRIP},
            "points": {
                "type": "array",
                "description": "Raw locations as the phone sent them (within the retention period).",
                "items": _object(
                    {
                        "ts": _TIME,
                        "lat": _NUM,
                        "lon": _NUM,
                        "accuracy": _NNUM,
                        "altitude": _NNUM,
                        "speed": _NNUM,
                        "heading": _NNUM,
                    },
                    "A location fix.",
                ),
            },
            "activities": {
                "type": "array",
                "items": _object(
                    {"ts": _TIME, "type": _STR, "confidence": {"type": ["integer", "null"]}},
                    "A motion-activity hint from the phone.",
                ),
            },
        },
        "The export document.",
    ),
}


#: The export and the schema document as OpenAPI describes them (OpenAPI 3.1 schemas are JSON Schema).
EXPORT_OPENAPI_SCHEMA: dict[str, Any] = {
    k: v for k, v in EXPORT_SCHEMA.items() if k not in ("$schema", "$id")
}
GEOJSON_EXPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The person's trips as a GeoJSON FeatureCollection (RFC 7946): one LineString feature per leg.",
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "features"],
}
JSON_SCHEMA_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "description": "A JSON Schema (draft 2020-12).",
    "properties": {
        "$schema": _STR,
        "$id": _STR,
        "title": _STR,
        "type": _STR,
        "properties": {"type": "object"},
    },
    "required": ["$schema", "type", "properties"],
}
#: A consent receipt (Kantara Initiative Consent Receipt Specification 1.1), see app.selfdata.consents.receipt.
RECEIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A consent receipt (Kantara Initiative Consent Receipt Specification 1.1).",
    "properties": {
        "version": _STR,
        "jurisdiction": _STR,
        "consentTimestamp": {"type": "integer", "description": "epoch seconds"},
        "collectionMethod": _STR,
        "consentReceiptID": _STR,
        "language": _STR,
        "piiPrincipalId": _STR,
        "piiControllers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "piiController": _STR,
                    "contact": _STR,
                    "address": _STR,
                    "email": _STR,
                    "phone": _STR,
                },
                "required": ["piiController"],
            },
        },
        "policyUrl": _STR,
        "services": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "service": _STR,
                    "purposes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "purpose": _STR,
                                "purposeCategory": {"type": "array", "items": _STR},
                                "consentType": _STR,
                                "piiCategory": {"type": "array", "items": _STR},
                                "primaryPurpose": {"type": "boolean"},
                                "termination": _STR,
                                "thirdPartyDisclosure": {"type": "boolean"},
                                "thirdPartyName": _STR,
                            },
                            "required": ["purpose"],
                        },
                    },
                },
                "required": ["service", "purposes"],
            },
        },
        "sensitive": {"type": "boolean"},
        "spiCat": {"type": "array", "items": _STR},
        "x-coachco2": {
            "type": "object",
            "properties": {"purpose_id": _STR, "granted": {"type": "boolean"}},
            "required": ["purpose_id", "granted"],
        },
    },
    "required": ["version", "consentReceiptID", "consentTimestamp", "piiPrincipalId", "services"],
}
