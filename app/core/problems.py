"""RFC 9457 problem details: the one mapping from errors to HTTP answers.

Every error the API returns is `application/problem+json` with `type`, `title`, `status` and `detail`;
validation errors add an `errors` list naming each offending field as a path (`points/17/lat`) and as a
JSON Pointer into the request body (`#/points/17/lat`). An unknown path (404), a method a path does not
accept (405, with `Allow`) and an unexpected failure (500, logged with its traceback, nothing internal told)
are problem documents too.

Titles and details are in the reader's language (`Accept-Language`: French or English, English when the
header names neither; see app/core/lang.py): each is a `Msg` holding both texts, rendered when the answer
is written, and the answer says which with `Content-Language`. Field names and pointers are never
translated.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NamedTuple

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError  # an error type, as sqlalchemy.exc's: no SQL here
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.lang import PROBLEM_DEFAULT, Msg, MsgValueError, negotiate, render
from app.emissions.coaching import Lang

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


class ProblemType(NamedTuple):
    title: Msg
    description: Msg


# slug -> what it is called and what it means: served at /problems/{slug} so that every `type` URI resolves.
PROBLEM_TYPES: dict[str, ProblemType] = {
    "validation-error": ProblemType(
        Msg("Your request is not valid", "Votre requête n'est pas valide"),
        Msg(
            "One or more fields break the API contract; `errors` names each one. Nothing of the request was "
            "stored: fix the fields and send the whole request again.",
            "Un ou plusieurs champs ne respectent pas le contrat de l'API ; `errors` les nomme un à un. Rien "
            "de la requête n'a été enregistré : corrigez les champs et renvoyez toute la requête.",
        ),
    ),
    "unauthorized": ProblemType(
        Msg("Authentication required", "Authentification requise"),
        Msg(
            "Send `Authorization: Bearer <token>` with a token from POST /v1/auth/register or "
            "POST /v1/auth/tokens. Revoked tokens stop working at once.",
            "Envoyez `Authorization: Bearer <jeton>` avec un jeton obtenu par POST /v1/auth/register ou "
            "POST /v1/auth/tokens. Un jeton révoqué cesse aussitôt de fonctionner.",
        ),
    ),
    "forbidden-role": ProblemType(
        Msg("This token's role cannot call this endpoint", "Le rôle de ce jeton ne permet pas cet appel"),
        Msg(
            "Person tokens reach /v1/me and /v1/auth; operator tokens reach /v1/operator only. Among operators, "
            "only administrators publish transit feeds, emission factors and zone sets; analysts read.",
            "Les jetons de personne ouvrent /v1/me et /v1/auth ; les jetons d'opérateur ouvrent /v1/operator "
            "seulement. Parmi les opérateurs, seuls les administrateurs publient réseaux de transport, facteurs "
            "d'émission et jeux de zones ; les analystes lisent.",
        ),
    ),
    "not-owner": ProblemType(
        Msg("Another operator owns this object", "Cet objet appartient à un autre opérateur"),
        Msg(
            "An operator deletes only the zone sets it uploaded.",
            "Un opérateur ne supprime que les jeux de zones qu'il a chargés.",
        ),
    ),
    "not-found": ProblemType(
        Msg("Not found", "Introuvable"),
        Msg(
            "There is no such object among yours, or nothing at this path.",
            "Cet objet n'existe pas parmi les vôtres, ou rien ne se trouve à cette adresse.",
        ),
    ),
    "method-not-allowed": ProblemType(
        Msg("Method not allowed", "Méthode non autorisée"),
        Msg(
            "This path exists but does not accept this HTTP method; the `Allow` header lists those it accepts.",
            "Cette adresse existe mais n'accepte pas cette méthode HTTP ; l'en-tête `Allow` donne celles "
            "qu'elle accepte.",
        ),
    ),
    "payload-too-large": ProblemType(
        Msg("Request body too large", "Corps de requête trop volumineux"),
        Msg(
            "The body, after gzip decoding, is larger than the server accepts. Send fewer points per request.",
            "Le corps, une fois décompressé (gzip), dépasse ce que le serveur accepte. Envoyez moins de points "
            "par requête.",
        ),
    ),
    "unsupported-encoding": ProblemType(
        Msg("Unsupported Content-Encoding", "Content-Encoding non pris en charge"),
        Msg(
            "Request bodies may be sent as is or with `Content-Encoding: gzip`.",
            "Le corps d'une requête s'envoie tel quel ou avec `Content-Encoding: gzip`.",
        ),
    ),
    "invalid-body": ProblemType(
        Msg("The request body cannot be read", "Le corps de la requête est illisible"),
        Msg(
            "The body is not valid JSON, or not valid gzip when `Content-Encoding: gzip` is sent.",
            "Le corps n'est pas un JSON valide, ou pas un gzip valide quand `Content-Encoding: gzip` est "
            "envoyé.",
        ),
    ),
    "privacy-budget-exhausted": ProblemType(
        Msg("Privacy budget exhausted", "Budget de confidentialité épuisé"),
        Msg(
            "This differentially private release would spend more ε than the operator's monthly budget "
            "allows. Ask again without `epsilon` (k-anonymity only) or next month.",
            "Cette diffusion en confidentialité différentielle dépenserait plus d'ε que le budget mensuel ne "
            "le permet. Redemandez sans `epsilon` (k-anonymat seul) ou le mois prochain.",
        ),
    ),
    "conflict": ProblemType(
        Msg("Conflict", "Conflit"),
        Msg(
            "The request conflicts with what exists already.",
            "La requête contredit ce qui existe déjà.",
        ),
    ),
    "rate-limited": ProblemType(
        Msg("Too many requests", "Trop de requêtes"),
        Msg(
            "This client sent more requests of this kind than the service accepts in the window. Wait for the "
            "number of seconds in `Retry-After`.",
            "Ce client a envoyé plus de requêtes de ce genre que le service n'en accepte sur la période. "
            "Attendez le nombre de secondes indiqué par `Retry-After`.",
        ),
    ),
    "service-unavailable": ProblemType(
        Msg("Service unavailable", "Service indisponible"),
        Msg(
            "The service cannot reach its database just now. Nothing was stored; retry after a moment.",
            "Le service ne peut pas joindre sa base de données pour l'instant. Rien n'a été enregistré ; "
            "réessayez dans un moment.",
        ),
    ),
    "wrong-study": ProblemType(
        Msg("This opcode is of another study", "Ce code d'accès est d'une autre étude"),
        Msg(
            "An OpenPATH opcode names its study (nrelop_<study>_<subgroup>_<code>); this server registers the "
            "opcodes of its own study only.",
            "Un code d'accès OpenPATH nomme son étude (nrelop_<étude>_<sous-groupe>_<code>) ; ce serveur "
            "n'enregistre que les codes de sa propre étude.",
        ),
    ),
    "wrong-subgroup": ProblemType(
        Msg(
            "This opcode names no subgroup of the study",
            "Ce code d'accès ne nomme aucun sous-groupe de l'étude",
        ),
        Msg(
            "An OpenPATH opcode of this study names one of the subgroups the server was configured with.",
            "Un code d'accès OpenPATH de cette étude nomme l'un des sous-groupes configurés sur le serveur.",
        ),
    ),
    "internal-error": ProblemType(
        Msg("Internal error", "Erreur interne"),
        Msg(
            "The service failed in a way it did not foresee. The failure is logged for its maintainers; the "
            "answer says nothing of its cause. Check what the request changed before sending it again.",
            "Le service a échoué d'une façon qu'il n'avait pas prévue. L'échec est consigné pour ceux qui le "
            "maintiennent ; la réponse n'en dit pas la cause. Vérifiez ce que la requête a changé avant de la "
            "renvoyer.",
        ),
    ),
}

#: HTTP statuses a library may answer with no problem type of its own: their titles in French.
_STATUS_FR: dict[int, str] = {
    400: "Requête incorrecte",
    403: "Accès interdit",
    406: "Représentation non disponible",
    408: "Délai de requête dépassé",
    411: "Longueur requise",
    414: "Adresse trop longue",
    416: "Plage non satisfaisable",
    431: "En-têtes de requête trop grands",
    501: "Non implémenté",
}


@dataclass(frozen=True)
class FieldProblem:
    """One offending field: where it is and why, the why in both languages."""

    field: str
    detail: Msg
    location: str = "body"

    def render(self, lang: Lang) -> dict[str, str]:
        return {
            "field": self.field,
            "pointer": "#/" + self.field if self.field else "#",
            "location": self.location,
            "detail": render(self.detail, lang),
        }


class FieldError(BaseModel):
    field: str = Field(description="Path of the offending field, `/`-separated (`points/17/lat`).")
    pointer: str = Field(description="JSON Pointer to the field in the request body (RFC 6901).")
    location: str = Field(description="Where the field is: body, query, path or header.")
    detail: str = Field(description="What is wrong with it, in the language of `Content-Language`.")

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
    """An error, as RFC 9457 problem details; `title` and `detail` follow `Accept-Language` (French or
    English, English by default) and `Content-Language` says which."""

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
        detail: Msg,
        *,
        headers: dict[str, str] | None = None,
        errors: list[FieldProblem] | None = None,
    ) -> None:
        super().__init__(str(detail))
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers
        self.errors = errors


#: Functions adding members to every problem document, from the ASGI scope of the request it answers (a
#: request id, say). Each returns the members to add; the standard members cannot be replaced.
PROBLEM_EXTENSIONS: list[Callable[[Scope], Mapping[str, Any]]] = []


def problem_lang(scope: Scope | None) -> Lang:
    """The language a problem answer is written in, from the request's `Accept-Language`."""
    if scope is None:
        return PROBLEM_DEFAULT
    return negotiate(Headers(scope=scope).get("accept-language"), PROBLEM_DEFAULT)


