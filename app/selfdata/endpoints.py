"""The person's rights over their data: see what is held, take it away, erase it, decide its uses."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.exc import DBAPIError

from app.core.deps import AUTH_ERRORS, TOKEN_UNKNOWN, CurrentUser, DatabaseDep, SessionDep, SettingsDep
from app.core.lang import LangDep, Msg
from app.core.problems import Problem, is_transient, not_found, unauthorized
from app.core.ratelimit import ExportLimit
from app.core.schemas import rfc3339_ms
from app.emissions.coaching import Lang
from app.imports import repository as imports_store
from app.imports.service import stop_imports_of
from app.mobility import personal
from app.mobility.modes import FAMILY
from app.models import (
    Consent,
    ConsentEvent,
    Leg,
    MotionActivity,
    PrivacyZone,
    Trip,
    utcnow,
)
from app.pipeline.reconcile import shared_columns
from app.selfdata import repository as store
from app.selfdata.consents import PURPOSES, Purpose, receipt
from app.selfdata.export import FORMATS, export_stream, held
from app.selfdata.export_schema import (
    EXPORT_OPENAPI_SCHEMA,
    EXPORT_SCHEMA,
    GEOJSON_EXPORT_SCHEMA,
    JSON_SCHEMA_DOCUMENT,
    RECEIPT_SCHEMA,
)
from app.selfdata.privacy_zones import SharedEnds, Zone, shared_ends
from app.selfdata.schemas import (
    AccessList,
    AccessOut,
    ConsentChangeOut,
    ConsentIn,
    ConsentList,
    ConsentOut,
    DeviceOut,
    HeldOut,
    LearnedCorrection,
    LearningIn,
    LearningOut,
    ReceiptList,
    ReceiptOut,
    RetentionIn,
    ZoneIn,
    ZoneList,
    ZoneOut,
)
from app.trips import repository as trip_store
from app.trips import service as trip_service

router = APIRouter(prefix="/v1/me", tags=["self data"])
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": Problem, "description": "Not among yours."}}

USES: dict[Lang, dict[str, str]] = {
    "en": {
        "points": "Turned into your trips, then deleted after your retention period. Never shown to anyone else.",
        "activities": "Your phone's motion hints: evidence for the transport mode of each leg.",
        "trips": "Your trips, legs, modes and CO2e: shown to you, and counted in the territory's anonymous "
        "statistics only if you grant `territory_statistics`.",
        "profile": "Picks the right emission factor for your car and bike.",
        "devices": "Lets your devices sign in; each can be revoked.",
        "consents": "Records what you allowed, with a receipt for each change.",
        "privacy_zones": "Keeps the ends of your trips in these places out of anything an operator can see.",
        "access_log": "Shows you each time something other than you read your data.",
        "learning": "The legs you confirm or correct teach how your later legs are read (GET /v1/me/learning); "
        "you can switch it off.",
    },
    "fr": {
        "points": "Transformés en trajets, puis supprimés après votre durée de conservation. Jamais montrés à "
        "personne d'autre.",
        "activities": "Les indications de mouvement de votre téléphone : des indices du mode de transport.",
        "trips": "Vos trajets, étapes, modes et CO2e : montrés à vous, et comptés dans les statistiques "
        "anonymes du territoire seulement si vous accordez `territory_statistics`.",
        "profile": "Choisit le bon facteur d'émission pour votre voiture et votre vélo.",
        "devices": "Permet à vos appareils de se connecter ; chacun peut être révoqué.",
        "consents": "Garde trace de ce que vous avez autorisé, avec un reçu pour chaque changement.",
        "privacy_zones": "Tient les extrémités de vos trajets dans ces lieux hors de tout ce qu'un opérateur voit.",
        "access_log": "Vous montre chaque fois que quelque chose d'autre que vous a lu vos données.",
        "learning": "Les étapes que vous confirmez ou corrigez apprennent à lire vos étapes suivantes "
        "(GET /v1/me/learning) ; vous pouvez l'arrêter.",
    },
}

# The JSON exports as OpenAPI describes them (gpx and zip are files, described by their media type).
EXPORT_CONTENT = {"application/json": EXPORT_OPENAPI_SCHEMA, "application/geo+json": GEOJSON_EXPORT_SCHEMA}


def _consent_out(purpose: Purpose, current: Consent | None, lang: Lang) -> ConsentOut:
    return ConsentOut(
        purpose=purpose.id,
        title=purpose.title[lang],
        description=purpose.description[lang],
        granted=bool(current and current.granted),
        updated_at=current.updated_at if current else None,
    )


@router.get("", response_model=HeldOut, responses=AUTH_ERRORS)
async def what_is_held(session: SessionDep, user: CurrentUser, lang: LangDep) -> HeldOut:
    """Everything held about the person: account, devices with their last use, counts of points, trips
    and legs, the oldest and newest point, retention, consents, and what each kind of data serves."""
    account = await store.user(session, user.user_id)
    assert account is not None
    points, oldest, newest = await store.point_stats(session, user.user_id)
    counts = {
        "points": points,
        "activities": await store.count(session, MotionActivity, user.user_id),
        "trips": await store.count(session, Trip, user.user_id),
        "legs": await store.count(session, Leg, user.user_id),
    }
    consents = await store.consents(session, user.user_id)
    zones = await store.zones(session, user.user_id)
    devices = await store.tokens(session, user.user_id)
    state = await store.pipeline_state(session, user.user_id)
    learning = await learning_of(session, user.user_id, account.learn_from_confirmations, lang)
    await session.commit()
    return HeldOut(
        user_id=account.id,
        created_at=account.created_at,
        devices=[
            DeviceOut(
                id=t.id,
                device_label=t.device_label,
                created_at=t.created_at,
                last_used_at=t.last_used_at,
                revoked_at=t.revoked_at,
            )
            for t in devices
        ],
        counts=counts,
        oldest_point=rfc3339_ms(oldest),
        newest_point=rfc3339_ms(newest),
        retention={
            "point_retention_days": account.point_retention_days,
            "points_purged_until": rfc3339_ms(state.purged_until_ms) if state else None,
        },
        consents=[_consent_out(p, consents.get(p.id), lang) for p in PURPOSES.values()],
        privacy_zones=len(zones),
        learning=learning,
        uses=USES[lang],
    )


LEARNING_EXPLANATION: dict[Lang, str] = {
    "en": "Each later leg is compared with the legs you confirmed or corrected, and with what the rules had "
    "said of them: when legs like it were mostly, say, a bus the rules took for a car, it becomes a bus, and "
    "its reasons say so (`your_confirmations`). It starts from {starts} confirmed legs; a confirmation counts "
    "half as much every {half_life:.0f} days. Nothing of it leaves your account, and it is erased with it.",
    "fr": "Chaque étape suivante est comparée aux étapes que vous avez confirmées ou corrigées, et à ce que "
    "les règles en avaient dit : quand des étapes semblables étaient surtout, par exemple, un bus que les "
    "règles prenaient pour une voiture, elle devient un bus, et ses raisons le disent "
    "(`your_confirmations`). Cela commence à {starts} étapes confirmées ; une confirmation compte moitié "
    "moins tous les {half_life:.0f} jours. Rien n'en sort de votre compte, et tout est effacé avec lui.",
}


async def learning_of(session: SessionDep, user_id: uuid.UUID, enabled: bool, lang: Lang) -> LearningOut:
    """What the person's confirmations taught, as :class:`LearningOut`."""
    confirmed, recent, revised, agreed = await store.learning_counts(session, user_id)
    teaching = [(mode, rules) for mode, rules in recent if FAMILY.get(mode) in personal.LEARNED_FAMILIES]
    taught = dict(sorted(Counter(mode for mode, _ in teaching).items()))
    pairs = Counter((rules, mode) for mode, rules in teaching if FAMILY.get(rules) != FAMILY.get(mode))
    return LearningOut(
        corrections=[
            LearnedCorrection(rules_said=rules, you_said=mode, legs=n)
            for (rules, mode), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        enabled=enabled,
        active=enabled and sum(taught.values()) >= personal.MIN_CONFIRMED,
        confirmed_legs=confirmed,
        teaching_legs=taught,
        legs_revised=revised,
        legs_confirmed_by_habits=agreed,
        starts_from=personal.MIN_CONFIRMED,
        half_life_days=personal.HALF_LIFE_DAYS,
        explanation=LEARNING_EXPLANATION[lang].format(
            starts=personal.MIN_CONFIRMED, half_life=personal.HALF_LIFE_DAYS
        ),
    )


@router.get("/learning", response_model=LearningOut, responses=AUTH_ERRORS)
async def get_learning(session: SessionDep, user: CurrentUser, lang: LangDep) -> LearningOut:
    """What the legs you confirmed or corrected taught about your later legs, and whether it is on."""
    account = await store.user(session, user.user_id)
    assert account is not None
    out = await learning_of(session, user.user_id, account.learn_from_confirmations, lang)
    await session.commit()
    return out


@router.put("/learning", response_model=LearningOut, responses=AUTH_ERRORS)
async def set_learning(
    session: SessionDep, settings: SettingsDep, user: CurrentUser, body: LearningIn, lang: LangDep
) -> LearningOut:
    """Switch learning from your confirmations on or off. Off: the legs it revised get back the mode the
    rules gave them (with its CO2e) at once, and later legs are inferred by the rules alone; your
    confirmations and corrections themselves stay. On again: legs processed from then on use it."""
    await store.set_learning(session, user.user_id, body.enabled)
    if not body.enabled:
        legs = await store.learned_legs(session, user.user_id)
        await trip_service.forget_learned_modes(
            session, settings.emission_policy, ZoneInfo(settings.timezone), legs
        )
    out = await learning_of(session, user.user_id, body.enabled, lang)
    await session.commit()
    return out


#: how many times an erasure is tried when the database rolls it back over a collision
ERASE_ATTEMPTS = 5


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, responses=AUTH_ERRORS)
async def erase_me(
    request: Request, session: SessionDep, settings: SettingsDep, db: DatabaseDep, user: CurrentUser
) -> Response:
    """Erase the account and everything derived from it, in every table, in one transaction. Every token
    stops working at once; imports under way stop and their files are removed; on SQLite the freed pages
    are overwritten and the journal emptied, so no erased byte stays in the files. Anonymous aggregates
    already published stay: no one can be told apart in them."""
    imports_under_way = await imports_store.live_of_user(session, user.user_id)
    for attempt in range(ERASE_ATTEMPTS):
        try:
            await store.erase(session, user.user_id)
            await session.commit()
            break
        except DBAPIError as exc:
            # PostgreSQL may pick the erasure as the one to roll back when it collides with the person's
            # own requests under way (a deadlock): the erasure is what the person asked for, so it goes again
            await session.rollback()
            if not is_transient(exc) or attempt == ERASE_ATTEMPTS - 1:
                raise
    await stop_imports_of(request.app.state.imports_running, imports_under_way, settings.import_dir)
    await db.forget_erased()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/retention", response_model=HeldOut, responses=AUTH_ERRORS)
