"""Problem details in French and English, and 404, 405 and 500 as problem documents.

The same bad requests are sent with `Accept-Language: fr`, `en` and none: English is the default, French
is given when asked, the field names and pointers stay the same, and `Content-Language` says which.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import date
from enum import Enum
from typing import Annotated, Literal

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.core.lang import Msg, MsgValueError, negotiate
from app.core.logs import JsonFormatter, Redact
from app.core.problems import PROBLEM_EXTENSIONS, PROBLEM_TYPES, pydantic_text
from app.main import create_app
from app.settings import Settings
from tests.conftest import Person

FR = {"Accept-Language": "fr-FR,fr;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


def test_every_problem_type_has_its_own_french_title_and_description() -> None:
    for slug, (title, description) in PROBLEM_TYPES.items():
        for text in (title, description):
            assert text.fr.strip() and text.en.strip(), slug
            assert text.fr != text.en, slug
            assert text.fields() == (set(), set()), slug
    assert {"not-found", "method-not-allowed", "internal-error"} <= set(PROBLEM_TYPES)


async def test_problem_type_pages_follow_accept_language(client: httpx.AsyncClient) -> None:
    for slug, (title, description) in PROBLEM_TYPES.items():
        french = await client.get(f"/problems/{slug}", headers=FR)
        english = await client.get(f"/problems/{slug}", headers=EN)
        default = await client.get(f"/problems/{slug}")
        assert french.json() == {
            "type": f"/problems/{slug}",
            "title": title.fr,
            "description": description.fr,
        }
        assert english.json() == default.json()
        assert english.json() == {
            "type": f"/problems/{slug}",
            "title": title.en,
            "description": description.en,
        }
        assert french.headers["content-language"] == "fr" and default.headers["content-language"] == "en"


def test_negotiation_honours_quality_and_defaults_to_english_for_problems() -> None:
    assert negotiate(None, "en") == "en" and negotiate(None) == "fr"
    assert negotiate("de-DE, fr;q=0.5", "en") == "fr"
    assert negotiate("fr;q=0.1, en", "en") == "en"
    assert negotiate("de, it;q=0.8", "en") == "en"
    assert negotiate("fr;q=0, en;q=0", "fr") == "fr"
    assert negotiate("FR-be", "en") == "fr"


async def _three(client: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> list[httpx.Response]:
    """The same request without `Accept-Language`, in English and in French."""
    headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
    return [
        await client.request(method, url, headers={**headers, **extra}, **kwargs)  # type: ignore[arg-type]
        for extra in ({}, EN, FR)
    ]


def _same_problem_in_two_languages(none: httpx.Response, en: httpx.Response, fr: httpx.Response) -> None:
    for response in (none, en, fr):
        assert response.headers["content-type"] == "application/problem+json"
        assert "accept-language" in response.headers["vary"].lower()
    assert none.json() == en.json()
    assert [none.headers["content-language"], en.headers["content-language"]] == ["en", "en"]
    assert fr.headers["content-language"] == "fr"
    english, french = en.json(), fr.json()
    assert french["type"] == english["type"] and french["status"] == english["status"] == fr.status_code
    if english["type"].startswith("/problems/"):
        title = PROBLEM_TYPES[english["type"].removeprefix("/problems/")].title
        assert (english["title"], french["title"]) == (title.en, title.fr)
    assert french["detail"] != english["detail"]
    # Field names and pointers are never translated; each field's reason is.
    for field in ("field", "pointer", "location"):
        assert [e[field] for e in french.get("errors", [])] == [e[field] for e in english.get("errors", [])]
    for e_en, e_fr in zip(english.get("errors", []), french.get("errors", []), strict=True):
        assert e_fr["detail"] != e_en["detail"], e_en


async def test_the_same_bad_requests_in_french_and_english(
    client: httpx.AsyncClient, alice: Person, operator_headers: dict[str, str]
) -> None:
    none, en, fr = await _three(client, "GET", "/v1/me/trips")
    _same_problem_in_two_languages(none, en, fr)
    assert en.status_code == 401 and en.headers["www-authenticate"] == "Bearer"
    assert en.json()["detail"] == "This endpoint needs `Authorization: Bearer <token>`."
    assert fr.json()["detail"] == "Ce point d'accès demande `Authorization: Bearer <jeton>`."

    none, en, fr = await _three(client, "GET", f"/v1/me/trips/{uuid.uuid4()}", headers=alice.headers)
    _same_problem_in_two_languages(none, en, fr)
    assert en.json()["detail"] == "No trip with this id among yours."
    assert fr.json()["detail"] == "Aucun trajet avec cet identifiant parmi les vôtres."

    none, en, fr = await _three(client, "GET", "/v1/me/trips?cursor=forged", headers=alice.headers)
    _same_problem_in_two_languages(none, en, fr)
    assert fr.json()["detail"] == "1 champ n'est pas valide : cursor"
    assert fr.json()["errors"][0]["detail"] == "ce n'est pas un curseur donné par cette API"

    body = {"points": [{"ts": 1_700_000_000, "lat": 91, "lon": -1.15, "speed": "fast"}, {"lat": 46}], "x": 1}
    none, en, fr = await _three(client, "POST", "/v1/me/locations", headers=alice.headers, json=body)
    _same_problem_in_two_languages(none, en, fr)
    assert (
        en.json()["detail"]
        == "5 fields are not valid: points/0/lat, points/0/speed, points/1/ts, points/1/lon, x"
    )
    assert fr.json()["detail"] == (
        "5 champs ne sont pas valides : points/0/lat, points/0/speed, points/1/ts, points/1/lon, x"
    )
    assert {e["field"]: e["detail"] for e in fr.json()["errors"]} == {
        "points/0/lat": "La valeur doit être inférieure ou égale à 90",
        "points/0/speed": "La valeur doit être un nombre",
        "points/1/ts": "Champ obligatoire",
        "points/1/lon": "Champ obligatoire",
        "x": "Ce champ n'est pas prévu par le contrat",
    }
    old = {"points": [{"ts": 1_000_000, "lat": 46.1, "lon": -1.15}]}
    none, en, fr = await _three(client, "POST", "/v1/me/locations", headers=alice.headers, json=old)
    _same_problem_in_two_languages(none, en, fr)
    assert en.json()["errors"][0]["detail"].startswith("is before 1980")
    assert fr.json()["errors"][0]["detail"].startswith("précède 1980")

    none, en, fr = await _three(client, "GET", "/v1/me", headers=operator_headers)
    _same_problem_in_two_languages(none, en, fr)
    assert fr.json()["detail"] == "Les jetons d'opérateur n'ouvrent que /v1/operator/*."

    # A file parser's reason stays its precise English, after a French sentence saying what failed.
    not_zones = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": {"type": "Point"}}],
    }
    url = "/v1/operator/zone-sets?name=quartiers"
    none, en, fr = await _three(client, "POST", url, headers=operator_headers, json=not_zones)
    _same_problem_in_two_languages(none, en, fr)
    reason = en.json()["errors"][0]["detail"]
    assert en.status_code == 422 and "Polygon" in reason
    assert fr.json()["errors"][0]["detail"] == f"Ces zones ne peuvent pas être chargées : {reason}"

    # Answered by the body guard, before any route.
    gzip_only = {**alice.headers, "Content-Encoding": "br"}
    none, en, fr = await _three(client, "POST", "/v1/me/locations", headers=gzip_only, content=b"{}")
    _same_problem_in_two_languages(none, en, fr)
    assert fr.status_code == 415
    assert fr.json()["detail"] == "Le Content-Encoding 'br' n'est pas accepté ; utilisez gzip ou aucun."


async def test_an_unknown_path_and_a_method_not_allowed_are_problem_documents(
    client: httpx.AsyncClient, alice: Person
) -> None:
    none, en, fr = await _three(client, "GET", "/v1/nothing-here", headers=alice.headers)
    _same_problem_in_two_languages(none, en, fr)
    assert en.status_code == 404 and en.json()["type"] == "/problems/not-found"
    assert (en.json()["detail"], fr.json()["detail"]) == (
        "There is nothing at this path.",
        "Il n'y a rien à cette adresse.",
    )

    none, en, fr = await _three(client, "PUT", "/v1/me/trips", headers=alice.headers)
    _same_problem_in_two_languages(none, en, fr)
    assert en.status_code == 405 and en.json()["type"] == "/problems/method-not-allowed"
    assert "GET" in en.headers["allow"].replace(" ", "").split(",")
    assert en.json()["detail"] == f"This path does not accept PUT; it accepts {en.headers['allow']}."
    assert (
        fr.json()["detail"]
        == f"Cette adresse n'accepte pas la méthode PUT ; elle accepte {fr.headers['allow']}."
    )
    assert (await client.get(en.json()["type"])).status_code == 200
    # The person's data is untouched by the refused method.
    assert (await client.get("/v1/me/trips", headers=alice.headers)).status_code == 200


class Secret(RuntimeError):
    pass


#: a person's token, as a bug might quote it (built here so that the traceback's source line does not)
TOKEN = "cc2u_" + "Zq9" * 8


@pytest.fixture
async def failing(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, io.StringIO]]:
    """The product's app with one more route, for this test only, that reads the database and then fails
    on a bug; and the redacted JSON log the service would write."""
    app: FastAPI = create_app(Settings(database_url=database_url))

    async def fails() -> dict[str, int]:
        async with app.state.db.session() as session:
            count = await session.scalar(sa.text("SELECT COUNT(*) FROM users"))
        raise Secret(f"the bug quotes {TOKEN} and {count} rows")

    app.add_api_route("/test/fails", fails, methods=["GET"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Redact())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client, stream
    root.removeHandler(handler)
    root.setLevel(level)
    await app.state.db.dispose()


async def test_an_unexpected_error_is_a_500_problem_and_its_traceback_is_logged_redacted(
    failing: tuple[httpx.AsyncClient, io.StringIO],
) -> None:
    client, log = failing
    none, en, fr = await _three(client, "GET", "/test/fails")
    _same_problem_in_two_languages(none, en, fr)
    assert en.status_code == 500 and en.json()["type"] == "/problems/internal-error"
    for response in (en, fr):
        assert "Secret" not in response.text and "Zq9" not in response.text and "rows" not in response.text
    written = log.getvalue()
    assert "Traceback" in written and "Secret" in written and "rows" in written
    assert "Zq9" not in written
    # The access log saw the 500 answered within it, by route.
    assert '"route": "/test/fails", "status": 500' in written
    assert (await client.get(en.json()["type"])).status_code == 200


class Colour(Enum):
    RED = "red"
    GREEN = "green"


class _Everything(BaseModel):
    model_config = ConfigDict(extra="forbid")

    whole: int = Field(gt=0, lt=10)
    share: float = Field(ge=0, le=1)
    name: str = Field(min_length=2, max_length=4)
    tags: list[str] = Field(min_length=1, max_length=2)
    flag: bool
    id: uuid.UUID
    at: Annotated[str, Field(pattern=r"^\d+$")]
    day: date
    colour: Colour
    mode: Literal["walk", "bike", "car"]
    even: int

    @field_validator("even")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise MsgValueError(
                Msg("must be even, not {value}", "doit être pair, et non {value}", value=value)
            )
        if value < 0:
            raise ValueError("negative")
        return value


def test_pydantic_errors_are_given_in_french_by_type() -> None:
    bad = {"whole": 10, "share": -0.5, "name": "x", "tags": [], "flag": "perhaps", "id": "nope", "at": "x1",
           "day": "2026-13-01", "colour": "blue", "mode": "plane", "even": 3, "extra": 1}  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        _Everything.model_validate(bad)
    texts = {str(e["loc"][0]): pydantic_text(e) for e in caught.value.errors()}
    french = {field: text.render("fr") for field, text in texts.items()}
    assert french == {
        "whole": "La valeur doit être inférieure à 10",
        "share": "La valeur doit être supérieure ou égale à 0",
        "name": "Le texte doit compter au moins 2 caractères",
        "tags": "La liste doit compter au moins 1 élément, et non 0",
        "flag": "La valeur doit être un booléen (true ou false), et ce texte n'en est pas un",
        "id": "La valeur doit être un UUID valide",
        "at": "Le texte doit suivre le motif '^\\d+$'",
        "day": "La valeur doit être une date valide, au format AAAA-MM-JJ",
        "colour": "La valeur doit être 'red' ou 'green'",
        "mode": "La valeur doit être 'walk', 'bike' ou 'car'",
        "even": "doit être pair, et non 3",
        "extra": "Ce champ n'est pas prévu par le contrat",
    }
    # English is pydantic's own text, except for reasons the service words itself.
    english = {field: text.render("en") for field, text in texts.items()}
    assert english["whole"] == "Input should be less than 10" and english["even"] == "must be even, not 3"
    assert english["mode"] == "Input should be 'walk', 'bike' or 'car'"

    with pytest.raises(ValidationError) as caught:
        _Everything.model_validate({**bad, "whole": "three", "share": "half", "name": "x" * 5, "tags": ["a"] * 3,
                                    "even": -2, "day": 5.5})  # fmt: skip
    again = {str(e["loc"][0]): pydantic_text(e).render("fr") for e in caught.value.errors()}
    assert again["whole"] == "La valeur doit être un nombre entier, et ce texte n'en est pas un"
    assert again["share"] == "La valeur doit être un nombre, et ce texte n'en est pas un"
    assert again["name"] == "Le texte doit compter au plus 4 caractères"
    assert again["tags"] == "La liste doit compter au plus 2 éléments, et non 3"
    assert again["even"] == "Valeur non valide : negative"

    with pytest.raises(ValidationError) as caught:
        _Everything.model_validate_json(b'{"whole": ')
    (error,) = caught.value.errors()
    text = pydantic_text(error)
    assert text.render("en").startswith("The body is not valid JSON: ")
    assert text.render("fr").startswith("Le corps n'est pas un JSON valide : ")


async def test_problem_documents_take_extension_members_but_keep_their_own(client: httpx.AsyncClient) -> None:
    """The hook for members such as a request id: added to every problem, never replacing a standard one."""
    PROBLEM_EXTENSIONS.append(lambda scope: {"instance": scope["path"], "status": 0})
    try:
        missing = await client.get("/v1/nothing-here")
        refused = await client.delete("/health", headers=FR)
    finally:
        PROBLEM_EXTENSIONS.pop()
    assert missing.json()["instance"] == "/v1/nothing-here" and missing.json()["status"] == 404
    assert refused.json()["instance"] == "/health" and refused.json()["status"] == 405
    assert "instance" not in (await client.get("/v1/nothing-here")).json()