def problem_body(
    status: int,
    slug: str,
    detail: Msg,
    errors: list[FieldProblem] | None = None,
    *,
    lang: Lang = PROBLEM_DEFAULT,
) -> dict[str, Any]:
    known = PROBLEM_TYPES.get(slug)
    if known is not None:
        title = known.title.render(lang)
    else:
        phrase = HTTPStatus(status).phrase
        title = _STATUS_FR.get(status, phrase) if lang == "fr" else phrase
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if known is not None else "about:blank",
        "title": title,
        "status": status,
        "detail": render(detail, lang),
    }
    if errors is not None:
        body["errors"] = [error.render(lang) for error in errors]
    return body


def problem_response(
    status: int,
    slug: str,
    detail: Msg,
    *,
    scope: Scope | None = None,
    headers: dict[str, str] | None = None,
    errors: list[FieldProblem] | None = None,
) -> JSONResponse:
    """A problem answer to the request of `scope`, in the language its `Accept-Language` prefers."""
    lang = problem_lang(scope)
    body = problem_body(status, slug, detail, errors, lang=lang)
    if scope is not None:
        for extension in PROBLEM_EXTENSIONS:
            body = {**extension(scope), **body}
    return JSONResponse(
        body,
        status_code=status,
        headers={**(headers or {}), "Content-Language": lang, "Vary": "Accept-Language"},
        media_type=PROBLEM_MEDIA_TYPE,
    )