async def set_retention(session: SessionDep, user: CurrentUser, body: RetentionIn, lang: LangDep) -> HeldOut:
    """How many days raw points are kept once taken into trips (0 to 365; default 30). Trips stay until
    the person deletes them. The purge runs about once an hour."""
    await store.set_retention_days(session, user.user_id, body.point_retention_days)
    return await what_is_held(session, user, lang)


@router.get(
    "/export",
    responses={
        **AUTH_ERRORS,
        200: {
            "description": "Everything held, streamed.",
            "content": {media: {"schema": EXPORT_CONTENT.get(media, {})} for media, _ in FORMATS.values()},
        },
    },
    response_class=StreamingResponse,
)
async def export(
    session: SessionDep,
    db: DatabaseDep,
    user: CurrentUser,
    _: ExportLimit,
    format: Annotated[
        Literal["json", "geojson", "gpx", "csv"], Query(description="json, geojson, gpx or csv")
    ] = "json",
) -> StreamingResponse:
    """Everything held about the person, streamed: `json` (complete; its JSON Schema is at
    /v1/me/export/schema), `geojson` (a FeatureCollection of trips and legs), `gpx` (GPX 1.1, a track per
    trip with its points) or `csv` (a zip, one file per table). The export is recorded in the access log
    with the device that asked for it. The stream reads through its own connection: the request's session
    is closed by the time the body is sent."""
    tokens = {t.id: t for t in await store.tokens(session, user.user_id)}
    label = tokens[user.token_id].device_label if user.token_id in tokens else None
    await store.log_access(
        session,
        [user.user_id],
        actor=f"device: {label or str(user.token_id)[:8]}",
        action="export",
        reason=f"export in {format} format requested with this device's token",
    )
    small_tables = await held(session, user.user_id)
    if small_tables is None:  # erased between the token check and now
        raise unauthorized(TOKEN_UNKNOWN)
    await session.commit()
    media, extension = FORMATS[format]
    stamp = utcnow().strftime("%Y%m%d")
    return StreamingResponse(
        export_stream(db, user.user_id, format, small_tables),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="coachco2-export-{stamp}.{extension}"'},
    )


