"""Registration, tokens per device, revocation, hashing, and the separation of roles."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from app.models import ApiToken
from tests.conftest import Person, register


async def test_register_gives_a_pseudonymous_id_and_a_long_random_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/register", json={})
    assert response.status_code == 201
    body = response.json()
    uuid.UUID(body["user_id"])
    assert body["token"].startswith("cc2u_")
    # 32 random bytes in URL-safe base64 are 43 characters, after the prefix.
    assert len(body["token"]) >= 5 + 43
    other = (await client.post("/v1/auth/register")).json()
    assert other["token"] != body["token"] and other["user_id"] != body["user_id"]


async def test_register_refuses_unknown_fields_and_names_them(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/register", json={"email": "someone@example.org"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["email"]
    long_label = await client.post("/v1/auth/register", json={"device_label": "x" * 101})
    assert [e["field"] for e in long_label.json()["errors"]] == ["device_label"]


async def test_the_database_never_holds_a_token_in_clear(app: FastAPI, client: httpx.AsyncClient) -> None:
    person = await register(client, "phone")
    second = (await client.post("/v1/auth/tokens", headers=person.headers, json={})).json()["token"]
    async with app.state.db.session() as session:
        rows = (await session.execute(sa.select(ApiToken))).scalars().all()
        dump = " ".join(str(getattr(row, c.key)) for row in rows for c in ApiToken.__table__.columns)
    for secret in (person.token, second):
        assert secret not in dump
        assert secret[5:] not in dump
        assert hashlib.sha256(secret.encode()).hexdigest() in dump


async def test_missing_unknown_and_malformed_tokens_are_401_with_www_authenticate(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({}, {"Authorization": "Bearer cc2u_not-a-real-token"}, {"Authorization": "Basic abc"}):
        response = await client.get("/v1/me/pipeline", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_second_device_gets_its_own_token(client: httpx.AsyncClient, alice: Person) -> None:
    response = await client.post("/v1/auth/tokens", headers=alice.headers, json={"device_label": "tablet"})
    assert response.status_code == 201
    body = response.json()
    assert body["user_id"] == str(alice.user_id)
    assert body["token"] != alice.token
    tablet = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/v1/me/pipeline", headers=tablet)).status_code == 200
    listed = (await client.get("/v1/auth/tokens", headers=tablet)).json()["tokens"]
    assert {t["device_label"] for t in listed} == {"alice's phone", "tablet"}
    assert [t["current"] for t in listed if t["device_label"] == "tablet"] == [True]


async def test_revoking_the_current_token_stops_it_at_once(client: httpx.AsyncClient, alice: Person) -> None:
    spare = (await client.post("/v1/auth/tokens", headers=alice.headers)).json()["token"]
    assert (await client.delete("/v1/auth/tokens/current", headers=alice.headers)).status_code == 204
    assert (await client.get("/v1/me/pipeline", headers=alice.headers)).status_code == 401
    assert (await client.delete("/v1/auth/tokens/current", headers=alice.headers)).status_code == 401
    # The other device keeps working.
    spare_headers = {"Authorization": f"Bearer {spare}"}
    assert (await client.get("/v1/me/pipeline", headers=spare_headers)).status_code == 200


async def test_a_lost_phone_can_be_revoked_from_another_device(
    client: httpx.AsyncClient, alice: Person
) -> None:
    laptop = (await client.post("/v1/auth/tokens", headers=alice.headers)).json()
    laptop_headers = {"Authorization": f"Bearer {laptop['token']}"}
    response = await client.delete(f"/v1/auth/tokens/{alice.token_id}", headers=laptop_headers)
    assert response.status_code == 204
    assert (await client.get("/v1/me/pipeline", headers=alice.headers)).status_code == 401
    again = await client.delete(f"/v1/auth/tokens/{alice.token_id}", headers=laptop_headers)
    assert again.status_code == 404


async def test_another_persons_token_answers_404(
    client: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    response = await client.delete(f"/v1/auth/tokens/{bob.token_id}", headers=alice.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/me/pipeline", headers=bob.headers)).status_code == 200
    listed = (await client.get("/v1/auth/tokens", headers=alice.headers)).json()["tokens"]
    assert [t["id"] for t in listed] == [str(alice.token_id)]


async def test_an_operator_token_is_refused_on_personal_endpoints(
    client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    for method, path in (
        ("GET", "/v1/me/pipeline"),
        ("POST", "/v1/me/locations"),
        ("POST", "/v1/auth/tokens"),
        ("GET", "/v1/auth/tokens"),
        ("DELETE", "/v1/auth/tokens/current"),
    ):
        response = await client.request(method, path, headers=operator_headers, json={"points": []})
        assert response.status_code == 403, (method, path)
        assert response.json()["type"] == "/problems/forbidden-role"


async def test_a_person_token_is_refused_on_operator_endpoints(
    client: httpx.AsyncClient, alice: Person, operator_headers: dict[str, str]
) -> None:
    assert (await client.get("/v1/operator/me", headers=alice.headers)).status_code == 403
    assert (await client.get("/v1/operator/me")).status_code == 401
    response = await client.get("/v1/operator/me", headers=operator_headers)
    assert response.status_code == 200
    assert response.json()["name"].startswith("operator-")


async def test_last_use_of_a_token_is_recorded(client: httpx.AsyncClient, alice: Person) -> None:
    before = (await client.get("/v1/auth/tokens", headers=alice.headers)).json()["tokens"][0]
    assert before["last_used_at"] is not None
    assert before["last_used_at"].endswith("Z")