def unauthorized(detail: Msg) -> ProblemError:
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def not_found(what: Msg) -> ProblemError:
    """A 404 for an object of the caller's that does not exist; `what` is the object named with its
    negative determiner: `Msg("No trip", "Aucun trajet")`."""
    return ProblemError(
        404,
        "not-found",
        Msg("{what} with this id among yours.", "{what} avec cet identifiant parmi les vôtres.", what=what),
    )


def invalid_field(
    field: str, detail: Msg, location: str = "body", *, in_summary: bool = False
) -> ProblemError:
    """A 422 naming one field, shaped like the validation errors of the request schemas. With
    `in_summary`, the problem's own `detail` repeats why (for a client that shows only that line)."""
    if in_summary:
        summary = Msg(
            "1 field is not valid: {field}. {why}", "1 champ n'est pas valide : {field}. {why}", field=field,
            why=detail,
        )  # fmt: skip
    else:
        summary = Msg("1 field is not valid: {field}", "1 champ n'est pas valide : {field}", field=field)
    return ProblemError(422, "validation-error", summary, errors=[FieldProblem(field, detail, location)])


log = logging.getLogger("coachco2.problems")


class DomainProblem(NamedTuple):
    field: str
    location: str
    in_summary: bool  # the problem's own `detail` repeats the reason
    french: str  # the French detail, around the English `{reason}`


