"""`DELETE /v1/me` racing the same person's requests: every answer is a success, a 401 (the token is gone),
a 404 or a 409 (a write that collided with the erasure), never a 5xx, and nothing of the person stays."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.conftest import register

POINTS = [{"ts": 1_700_000_000 + i, "lat": 46.1591 + i * 1e-5, "lon": -1.152} for i in range(200)]


async def test_erasure_racing_the_persons_own_requests_never_fails(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    for attempt in range(6):
        person = await register(client)
        h = person.headers

        def requests() -> list[object]:
            return [
                client.post("/v1/me/locations", headers=h, json={"points": POINTS[i::4]}) for i in range(4)
            ] + [
                client.post("/v1/auth/tokens", headers=h, json={"device_label": "tablet"}),
                client.post(
                    "/v1/me/privacy-zones", headers=h, json={"label": "home", "lat": 46.16, "lon": -1.15}
                ),
                client.put("/v1/me/consents/territory_statistics", headers=h, json={"granted": True}),
                client.put("/v1/me/retention", headers=h, json={"days": 7}),
                client.get("/v1/me/export?format=json", headers=h),
                client.post("/v1/me/imports?filename=a.gpx", headers=h, content=b"<gpx></gpx>"),
            ]

        racing = requests()
        racing.insert(attempt % len(racing), client.delete("/v1/me", headers=h))
        answers = await asyncio.gather(*racing)  # type: ignore[call-overload]
        statuses = [a.status_code for a in answers]
        assert all(s < 500 for s in statuses), [
            (a.request.url.path, a.status_code, a.text[:200]) for a in answers
        ]
        assert 204 in statuses
        assert (await client.get("/v1/me", headers=h)).status_code == 401
    for task in list(app.state.import_tasks):
        await task
