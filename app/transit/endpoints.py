"""The territory's public transport networks: the operator publishes GTFS feeds; the pipeline uses
their stops and lines to tell buses, trams and trains from cars (see `app/mobility/transit.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

from fastapi import APIRouter, Request, Response, status

from app.accounts import repository as accounts
from app.core.deps import (
    ADMIN_ERRORS,
    OPERATOR_ERRORS,
    CurrentOperator,
    SessionDep,
    SettingsDep,
    TerritoryAdmin,
)
from app.core.lang import Msg
from app.core.offload import in_process
from app.core.problems import Problem, ProblemError, invalid_field, not_found
from app.core.uploads import save_upload
from app.models import TransitFeed
from app.transit import FEED_NAME, read_gtfs
from app.transit import repository as store
from app.transit.schemas import TransitFeedList, TransitFeedOut

router = APIRouter(prefix="/v1/operator/transit-feeds", tags=["operator"])


def feed_out(row: TransitFeed) -> TransitFeedOut:
    return TransitFeedOut(
        name=row.name,
        stops=row.stops,
        routes=row.routes,
        bbox=[row.min_lon, row.min_lat, row.max_lon, row.max_lat],
        created_at=row.created_at,
    )


def _check_name(name: str) -> None:
    if not FEED_NAME.match(name):
        raise invalid_field(
            "name",
            Msg(
                "1 to 40 lower-case letters, digits and dashes, starting with a letter or digit",
                "de 1 à 40 lettres minuscules, chiffres et tirets, commençant par une lettre ou un chiffre",
            ),
            "path",
        )


@router.get("", response_model=TransitFeedList, responses=OPERATOR_ERRORS)
async def list_feeds(session: SessionDep, operator: CurrentOperator) -> TransitFeedList:
    """The networks published so far, by name."""
    feeds = [feed_out(f) for f in await store.list_feeds(session)]
    await session.commit()
    return TransitFeedList(feeds=feeds)


@router.put(
    "/{name}",
    response_model=TransitFeedOut,
    responses={
        **ADMIN_ERRORS,
        200: {"description": "A feed of that name was replaced."},
        201: {"model": TransitFeedOut, "description": "The feed was published."},
        413: {"model": Problem, "description": "The file is larger than the server accepts."},
        422: {
            "model": Problem,
            "description": "Not a usable GTFS feed: the detail names file, row and column.",
        },
    },
    openapi_extra={
        "requestBody": {
            "content": {
                # The raw zip, whatever its Content-Type but multipart (application/zip as well).
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            }
        }
    },
)
async def put_feed(
    name: str,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    operator: TerritoryAdmin,
) -> TransitFeedOut:
    """Publish the territory's public transport network as a GTFS zip (the raw body, or multipart with a
    `file` field), under a name of your choice (`yelo`, `ter-nouvelle-aquitaine`...). A feed of the same
    name is replaced in one go. From then on the pipeline takes a motorised leg that sets off from and
    arrives at stops of one line, halting at its stops, as that line's bus, tram, metro or train, and one
    halting away from any stop as a car; trips already built keep their modes until an administrator runs
    `coachco2 reprocess`. A bad feed is refused with a message naming the file, row and column, and the
    published network stays as it was. Needs the administrator role; every publication is recorded in
    `/v1/operator/actions`."""
    _check_name(name)
    # End the token check's transaction before the body arrives and is read (see app/imports/endpoints.py)
    await session.commit()
    folder = Path(settings.import_dir)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    target = folder / f"transit-{uuid.uuid4()}.zip"
    try:
        await save_upload(request, target, settings.max_import_bytes, Msg("the GTFS zip", "le zip GTFS"))
        # read in a worker process (app/core/offload.py); a bad feed answers 422 (core/problems)
        network = await in_process(read_gtfs, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(target.unlink)
    stored = await store.replace_feed(session, name, network)
    if stored is None:
        raise ProblemError(
            409,
            "conflict",
            Msg(
                "Another publication of the feed {name!r} was under way; send it again.",
                "Une autre publication du réseau {name!r} était en cours ; renvoyez-le.",
                name=name,
            ),
        )
    feed, replaced = stored
    await accounts.record_action(
        session,
        operator,
        "transit_feed.replace" if replaced else "transit_feed.publish",
        name,
        {"stops": feed.stops, "routes": feed.routes},
    )
    out = feed_out(feed)
    await session.commit()
    response.status_code = status.HTTP_200_OK if replaced else status.HTTP_201_CREATED
    return out


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ADMIN_ERRORS, 404: {"model": Problem, "description": "No feed of that name."}},
)
async def delete_feed(name: str, session: SessionDep, operator: TerritoryAdmin) -> Response:
    """Withdraw a network: new processing no longer uses its stops. Needs the administrator role; the
    withdrawal is recorded in `/v1/operator/actions`."""
    _check_name(name)
    if not await store.delete_feed(session, name):
        raise not_found(Msg("No transit feed", "Aucun réseau de transport"))
    await accounts.record_action(session, operator, "transit_feed.withdraw", name)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