#: Domain exceptions that reach an endpoint, and the field each one is about. Subclasses are matched first.
#: Their reasons are precise technical English (the file, row and column at fault, what a parser library
#: said); a French reader gets them after a French sentence saying what could not be done.
DOMAIN_PROBLEMS: dict[tuple[str, str], DomainProblem] = {
    ("app.imports.parsers.types", "ImportFormatError"): DomainProblem(
        "file", "body", True, "Ce fichier ne peut pas être importé : {reason}"
    ),
    ("app.openpath.envelope", "EnvelopeFormatError"): DomainProblem(
        "phone_to_server", "body", False, "Ce lot envoyé par le téléphone ne peut pas être lu : {reason}"
    ),
    ("app.transit.gtfs", "GtfsError"): DomainProblem(
        "file", "body", True, "Ce réseau GTFS ne peut pas être publié : {reason}"
    ),
    ("app.statistics.zones", "ZoneFormatError"): DomainProblem(
        "body", "body", False, "Ces zones ne peuvent pas être chargées : {reason}"
    ),
}


def _domain_handler(problem: DomainProblem) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        reason = str(getattr(exc, "message", str(exc)))
        detail = Msg("{reason}", problem.french, reason=reason)
        error = invalid_field(problem.field, detail, problem.location, in_summary=problem.in_summary)
        return problem_response(
            error.status, error.slug, error.detail, scope=request.scope, errors=error.errors
        )

    return handle


def _escape(text: str) -> str:
    """A text used as a `Msg` template as it is."""
    return text.replace("{", "{{").replace("}", "}}")


#: pydantic's error types in French, by type, filled from the error's `ctx` (and `s`, a plural mark).
#: Types not listed keep pydantic's English text in both languages.
_PYDANTIC_FR: dict[str, str] = {
    "missing": "Champ obligatoire",
    "extra_forbidden": "Ce champ n'est pas prévu par le contrat",
    "greater_than": "La valeur doit être supérieure à {gt}",
    "greater_than_equal": "La valeur doit être supérieure ou égale à {ge}",
    "less_than": "La valeur doit être inférieure à {lt}",
    "less_than_equal": "La valeur doit être inférieure ou égale à {le}",
    "multiple_of": "La valeur doit être un multiple de {multiple_of}",
    "finite_number": "La valeur doit être un nombre fini",
    "string_type": "La valeur doit être un texte",
    "string_unicode": "La valeur doit être un texte (les octets reçus ne sont pas de l'Unicode valide)",
    "string_too_short": "Le texte doit compter au moins {min_length} caractère{s}",
    "string_too_long": "Le texte doit compter au plus {max_length} caractère{s}",
    "string_pattern_mismatch": "Le texte doit suivre le motif '{pattern}'",
    "too_short": "La liste doit compter au moins {min_length} élément{s}, et non {actual_length}",
    "too_long": "La liste doit compter au plus {max_length} élément{s}, et non {actual_length}",
    "int_type": "La valeur doit être un nombre entier",
    "int_parsing": "La valeur doit être un nombre entier, et ce texte n'en est pas un",
    "int_parsing_size": "Ce nombre entier est trop long pour être lu",
    "int_from_float": "La valeur doit être un nombre entier, sans partie décimale",
    "float_type": "La valeur doit être un nombre",
    "float_parsing": "La valeur doit être un nombre, et ce texte n'en est pas un",
    "bool_type": "La valeur doit être un booléen (true ou false)",
    "bool_parsing": "La valeur doit être un booléen (true ou false), et ce texte n'en est pas un",
    "uuid_type": "La valeur doit être un UUID, écrit comme un texte",
    "uuid_parsing": "La valeur doit être un UUID valide",
    "datetime_type": "La valeur doit être une date et heure",
    "datetime_parsing": "La valeur doit être une date et heure valide (RFC 3339, comme 2026-01-31T08:00:00Z)",
    "datetime_from_date_parsing": "La valeur doit être une date, ou une date et heure, valide",
    "date_type": "La valeur doit être une date",
    "date_parsing": "La valeur doit être une date valide, au format AAAA-MM-JJ",
    "date_from_datetime_parsing": "La valeur doit être une date valide, au format AAAA-MM-JJ",
    "date_from_datetime_inexact": "Une date et heure donnée pour une date doit tomber à minuit pile",
    "timezone_aware": "La date et heure doit porter son décalage horaire (Z ou +02:00)",
    "timezone_naive": "La date et heure ne doit pas porter de décalage horaire",
    "enum": "La valeur doit être {expected}",
    "literal_error": "La valeur doit être {expected}",
    "dict_type": "La valeur doit être un objet JSON",
    "model_type": "La valeur doit être un objet JSON",
    "model_attributes_type": "La valeur doit être un objet JSON",
    "list_type": "La valeur doit être une liste",
    "tuple_type": "La valeur doit être une liste",
    "set_type": "La valeur doit être une liste sans doublon",
    "none_required": "La valeur doit être null",
    "json_invalid": "Le corps n'est pas un JSON valide : {error}",
    "json_type": "Le corps doit être un texte JSON",
    "value_error": "Valeur non valide : {error}",
    "assertion_error": "Valeur non valide : {error}",
    "url_type": "La valeur doit être une URL",
    "url_parsing": "La valeur doit être une URL valide",
    "union_tag_invalid": "Le type '{tag}' (champ {discriminator}) n'est pas l'un de ceux attendus : "
    "{expected_tags}",
    "union_tag_not_found": "Le champ {discriminator}, qui dit de quel type est l'objet, manque",
}

