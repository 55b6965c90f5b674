"""Answers of the exact monthly publications (app/statistics/publication_endpoints.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import DateText, InstantText, MonthText

_CELL: dict[str, Any] = {"people": 14, "trips": 212.0, "passenger_km": 1830.4, "co2e_g": 201340.0, "suppressed": False,
         "reason": None}  # fmt: skip
_HIDDEN: dict[str, Any] = {"people": None, "trips": None, "passenger_km": None, "co2e_g": None, "suppressed": True,
           "reason": "fewer than 11 people"}  # fmt: skip
_MODE: dict[str, Any] = {"mode": "bus", **_CELL}
_DAY: dict[str, Any] = {"day": "2026-11-02", "total": _CELL, "modes": [_MODE, {"mode": "bike", **_HIDDEN}]}
_WEEK: dict[str, Any] = {
    "week": "2026-W45",
    "from": "2026-11-02",
    "to": "2026-11-08",
    "total": _CELL,
    "modes": [_MODE],
}
_MONTH: dict[str, Any] = {"total": _CELL, "modes": [_MODE]}
_ZONE: dict[str, Any] = {"zone": "17300-centre", "parent": "17300", "total": _CELL, "modes": [_MODE]}
_PARENT: dict[str, Any] = {"parent": "17300", "total": _CELL, "modes": [_MODE]}
_TABLES: dict[str, Any] = {
    "days": [_DAY],
    "weeks": [_WEEK],
    "month": _MONTH,
    "zones": [_ZONE],
    "parents": [_PARENT],
}
_CAPS: dict[str, Any] = {"trips": 60.0, "passenger_km": 1500.0, "co2e_kg": 200.0}
_COUNTS: dict[str, Any] = {"cells_published": 412, "cells_suppressed": 96}
_LISTED: dict[str, Any] = {
    "zone_set": "communes",
    "month": "2026-11",
    "created_at": "2026-12-06T01:00:00Z",
    **_COUNTS,
}
_PUBLICATION: dict[str, Any] = {"zone_set": "communes", "month": "2026-11", "created_at": "2026-12-06T01:00:00Z", "k": 11,
                "caps": _CAPS, "summary": _COUNTS, "tables": _TABLES}  # fmt: skip


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)}, populate_by_name=True)


class PublishedCell(BaseModel):
    model_config = _examples(_CELL, _HIDDEN)

    people: int | None = Field(description="Distinct people behind the cell; null when suppressed.")
    trips: float | None = Field(description="Trips, counted under their main mode; null when suppressed.")
    passenger_km: float | None = Field(description="Passenger-kilometres; null when suppressed.")
    co2e_g: float | None = Field(description="Grams of CO2 equivalent; null when suppressed.")
    suppressed: bool = Field(description="True when the cell is hidden (its figures are null).")
    reason: str | None = Field(description="Why the cell is hidden: too few people, or to protect another.")


class ModeCell(PublishedCell):
    model_config = _examples(_MODE)

    mode: str = Field(description="Transport mode (passenger-km and CO2e per leg mode).")


class DayRow(BaseModel):
    model_config = _examples(_DAY)

    day: DateText = Field(description="Local day, YYYY-MM-DD (trips belong to the day they start).")
    total: PublishedCell = Field(description="The day over all modes.")
    modes: list[ModeCell] = Field(description="The day per mode.")


class WeekRow(BaseModel):
    model_config = _examples(_WEEK)

    week: str = Field(
        pattern=r"^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$",
        description="ISO week, YYYY-Www; its Sunday is in the month.",
    )
    from_: DateText = Field(
        alias="from", description="Its Monday (perhaps in the previous month), YYYY-MM-DD."
    )
    to: DateText = Field(description="Its Sunday, YYYY-MM-DD.")
    total: PublishedCell = Field(description="The week over all modes.")
    modes: list[ModeCell] = Field(description="The week per mode.")


class MonthTable(BaseModel):
    model_config = _examples(_MONTH)

    total: PublishedCell | None = Field(description="The month over all modes; null when nobody travelled.")
    modes: list[ModeCell] = Field(description="The month per mode.")


class ZoneRow(BaseModel):
    model_config = _examples(_ZONE)

    zone: str | None = Field(description="Origin zone code; null for trips starting outside every zone.")
    parent: str | None = Field(
        default=None, description="The larger zone (commune) it is in, when the zone set names parents."
    )
    total: PublishedCell = Field(description="Trips starting in the zone, over all modes.")
    modes: list[ModeCell] = Field(description="Trips starting in the zone, per mode.")


class ParentRow(BaseModel):
    model_config = _examples(_PARENT)

    parent: str | None = Field(description="Parent zone (commune) code; null for zones without a parent.")
    total: PublishedCell = Field(description="Trips starting in its zones, over all modes.")
    modes: list[ModeCell] = Field(description="Trips starting in its zones, per mode.")


class PublicationTables(BaseModel):
    model_config = _examples(_TABLES)

    days: list[DayRow] = Field(description="Local day x mode, with each day's total.")
    weeks: list[WeekRow] = Field(
        description="ISO week x mode (weeks whose Sunday is in the month), with totals."
    )
    month: MonthTable = Field(description="Mode x month, with the month's total.")
    zones: list[ZoneRow] = Field(description="Origin zone x mode, with each zone's total.")
    parents: list[ParentRow] = Field(description="Parent zone x mode, with totals (empty without parents).")


class PublicationCaps(BaseModel):
    model_config = _examples(_CAPS)

    trips: float = Field(description="The most trips one person adds to the publication.")
    passenger_km: float = Field(description="The most passenger-km one person adds.")
    co2e_kg: float = Field(description="The most CO2e (kg) one person adds.")


class PublicationCounts(BaseModel):
    model_config = _examples(_COUNTS)

    cells_published: int = Field(description="Cells of the tables with figures.")
    cells_suppressed: int = Field(
        description="Cells of the tables hidden (fewer than k people, or to protect one)."
    )


class PublicationOut(BaseModel):
    model_config = _examples(_PUBLICATION)

    zone_set: str = Field(description="The official zone set the publication is over.")
    month: MonthText = Field(description="The local calendar month, YYYY-MM.")
    created_at: InstantText = Field(
        description="When it was computed (RFC 3339, UTC); it never changes after."
    )
    k: int = Field(description="The least number of distinct people behind any published cell.")
    caps: PublicationCaps = Field(description="Each person's contribution over the month is scaled to these.")
    summary: PublicationCounts
    tables: PublicationTables


class PublicationListed(BaseModel):
    model_config = _examples(_LISTED)

    zone_set: str = Field(description="The official zone set the publication is over.")
    month: MonthText = Field(description="The local calendar month, YYYY-MM.")
    created_at: InstantText = Field(description="When it was computed (RFC 3339, UTC).")
    cells_published: int = Field(description="Cells of its tables with figures.")
    cells_suppressed: int = Field(description="Cells of its tables hidden.")


class PublicationList(BaseModel):
    model_config = _examples({"publications": [_LISTED]})

    publications: list[PublicationListed] = Field(description="Every publication, by zone set and month.")


class ZoneSetOfficialOut(BaseModel):
    model_config = _examples(
        {"id": "6f1c0e2a-8d4b-4c1e-9a57-3b2d1f0e9c88", "name": "communes", "official": True}
    )

    id: str = Field(description="The zone set's id.")
    name: str = Field(description="The zone set's name.")
    official: bool = Field(
        description="Whether its months are published exactly (see /v1/operator/publications)."
    )
