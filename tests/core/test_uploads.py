"""Uploads are capped while they arrive: the raw body and multipart alike, with or without a declared
length; nothing over the cap reaches the disk, and nothing of a refused upload stays there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import register

CAP = 1024 * 1024
CHUNK = 64 * 1024
#: a body of 64 MiB: 64 times the cap
CHUNKS = 1024


class Sender:
    """A request body sent in chunks without a declared length, counting what the server pulled."""

    def __init__(self, head: bytes = b"", tail: bytes = b"") -> None:
        self.head, self.tail, self.sent = head, tail, 0

    async def body(self) -> AsyncIterator[bytes]:
        for chunk in (self.head, *([b"x" * CHUNK] * CHUNKS), self.tail):
            self.sent += len(chunk)
            yield chunk


def multipart(sender: Sender) -> tuple[dict[str, str], Sender]:
    sender.head = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.gpx"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    sender.tail = b"\r\n--b0undary--\r\n"
    return {"content-type": "multipart/form-data; boundary=b0undary"}, sender


@pytest.fixture
async def small_cap(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    folder = tmp_path / "uploads"
    app = create_app(Settings(database_url=database_url, max_import_bytes=CAP, import_dir=str(folder)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, folder
    await app.state.db.dispose()


@pytest.mark.parametrize("shape", ["raw", "multipart"])
async def test_a_body_without_declared_length_stops_at_the_cap(
    small_cap: tuple[httpx.AsyncClient, Path], shape: str
) -> None:
    client, folder = small_cap
    person = await register(client)
    sender = Sender()
    headers = dict(person.headers)
    if shape == "multipart":
        extra, sender = multipart(sender)
        headers.update(extra)
    response = await client.post("/v1/me/imports?filename=big.gpx", headers=headers, content=sender.body())
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    # the server stopped reading a little past the cap, not at the end of the 64 MiB
    assert sender.sent <= CAP + 4 * CHUNK
    assert list(folder.iterdir()) == []
    await client.delete("/v1/me", headers=person.headers)


@pytest.mark.parametrize("shape", ["raw", "multipart"])
async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    small_cap: tuple[httpx.AsyncClient, Path], shape: str
) -> None:
    client, folder = small_cap
    person = await register(client)
    sender = Sender()
    headers = {**person.headers, "content-length": str(64 * CAP)}
    if shape == "multipart":
        extra, sender = multipart(sender)
        headers.update(extra)
    response = await client.post("/v1/me/imports?filename=big.gpx", headers=headers, content=sender.body())
    assert response.status_code == 413
    assert sender.sent <= CHUNK + len(sender.head)
    assert not folder.exists() or list(folder.iterdir()) == []
    await client.delete("/v1/me", headers=person.headers)


async def test_a_transit_feed_is_capped_the_same_way(
    small_cap: tuple[httpx.AsyncClient, Path], operator_headers: dict[str, str]
) -> None:
    client, _ = small_cap
    headers, sender = multipart(Sender())
    response = await client.put(
        "/v1/operator/transit-feeds/big", headers={**operator_headers, **headers}, content=sender.body()
    )
    assert response.status_code == 413
    assert sender.sent <= CAP + 4 * CHUNK


async def test_multipart_without_a_file_field_or_with_two_is_named(
    small_cap: tuple[httpx.AsyncClient, Path],
) -> None:
    client, folder = small_cap
    person = await register(client)
    other = await client.post(
        "/v1/me/imports", headers=person.headers, files={"document": ("a.gpx", b"<gpx/>")}
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "file"
    two = await client.post(
        "/v1/me/imports",
        headers=person.headers,
        files=[("file", ("a.gpx", b"<gpx/>")), ("file", ("b.gpx", b"<gpx/>"))],
    )
    assert two.status_code == 422
    assert "alone" in two.json()["detail"]
    broken = await client.post(
        "/v1/me/imports",
        headers={**person.headers, "content-type": "multipart/form-data"},
        content=b"--x\r\n",
    )
    assert broken.status_code == 422
    assert list(folder.iterdir()) == []
    await client.delete("/v1/me", headers=person.headers)