#: the `ctx` members that hold a number of items, for the plural mark
_COUNTS = ("min_length", "max_length")


def _french_list(expected: str) -> str:
    """pydantic's `'a', 'b' or 'c'` as `'a', 'b' ou 'c'`."""
    return re.sub(r"(?<=['\"\d]) or (?=['\"\d-])", " ou ", expected)


def _ctx_value(value: Any) -> Any:
    """A number of an error's context as pydantic writes it (90.0 as 90); anything else as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def pydantic_text(error: Mapping[str, Any]) -> Msg:
    """What a pydantic error says, in both languages."""
    kind = str(error.get("type", ""))
    english = str(error.get("msg", "invalid value"))
    ctx = dict(error.get("ctx") or {})
    reason = ctx.get("error")
    if isinstance(reason, MsgValueError):
        return reason.msg
    if kind == "json_invalid":
        english = "The body is not valid JSON: " + str(reason if reason is not None else english)
    french = _PYDANTIC_FR.get(kind)
    if french is None:
        return Msg(_escape(english), _escape(english))
    params = {name: _ctx_value(value) for name, value in ctx.items()}
    if "expected" in params:
        params["expected"] = _french_list(str(params["expected"]))
    count = next((ctx[name] for name in _COUNTS if isinstance(ctx.get(name), int)), 1)
    params["s"] = "s" if count > 1 else ""
    try:
        french.format_map(params)
    except (KeyError, IndexError, ValueError):  # a ctx this version of pydantic does not give
        return Msg(_escape(english), _escape(english))
    return Msg(_escape(english), french, **params)


def _field_error(error: Mapping[str, Any]) -> FieldProblem:
    loc = [str(part) for part in error.get("loc", ())]
    location = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
    parts = loc[1:] if loc and loc[0] == location else loc
    # pydantic names the branch of a union or a function validator in the path; it is noise to a client.
    parts = [
        p for p in parts if not p.startswith(("function-", "union[")) and p not in ("float", "str", "int")
    ]
    return FieldProblem("/".join(parts), pydantic_text(error), location)


def validation_summary(errors: list[FieldProblem]) -> Msg:
    """`3 fields are not valid: a, b, c` (five names at most, then how many more)."""
    names = ", ".join(e.field or "(body)" for e in errors[:5])
    more = len(errors) - 5
    if len(errors) == 1:
        return Msg("1 field is not valid: {names}", "1 champ n'est pas valide : {names}", names=names)
    if more <= 0:
        return Msg(
            "{n} fields are not valid: {names}", "{n} champs ne sont pas valides : {names}",
            n=len(errors), names=names,
        )  # fmt: skip
    return Msg(
        "{n} fields are not valid: {names} and {more} more",
        "{n} champs ne sont pas valides : {names} et {more} autre{s}",
        n=len(errors), names=names, more=more, s="s" if more > 1 else "",
    )  # fmt: skip


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


#: what Starlette's own answers say (an unknown path, a method a path does not accept), in both languages
_NO_PATH = Msg("There is nothing at this path.", "Il n'y a rien à cette adresse.")


def _http_problem(exc: StarletteHTTPException, scope: Scope) -> tuple[str, Msg]:
    status = exc.status_code
    phrase = HTTPStatus(status).phrase
    own_words = isinstance(exc.detail, str) and exc.detail != phrase
    if status == 404 and not own_words:
        return "not-found", _NO_PATH
    if status == 405:
        allow = dict(exc.headers or {}).get("Allow", "")
        return "method-not-allowed", Msg(
            "This path does not accept {method}; it accepts {allow}.",
            "Cette adresse n'accepte pas la méthode {method} ; elle accepte {allow}.",
            method=scope.get("method", ""), allow=allow,
        )  # fmt: skip
    slug = {401: "unauthorized", 404: "not-found", 413: "payload-too-large", 429: "rate-limited"}.get(
        status, ""
    )
    english = str(exc.detail) if own_words else phrase
    french = _STATUS_FR.get(status, phrase) if slug == "" else PROBLEM_TYPES[slug].title.render("fr")
    # A library's own words have no French: a French reader gets the status in French, then those words.
    return slug, Msg(_escape(english), _escape(french + (f" ({english})" if own_words else "")))


class UnexpectedErrorMiddleware:
    """An exception no handler answered becomes a 500 problem document; its traceback goes to the log
    (redacted like every record), never to the client. An answer already under way (a streamed export)
    cannot be replaced: the exception goes on to the server, which cuts the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            route = getattr(scope.get("route"), "path", "(unmatched)")
            log.error("unexpected %s in %s %s", type(exc).__name__, scope["method"], route, exc_info=exc)
            response = problem_response(500, "internal-error", INTERNAL_ERROR, scope=scope)
            await response(scope, receive, send)