class SchemaResponse(JSONResponse):
    media_type = "application/schema+json"


@router.get(
    "/export/schema",
    response_class=SchemaResponse,
    responses={**AUTH_ERRORS, 200: {"description": "A JSON Schema (draft 2020-12).", "content": {
        "application/schema+json": {"schema": JSON_SCHEMA_DOCUMENT}}}},
)  # fmt: skip
async def export_schema(user: CurrentUser) -> SchemaResponse:
    """The JSON Schema of the `json` export."""
    return SchemaResponse(EXPORT_SCHEMA)


@router.get("/consents", response_model=ConsentList, responses=AUTH_ERRORS)
async def list_consents(session: SessionDep, user: CurrentUser, lang: LangDep) -> ConsentList:
    """Each purpose of use with a plain-language description and the person's answer (off until granted)."""
    current = await store.consents(session, user.user_id)
    await session.commit()
    return ConsentList(consents=[_consent_out(p, current.get(p.id), lang) for p in PURPOSES.values()])


@router.put("/consents/{purpose}", response_model=ConsentChangeOut, responses={**AUTH_ERRORS, **NOT_FOUND})
async def change_consent(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    purpose: str,
    body: ConsentIn,
    lang: LangDep,
) -> ConsentChangeOut:
    """Grant or revoke one purpose. The change is kept in an append-only history and answered with a
    receipt (Kantara Consent Receipt 1.1) that can be listed and downloaded again. Revoking excludes the
    person from every later aggregate at once; anonymous figures already published stay as they are."""
    found = PURPOSES.get(purpose)
    if found is None:
        raise not_found(Msg("No purpose", "Aucune finalité"))
    at = utcnow()
    event_id = uuid.uuid4()
    document = receipt(
        settings=settings,
        user_id=user.user_id,
        purpose=found,
        granted=body.granted,
        at=at,
        receipt_id=event_id,
        lang=lang,
    )
    event = ConsentEvent(
        id=event_id, user_id=user.user_id, purpose=purpose, granted=body.granted, at=at, receipt=document
    )
    await store.set_consent(session, user.user_id, purpose, body.granted, event)
    current = (await store.consents(session, user.user_id)).get(purpose)
    await session.commit()
    return ConsentChangeOut(consent=_consent_out(found, current, lang), receipt=document)


