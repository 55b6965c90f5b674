"""What the operators' statistics and zone-set endpoints answer. Every figure is an aggregate of people
who consented; a suppressed cell carries no figure, only why it was withheld."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Number = int | float

_MEASURES = {"suppressed": False, "people": 14, "trips": 212, "passenger_km": 1830.4, "co2e_g": 201340}
_HIDDEN = {"suppressed": True, "reason": "fewer than k people", "people": None, "trips": None,
           "passenger_km": None, "co2e_g": None}  # fmt: skip
_PROTECTION: dict[str, Any] = {
    "k_anonymity": {"k": 11, "suppressed_cells": 3, "secondary_suppression": True},
    "contribution_cap": {"scope": "per person, over the whole release", "trips": 400, "passenger_km": 4000.0,
                         "co2e_kg": 1000.0},
    "differential_privacy": None,
    "consent": "only trips made while the person had granted territory_statistics, by people whose consent "
    "still stands",
    "privacy_zones": "trip ends inside people's privacy zones are cut before anything is counted",
}  # fmt: skip
_HEAD = {"zone_set": "grid-500m", "from": "2026-01-01", "to": "2026-12-01", "zone": None}
_ZONE_SET = {"id": "6f1c0e2a-8d4b-4c1e-9a57-3b2d1f0e9c88", "name": "communes", "kind": "polygons",
             "cell_m": None, "zones": 28, "created_at": "2026-11-02T09:30:00Z"}  # fmt: skip
_POLYGON = {
    "type": "Polygon",
    "coordinates": [[[-1.17, 46.15], [-1.14, 46.15], [-1.14, 46.17], [-1.17, 46.15]]],
}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)}, populate_by_name=True)


class Measures(BaseModel):
    """A published cell: people, trips, passenger-km and CO2e, or why it is withheld."""

    model_config = _examples(_MEASURES, _HIDDEN)

    suppressed: bool = Field(description="True when the cell is withheld; its figures are then null.")
    reason: str | None = Field(default=None, description="Why a withheld cell is withheld (only then).")
    people: int | None = Field(
        description="People counted (null when withheld or under differential privacy)."
    )
    trips: Number | None = Field(description="Trips, rounded.")
    passenger_km: Number | None = Field(description="Passenger-kilometres, rounded.")
    co2e_g: Number | None = Field(description="Grams CO2e, rounded.")


class KAnonymity(BaseModel):
    model_config = _examples(_PROTECTION["k_anonymity"])

    k: int = Field(description="No published cell counts fewer people than this.")
    suppressed_cells: int
    secondary_suppression: bool


class ContributionCap(BaseModel):
    model_config = _examples(_PROTECTION["contribution_cap"])

    scope: str
    trips: Number = Field(description="At most this many trips of one person count.")
    passenger_km: Number
    co2e_kg: Number


class DifferentialPrivacy(BaseModel):
    model_config = _examples(
        {"mechanism": "laplace", "epsilon": 0.5, "split": "ε/3 each for trips, passenger-km and CO2e",
         "sensitivity": "the per-person caps", "budget_period": "2026-12", "budget_remaining": 4.5}
    )  # fmt: skip

    mechanism: str
    epsilon: float
    split: str
    sensitivity: str
    budget_period: str = Field(description="The month (YYYY-MM) whose budget paid for this release.")
    budget_remaining: float


class Protection(BaseModel):
    """The protections applied to a release."""

    model_config = _examples(_PROTECTION)

    k_anonymity: KAnonymity
    contribution_cap: ContributionCap
    differential_privacy: DifferentialPrivacy | None
    consent: str
    privacy_zones: str


class _Head(BaseModel):
    zone_set: str = Field(description="The zone set's name.")
    from_: str = Field(alias="from", description="First local day (YYYY-MM-DD).")
    to: str = Field(description="Last local day, included.")
    zone: str | None = Field(description="Only trips starting in this zone, if asked.")


class _PeriodHead(_Head):
    period: Literal["day", "week", "month"]


class ModeMeasures(Measures):
    model_config = _examples(
        {"mode": "bus", **_MEASURES, "share_trips": 0.12, "share_passenger_km": 0.1, "share_co2e": 0.05}
    )

    mode: str
    share_trips: float | None = Field(description="Share of the period's trips, 0 to 1.")
    share_passenger_km: float | None
    share_co2e: float | None


class ModalPeriod(BaseModel):
    model_config = _examples({"start": "2026-11-01", "total": _MEASURES, "modes": []})

    start: str = Field(description="First day of the period (YYYY-MM-DD).")
    total: Measures
    modes: list[ModeMeasures]


class ModalShareOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "month", "periods": [], "protection": _PROTECTION})

    periods: list[ModalPeriod]
    protection: Protection


class Co2Period(Measures):
    model_config = _examples(
        {"start": "2026-11-01", **_MEASURES, "active_people": 14, "co2e_g_per_person": 14381}
    )

    start: str
    active_people: int | None = Field(description="People with at least one counted trip.")
    co2e_g_per_person: Number | None


class Co2PerUserOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "month", "periods": [], "protection": _PROTECTION})

    periods: list[Co2Period]
    protection: Protection


class ProfileBucket(Measures):
    model_config = _examples({"hour": 8, **_MEASURES})

    hour: int | None = Field(default=None, description="Local hour of the day, 0-23 (`by=hour`).")
    weekday: int | None = Field(default=None, description="0 = Monday (`by=weekday`).")


class TravelProfileOut(_Head):
    model_config = _examples(
        {**_HEAD, "by": "hour", "buckets": [], "total": _MEASURES, "protection": _PROTECTION}
    )

    by: Literal["hour", "weekday"]
    buckets: list[ProfileBucket]
    total: Measures | None
    protection: Protection


class SeriesPoint(Measures):
    model_config = _examples({"start": "2026-11-02", **_MEASURES})

    start: str


class TimeseriesOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "day", "series": [], "protection": _PROTECTION})

    series: list[SeriesPoint]
    protection: Protection


class Flow(Measures):
    model_config = _examples({"origin": "17300", "destination": "17299", **_MEASURES})

    origin: str
    destination: str


class OriginTotal(Measures):
    model_config = _examples({"origin": "17300", **_MEASURES})

    origin: str


class DestinationTotal(Measures):
    model_config = _examples({"destination": "17299", **_MEASURES})

    destination: str


class OriginDestinationOut(_Head):
    model_config = _examples(
        {**_HEAD, "flows": [], "from_totals": [], "to_totals": [], "protection": _PROTECTION}
    )

    flows: list[Flow]
    from_totals: list[OriginTotal]
    to_totals: list[DestinationTotal]
    protection: Protection


class ZoneMapProperties(Measures):
    model_config = _examples({"zone": "17300", **_MEASURES, "mode_share_trips": {"bus": 0.12, "car": None}})

    zone: str
    mode_share_trips: dict[str, float | None] = Field(description="Each mode's share of the zone's trips.")


class ZoneMapFeature(BaseModel):
    model_config = _examples(
        {"type": "Feature", "id": "17300", "geometry": _POLYGON, "properties": {"zone": "17300", **_MEASURES,
                                                                                 "mode_share_trips": {}}}
    )  # fmt: skip

    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any] | None = Field(description="GeoJSON Polygon or MultiPolygon, WGS 84.")
    properties: ZoneMapProperties


class ZonesMapOut(_Head):
    model_config = _examples(
        {"type": "FeatureCollection", **_HEAD, "features": [], "protection": _PROTECTION}
    )

    type: Literal["FeatureCollection"]
    features: list[ZoneMapFeature]
    protection: Protection


class ZoneSetOut(BaseModel):
    model_config = _examples(_ZONE_SET)

    id: str
    name: str
    kind: Literal["grid", "polygons"]
    cell_m: int | None = Field(description="Cell size of a grid, in metres.")
    zones: int | None = Field(description="Number of zones of an uploaded set (null for the grid).")
    created_at: str


class ZoneSetList(BaseModel):
    model_config = _examples({"zone_sets": [_ZONE_SET]})

    zone_sets: list[ZoneSetOut]


class ZoneShapeProperties(BaseModel):
    model_config = _examples({"code": "17300", "name": "La Rochelle"})

    code: str
    name: str | None


class ZoneShapeFeature(BaseModel):
    model_config = _examples(
        {
            "type": "Feature",
            "id": "17300",
            "geometry": _POLYGON,
            "properties": {"code": "17300", "name": "La Rochelle"},
        }
    )

    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any]
    properties: ZoneShapeProperties


class ZoneSetShapes(BaseModel):
    model_config = _examples({"type": "FeatureCollection", "zone_set": _ZONE_SET, "features": []})

    type: Literal["FeatureCollection"]
    zone_set: ZoneSetOut
    features: list[ZoneShapeFeature]