INTERNAL_ERROR = Msg(
    "The request failed on an unexpected error. It is logged; nothing more is said of it here.",
    "La requête a échoué sur une erreur inattendue. Elle est consignée ; rien de plus n'en est dit ici.",
)


def install(app: FastAPI) -> None:
    """Route every error through problem details. Call before adding other middleware, so that a 500 is
    answered inside them (logged as a request like any other)."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status, exc.slug, exc.detail, scope=request.scope, headers=exc.headers, errors=exc.errors
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(e) for e in exc.errors()]
        return problem_response(
            422, "validation-error", validation_summary(errors), scope=request.scope, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, detail = _http_problem(exc, request.scope)
        headers = dict(exc.headers or {})
        return problem_response(exc.status_code, slug, detail, scope=request.scope, headers=headers or None)

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            return await _integrity(request, exc)
        if not database_unavailable(exc):
            raise exc
        return problem_response(
            503,
            "service-unavailable",
            Msg("The database cannot be reached.", "La base de données est injoignable."),
            scope=request.scope,
            headers={"Retry-After": "5"},
        )

    async def _integrity(request: Request, exc: Exception) -> JSONResponse:
        # A write that collided with a concurrent one (a person erased while one of their requests ran,
        # two publications of one new name): nothing of this request was stored.
        log.warning(
            "a request collided with a concurrent change (%s)", type(getattr(exc, "orig", exc)).__name__
        )
        return problem_response(
            409,
            "conflict",
            Msg(
                "The request collided with a change made at the same time (for instance the account being "
                "erased); nothing of it was stored. Send it again.",
                "La requête s'est heurtée à un changement fait au même moment (par exemple l'effacement du "
                "compte) ; rien n'en a été enregistré. Renvoyez-la.",
            ),
            scope=request.scope,
        )

    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(StaleDataError, _integrity)
    # Registered per class so that they are answered here, not logged as crashes by the server.
    for exc_class in (OperationalError, DBAPIError, OSError):
        app.add_exception_handler(exc_class, _database)

    for (module, name), problem in DOMAIN_PROBLEMS.items():
        exc_type = getattr(importlib.import_module(module), name)
        app.add_exception_handler(exc_type, _domain_handler(problem))

    app.add_middleware(UnexpectedErrorMiddleware)