@router.get("/consents/receipts", response_model=ReceiptList, responses=AUTH_ERRORS)
async def list_receipts(session: SessionDep, user: CurrentUser) -> ReceiptList:
    """Every consent change, oldest first, with its receipt."""
    events = await store.consent_events(session, user.user_id)
    await session.commit()
    return ReceiptList(
        receipts=[
            ReceiptOut(id=e.id, purpose=e.purpose, granted=e.granted, at=e.at, receipt=e.receipt)
            for e in events
        ]
    )


@router.get(
    "/consents/receipts/{receipt_id}",
    response_class=JSONResponse,
    responses={
        **AUTH_ERRORS,
        **NOT_FOUND,
        200: {"description": "The receipt.", "content": {"application/json": {"schema": RECEIPT_SCHEMA}}},
    },
)
async def get_receipt(session: SessionDep, user: CurrentUser, receipt_id: uuid.UUID) -> JSONResponse:
    """One receipt, as a JSON file to keep."""
    event = await store.consent_event(session, user.user_id, receipt_id)
    await session.commit()
    if event is None:
        raise not_found(Msg("No receipt", "Aucun reçu"))
    return JSONResponse(
        event.receipt,
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{receipt_id}.json"'},
    )


def _zone_out(z: PrivacyZone) -> ZoneOut:
    return ZoneOut(id=z.id, label=z.label, lat=z.lat, lon=z.lon, radius_m=z.radius_m, created_at=z.created_at)


