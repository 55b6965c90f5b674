"""What the operators' statistics and zone-set endpoints answer. Every figure is an aggregate of people
who consented; a suppressed cell carries no figure, only why it was withheld."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Number = int | float

_MEASURES = {"suppressed": False, "people": 14, "trips": 212, "passenger_km": 1830.4, "co2e_g": 201340}
_HIDDEN = {"suppressed": True, "reason": "fewer than 11 people", "people": None, "trips": None,
           "passenger_km": None, "co2e_g": None}  # fmt: skip
_PROTECTION: dict[str, Any] = {
    "k_anonymity": {"k": 11, "suppressed_cells": 3, "secondary_suppression": True},
    "contribution_cap": {"scope": "per person, over the whole release", "trips": 60.0, "passenger_km": 3000.0,
                         "co2e_kg": 600.0},
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


# Field order is the order of the keys in the answers. Pydantic puts the fields of the bases first, the last
# base's first: `class Flow(Measures, _FlowKey)` answers origin and destination, then the measures, then
# Flow's own fields.


class Measures(BaseModel):
    """A published cell: people, trips, passenger-km and CO2e, or why it is withheld."""

    model_config = _examples(_MEASURES, _HIDDEN)

    suppressed: bool = Field(description="True when the cell is withheld; its figures are then null.")
    reason: str | None = Field(
        default=None, description="Why a withheld cell is withheld; the key is present only then."
    )
    people: int | None = Field(
        description="Distinct people counted (null when withheld or under differential privacy)."
    )
    trips: Number | None = Field(
        description="Trips, after the contribution caps (and noise under differential privacy), to 0.1."
    )
    passenger_km: Number | None = Field(description="Distance travelled, in passenger-kilometres, to 0.1.")
    co2e_g: Number | None = Field(description="Emissions, in grams of CO2 equivalent, to 0.1.")


class KAnonymity(BaseModel):
    model_config = _examples(_PROTECTION["k_anonymity"])

    k: int = Field(description="No published cell counts fewer people than this.")
    suppressed_cells: int = Field(description="Cells withheld in this release, primary and secondary.")
    secondary_suppression: bool = Field(
        description="Whether cells were also withheld so that a total does not reveal a withheld cell."
    )


class ContributionCap(BaseModel):
    model_config = _examples(_PROTECTION["contribution_cap"])

    scope: str = Field(description="What the caps bound: one person's contribution to the whole release.")
    trips: Number = Field(description="At most this many trips of one person count.")
    passenger_km: Number = Field(description="At most this many passenger-kilometres of one person count.")
    co2e_kg: Number = Field(description="At most this many kilograms of CO2e of one person count.")


class DifferentialPrivacy(BaseModel):
    model_config = _examples(
        {"mechanism": "laplace", "epsilon": 0.5, "split": "ε/3 each for trips, passenger-km and CO2e",
         "sensitivity": "the per-person caps", "budget_period": "2026-12", "budget_remaining": 4.5}
    )  # fmt: skip

    mechanism: str = Field(description="The noise added: `laplace`.")
    epsilon: float = Field(description="The ε this release spent.")
    split: str = Field(description="How ε is shared between the measures.")
    sensitivity: str = Field(description="What the noise is calibrated to.")
    budget_period: str = Field(description="The month (YYYY-MM) whose budget paid for this release.")
    budget_remaining: float = Field(description="The ε left in that month's budget.")


class Protection(BaseModel):
    """The protections applied to a release."""

    model_config = _examples(_PROTECTION)

    k_anonymity: KAnonymity = Field(description="The threshold of people behind a published cell.")
    contribution_cap: ContributionCap = Field(description="The most one person adds to the release.")
    differential_privacy: DifferentialPrivacy | None = Field(
        description="The noise added and the budget spent, when `epsilon` was given; null otherwise."
    )
    consent: str = Field(description="Whose trips count.")
    privacy_zones: str = Field(description="How people's privacy zones are respected.")


class _Head(BaseModel):
    zone_set: str = Field(description="The zone set's name.")
    from_: str = Field(alias="from", description="First local day (YYYY-MM-DD).")
    to: str = Field(description="Last local day, included.")
    zone: str | None = Field(description="Only trips starting in this zone, if asked.")


class _PeriodHead(_Head):
    period: Literal["day", "week", "month"] = Field(description="The length of the periods answered.")


class _ModeKey(BaseModel):
    mode: str = Field(description="The transport mode (main mode of the trips, for trips).")


class _StartKey(BaseModel):
    start: str = Field(description="First day of the period (YYYY-MM-DD; a Monday for weeks).")


class ModeMeasures(Measures, _ModeKey):
    model_config = _examples(
        {"mode": "bus", **_MEASURES, "share_trips": 0.12, "share_passenger_km": 0.1, "share_co2e": 0.05}
    )

    share_trips: float | None = Field(description="Share of the period's trips, 0 to 1 (null if unknown).")
    share_passenger_km: float | None = Field(description="Share of the period's passenger-km, 0 to 1.")
    share_co2e: float | None = Field(description="Share of the period's CO2e, 0 to 1.")


class ModalPeriod(BaseModel):
    model_config = _examples({"start": "2026-11-01", "total": _MEASURES, "modes": []})

    start: str = Field(description="First day of the period (YYYY-MM-DD; a Monday for weeks).")
    total: Measures = Field(description="All modes together.")
    modes: list[ModeMeasures] = Field(description="One entry per mode, by mode name.")


class ModalShareOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "month", "periods": [], "protection": _PROTECTION})

    periods: list[ModalPeriod] = Field(description="One entry per period with trips, oldest first.")
    protection: Protection


class Co2Period(Measures, _StartKey):
    model_config = _examples(
        {"start": "2026-11-01", **_MEASURES, "active_people": 14, "co2e_g_per_person": 14381.4}
    )

    active_people: int | None = Field(
        description="People with at least one counted trip in the period (null when withheld)."
    )
    co2e_g_per_person: Number | None = Field(
        description="Grams of CO2e per active person, to 0.1 (null when withheld)."
    )


class Co2PerUserOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "month", "periods": [], "protection": _PROTECTION})

    periods: list[Co2Period] = Field(description="One entry per period with trips, oldest first.")
    protection: Protection


class _BucketKey(BaseModel):
    hour: int | None = Field(
        default=None, description="Local hour of the day, 0-23; the key is present only with `by=hour`."
    )
    weekday: int | None = Field(
        default=None, description="Local weekday, 0 = Monday; the key is present only with `by=weekday`."
    )


class ProfileBucket(Measures, _BucketKey):
    model_config = _examples({"hour": 8, **_MEASURES}, {"weekday": 0, **_MEASURES})


class TravelProfileOut(_Head):
    model_config = _examples(
        {**_HEAD, "by": "hour", "buckets": [], "total": _MEASURES, "protection": _PROTECTION}
    )

    by: Literal["hour", "weekday"] = Field(description="What the buckets are: local hours or weekdays.")
    buckets: list[ProfileBucket] = Field(description="One entry per hour or weekday with trips, in order.")
    total: Measures | None = Field(description="All buckets together.")
    protection: Protection


class SeriesPoint(Measures, _StartKey):
    model_config = _examples({"start": "2026-11-02", **_MEASURES})


class TimeseriesOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "day", "series": [], "protection": _PROTECTION})

    series: list[SeriesPoint] = Field(description="One entry per period with trips, oldest first.")
    protection: Protection


_ORIGIN = "The zone where the trips start (`outside` when in no zone of the set)."
_DESTINATION = "The zone where the trips end (`outside` when in no zone of the set)."


class _FlowKey(BaseModel):
    origin: str = Field(description=_ORIGIN)
    destination: str = Field(description=_DESTINATION)


class _OriginKey(BaseModel):
    origin: str = Field(description=_ORIGIN)


class _DestinationKey(BaseModel):
    destination: str = Field(description=_DESTINATION)


class Flow(Measures, _FlowKey):
    model_config = _examples({"origin": "17300", "destination": "17299", **_MEASURES})


class OriginTotal(Measures, _OriginKey):
    model_config = _examples({"origin": "17300", **_MEASURES})


class DestinationTotal(Measures, _DestinationKey):
    model_config = _examples({"destination": "17299", **_MEASURES})


class OriginDestinationOut(_Head):
    model_config = _examples(
        {**_HEAD, "flows": [], "from_totals": [], "to_totals": [], "protection": _PROTECTION}
    )

    flows: list[Flow] = Field(description="One entry per origin and destination with trips.")
    from_totals: list[OriginTotal] = Field(description="The trips leaving each origin.")
    to_totals: list[DestinationTotal] = Field(description="The trips reaching each destination.")
    protection: Protection


class _ZoneKey(BaseModel):
    zone: str = Field(description="The origin zone's code.")


class ZoneMapProperties(Measures, _ZoneKey):
    model_config = _examples({"zone": "17300", **_MEASURES, "mode_share_trips": {"bus": 0.12, "car": None}})

    mode_share_trips: dict[str, float | None] = Field(
        description="Each mode's share of the zone's trips, 0 to 1 (null for a withheld mode)."
    )


class ZoneMapFeature(BaseModel):
    model_config = _examples(
        {"type": "Feature", "id": "17300", "geometry": _POLYGON, "properties": {"zone": "17300", **_MEASURES,
                                                                                 "mode_share_trips": {}}}
    )  # fmt: skip

    type: Literal["Feature"] = Field(description="GeoJSON: always `Feature`.")
    id: str = Field(description="The zone's code.")
    geometry: dict[str, Any] | None = Field(description="GeoJSON Polygon or MultiPolygon, WGS 84.")
    properties: ZoneMapProperties


class _FeatureCollectionKey(BaseModel):
    type: Literal["FeatureCollection"] = Field(description="GeoJSON: always `FeatureCollection`.")


class ZonesMapOut(_Head, _FeatureCollectionKey):
    model_config = _examples(
        {"type": "FeatureCollection", **_HEAD, "features": [], "protection": _PROTECTION}
    )

    features: list[ZoneMapFeature] = Field(description="One feature per origin zone with published figures.")
    protection: Protection


class ZoneSetOut(BaseModel):
    model_config = _examples(_ZONE_SET)

    id: str = Field(description="The zone set's id (a UUID).")
    name: str = Field(description="The name statistics are asked with (`zone_set=`).")
    kind: Literal["grid", "polygons"] = Field(description="The built-in grid, or uploaded polygons.")
    cell_m: int | None = Field(description="Cell size of a grid, in metres (null for polygons).")
    zones: int | None = Field(description="Number of zones of an uploaded set (null for the grid).")
    created_at: str = Field(description="When the set was created (ISO 8601, UTC).")


class ZoneSetList(BaseModel):
    model_config = _examples({"zone_sets": [_ZONE_SET]})

    zone_sets: list[ZoneSetOut] = Field(description="Every zone set, oldest first.")


class ZoneShapeProperties(BaseModel):
    model_config = _examples({"code": "17300", "name": "La Rochelle"})

    code: str = Field(description="The zone's code, as statistics name it.")
    name: str | None = Field(description="The zone's name (its code when the upload gave none).")


class ZoneShapeFeature(BaseModel):
    model_config = _examples(
        {
            "type": "Feature",
            "id": "17300",
            "geometry": _POLYGON,
            "properties": {"code": "17300", "name": "La Rochelle"},
        }
    )

    type: Literal["Feature"] = Field(description="GeoJSON: always `Feature`.")
    id: str = Field(description="The zone's code.")
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, WGS 84.")
    properties: ZoneShapeProperties


class ZoneSetShapes(BaseModel):
    model_config = _examples({"type": "FeatureCollection", "zone_set": _ZONE_SET, "features": []})

    type: Literal["FeatureCollection"] = Field(description="GeoJSON: always `FeatureCollection`.")
    zone_set: ZoneSetOut
    features: list[ZoneShapeFeature] = Field(description="The zones, by code (none for the grid).")