async def _refresh_shared(session: SessionDep, user_id: uuid.UUID, tz: ZoneInfo) -> None:
    """Recut every trip's shared ends after the zones changed (the person's trips only)."""
    zones = [Zone(z.lat, z.lon, z.radius_m) for z in await store.zones(session, user_id)]
    trips = await trip_store.between(session, user_id, 0, 2**62)
    legs = await trip_store.legs_of(session, user_id, [t.id for t in trips], geometry=True)
    updates = []
    for trip in trips:
        path = [p for leg in legs.get(trip.id, []) for p in leg.geometry]
        if zones:
            shared = shared_ends(path, zones)
        elif path:
            shared = SharedEnds(trip.start_lat, trip.start_lon, trip.end_lat, trip.end_lon, trip.distance_m)
        else:
            shared = None
        updates.append({"id": trip.id, **shared_columns(shared)})
    await trip_service.set_shared_ends(session, user_id, tz, updates)


@router.get("/privacy-zones", response_model=ZoneList, responses=AUTH_ERRORS)
async def list_zones(session: SessionDep, user: CurrentUser) -> ZoneList:
    """The places whose trip ends the person keeps to themselves."""
    zones = await store.zones(session, user.user_id)
    await session.commit()
    return ZoneList(zones=[_zone_out(z) for z in zones])


@router.post("/privacy-zones", status_code=201, response_model=ZoneOut, responses=AUTH_ERRORS)
async def add_zone(session: SessionDep, settings: SettingsDep, user: CurrentUser, body: ZoneIn) -> ZoneOut:
    """Declare a place (a circle of 100 m to 2 km). The first and last metres of trips inside it are cut
    from anything an operator can derive, for past and future trips alike; the person still sees their
    trips whole."""
    zone = PrivacyZone(
        user_id=user.user_id, label=body.label, lat=body.lat, lon=body.lon, radius_m=body.radius_m
    )
    await store.add_privacy_zone(session, zone)
    await _refresh_shared(session, user.user_id, ZoneInfo(settings.timezone))
    out = _zone_out(zone)
    await session.commit()
    return out


@router.delete(
    "/privacy-zones/{zone_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**AUTH_ERRORS, **NOT_FOUND}
)
async def delete_zone(
    session: SessionDep, settings: SettingsDep, user: CurrentUser, zone_id: uuid.UUID
) -> Response:
    zone = await store.privacy_zone(session, user.user_id, zone_id)
    if zone is None:
        raise not_found(Msg("No privacy zone", "Aucune zone de confidentialité"))
    await store.delete_privacy_zone(session, zone)
    await _refresh_shared(session, user.user_id, ZoneInfo(settings.timezone))
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/access-log", response_model=AccessList, responses=AUTH_ERRORS)
async def access_log(
    session: SessionDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> AccessList:
    """Each time something other than the person read their data (an export, an aggregate that counted
    them, an administrator's action), newest first, with when and why."""
    entries = await store.access_log(session, user.user_id, limit=limit)
    await session.commit()
    return AccessList(
        entries=[AccessOut(at=e.at, actor=e.actor, action=e.action, reason=e.reason) for e in entries]
    )
