"""What the operators' statistics and zone-set endpoints answer. Every figure is a differentially private
aggregate of people who consented, with its 95 % margin of error (see docs/statistics.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import DateText, InstantText, MonthText

Number = int | float

_MEASURES = {"suppressed": False, "reason": None, "people": None, "trips": 212.0, "passenger_km": 1830.4,
             "co2e_g": 201340.0, "margin_95": {"trips": 1078.5, "passenger_km": 26961.6, "co2e_g": 3594887.5}}  # fmt: skip
_BUDGET = [{"month": "2026-11", "lifetime_epsilon": 10.0, "spent_epsilon": 1.5, "remaining_epsilon": 8.5}]
_PROTECTION: dict[str, Any] = {
    "differential_privacy": {
        "mechanism": "discrete Laplace (OpenDP)", "unit": "one person's data of one local month", "epsilon": 0.5,
        "measures": [{"measure": "trips", "epsilon": 0.1667, "scale": 360.0, "margin_95": 1078.5}],
        "months": ["2026-11"], "budget": _BUDGET,
    },
    "contribution_cap": {"scope": "per person and local month, over the whole release", "trips": 60.0,
                         "passenger_km": 1500.0, "co2e_kg": 200.0},
    "consent": "only trips made while the person had granted territory_statistics, by people whose consent "
    "still stood when the release was made",
    "privacy_zones": "trip ends inside people's privacy zones are cut before anything is counted",
}  # fmt: skip
_RELEASE = {"id": "0b8f6c0e-3f1d-4d6e-9f57-2a1d1f0e9c11", "created_at": "2026-12-01T08:00:00Z",
            "asked_by": "agglo-mobilite", "replayed": False}  # fmt: skip
_HEAD = {"zone_set": "grid-500m", "from": "2025-12-01", "to": "2026-11-30", "zone": None, "release": _RELEASE}
_ZONE_SET = {"id": "6f1c0e2a-8d4b-4c1e-9a57-3b2d1f0e9c88", "name": "communes", "kind": "polygons",
             "cell_m": None, "zones": 28, "created_at": "2026-11-02T09:30:00Z"}  # fmt: skip
_POLYGON = {
    "type": "Polygon",
    "coordinates": [[[-1.17, 46.15], [-1.14, 46.15], [-1.14, 46.17], [-1.17, 46.15]]],
}


_PARAMS: dict[str, Any] = {"zone_set": "9b7c6d5e-0000-4000-8000-000000000500", "zone_set_name": "grid-500m",
                           "from": "2025-12-01", "to": "2026-11-30", "zone": None, "epsilon": 0.5, "period": "month"}  # fmt: skip
_ENTRY = {"id": _RELEASE["id"], "created_at": _RELEASE["created_at"], "asked_by": "agglo-mobilite",
          "endpoint": "modal-share", "params": _PARAMS, "epsilon": 0.5, "months": ["2025-12", "2026-01"]}  # fmt: skip
_PZ_PROPS = {"zone": "E3790N65520", "people": 14, "trips": 212.0, "passenger_km": 1830.4, "co2e_g": 201340.0,
             "mode_share_trips": {"bus": 0.31, "car": 0.52}, "modes_hidden": ["bike", "walk"]}  # fmt: skip
_PZ_FEATURE = {"type": "Feature", "id": "E3790N65520", "geometry": _POLYGON, "properties": _PZ_PROPS}
_PZ_MAP = {"type": "FeatureCollection", "zone_set": "grid-500m", "month": "2026-11", "k": 11,
           "features": [_PZ_FEATURE], "zones_hidden": 37}  # fmt: skip


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)}, populate_by_name=True)


class Polygon(BaseModel):
    """A GeoJSON Polygon (RFC 7946), WGS 84: rings of [lon, lat] positions, the outer ring first."""

    model_config = _examples(_POLYGON)

    type: Literal["Polygon"]
    coordinates: list[list[list[float]]]


class MultiPolygon(BaseModel):
    """A GeoJSON MultiPolygon (RFC 7946), WGS 84: polygons, each its rings of [lon, lat] positions."""

    model_config = _examples({"type": "MultiPolygon", "coordinates": [_POLYGON["coordinates"]]})

    type: Literal["MultiPolygon"]
    coordinates: list[list[list[list[float]]]]


#: A zone's shape.
ZoneGeometry = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


class Margins(BaseModel):
    """The half-width of each published figure's 95 % interval; only the figures the release measures."""

    model_config = _examples({"trips": 1078.5, "passenger_km": 26961.6, "co2e_g": 3594887.5})

    people: Number | None = None
    trips: Number | None = None
    passenger_km: Number | None = None
    co2e_g: Number | None = None


# Field order is the order of the keys in the answers. Pydantic puts the fields of the bases first, the last
# base's first: `class Flow(Measures, _FlowKey)` answers origin and destination, then the measures, then
# Flow's own fields.


class Measures(BaseModel):
    """A published cell (or a sum of cells): noisy figures, each with its 95 % margin of error."""

    model_config = _examples(_MEASURES)

    suppressed: bool = Field(description="Always false: every cell of a release is published, with noise.")
    reason: str | None = Field(default=None, description="Why a cell is withheld (never, under noise).")
    people: Number | None = Field(
        description="Distinct people counted, with noise (null where the release does not measure people)."
    )
    trips: Number | None = Field(
        description="Trips, after the contribution caps and with noise, to 0.1 (never below 0)."
    )
    passenger_km: Number | None = Field(description="Distance travelled, in passenger-kilometres, to 0.1.")
    co2e_g: Number | None = Field(description="Emissions, in grams of CO2 equivalent, to 0.1.")
    margin_95: Margins = Field(
        default_factory=Margins,
        description="Per figure, the half-width of its 95 % interval: the true figure (after the caps) is "
        "within ± this of the published one with 95 % probability.",
    )


class ContributionCap(BaseModel):
    model_config = _examples(_PROTECTION["contribution_cap"])

    scope: str = Field(description="What the caps bound: one person's data of one month in the release.")
    trips: Number = Field(description="At most this many trips of one person in one month count.")
    passenger_km: Number = Field(description="At most this many passenger-kilometres of one person-month.")
    co2e_kg: Number = Field(description="At most this many kilograms of CO2e of one person-month.")


class MeasureNoise(BaseModel):
    model_config = _examples(_PROTECTION["differential_privacy"]["measures"][0])

    measure: str = Field(
        description="`trips`, `passenger_km`, `co2e_g`, `people` or `trips_by_mode` (a zone's modes)."
    )
    epsilon: float = Field(description="The share of the release's ε this measure spent.")
    scale: Number = Field(description="The Laplace scale of the noise on one cell, in the measure's unit.")
    margin_95: Number | None = Field(description="Half-width of the 95 % interval of one cell's noise.")


class MonthBudget(BaseModel):
    model_config = _examples(_BUDGET[0])

    month: MonthText = Field(description="A local month of people's data (YYYY-MM).")
    lifetime_epsilon: float = Field(description="The ε all releases together may ever spend on it.")
    spent_epsilon: float = Field(description="What releases have spent on it so far, whoever asked.")
    remaining_epsilon: float = Field(description="What is left; it is never renewed.")


class DifferentialPrivacy(BaseModel):
    model_config = _examples(_PROTECTION["differential_privacy"])

    mechanism: str = Field(description="The noise: OpenDP's discrete Laplace sampler, exact on integers.")
    unit: str = Field(description="What the guarantee protects: one person's data of one local month.")
    epsilon: float = Field(description="The ε this release spent on each month of data it covers.")
    measures: list[MeasureNoise] = Field(description="How ε is shared between the measures, and the noise.")
    months: list[MonthText] = Field(description="The months of data this release was charged to (YYYY-MM).")
    budget: list[MonthBudget] = Field(description="Those months' budgets as they stand now.")


class Protection(BaseModel):
    """The protections applied to a release."""

    model_config = _examples(_PROTECTION)

    differential_privacy: DifferentialPrivacy = Field(description="The noise added and the budget spent.")
    contribution_cap: ContributionCap = Field(description="The most one person-month adds to the release.")
    consent: str = Field(description="Whose trips count.")
    privacy_zones: str = Field(description="How people's privacy zones are respected.")


class ReleaseInfo(BaseModel):
    model_config = _examples(_RELEASE)

    id: str = Field(description="The release's id (a UUID), as the ledger names it.")
    created_at: InstantText = Field(
        description="When it was computed (RFC 3339, UTC); it never changes afterwards."
    )
    asked_by: str = Field(description="The operator who first asked this question.")
    replayed: bool = Field(
        description="True when this question had been answered before: the stored answer, at no cost."
    )


class _Head(BaseModel):
    zone_set: str = Field(description="The zone set's name.")
    from_: DateText = Field(alias="from", description="First local day (YYYY-MM-DD).")
    to: DateText = Field(description="Last local day, included.")
    zone: str | None = Field(description="Only trips starting in this zone, if asked.")
    release: ReleaseInfo = Field(description="Which release this is: the same question gets the same one.")


class _PeriodHead(_Head):
    period: Literal["day", "week", "month"] = Field(description="The length of the periods answered.")


class _ModeKey(BaseModel):
    mode: str = Field(description="The transport mode (main mode of the trips, for trips).")


class _StartKey(BaseModel):
    start: DateText = Field(description="First day of the period (YYYY-MM-DD; a Monday for weeks).")


class ModeMeasures(Measures, _ModeKey):
    model_config = _examples(
        {"mode": "bus", **_MEASURES, "share_trips": 0.12, "share_passenger_km": 0.1, "share_co2e": 0.05}
    )

    share_trips: float | None = Field(description="Share of the period's trips, 0 to 1 (null if unknown).")
    share_passenger_km: float | None = Field(description="Share of the period's passenger-km, 0 to 1.")
    share_co2e: float | None = Field(description="Share of the period's CO2e, 0 to 1.")


class ModalPeriod(BaseModel):
    model_config = _examples({"start": "2026-11-01", "total": _MEASURES, "modes": []})

    start: DateText = Field(description="First day of the period (YYYY-MM-DD; a Monday for weeks).")
    total: Measures = Field(description="All modes together.")
    modes: list[ModeMeasures] = Field(description="One entry per mode, by mode name.")


class ModalShareOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "month", "periods": [], "protection": _PROTECTION})

    periods: list[ModalPeriod] = Field(description="One entry per period of the range, oldest first.")
    protection: Protection


class Co2Period(Measures, _StartKey):
    model_config = _examples(
        {"start": "2026-11-01", **_MEASURES, "active_people": 14, "co2e_g_per_person": 14381.4}
    )

    active_people: Number | None = Field(
        description="People with at least one counted trip in the period, with noise."
    )
    co2e_g_per_person: Number | None = Field(
        description="Grams of CO2e per active person (noisy CO2e over noisy people), to 0.1."
    )


class Co2PerUserOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "month", "periods": [], "protection": _PROTECTION})

    periods: list[Co2Period] = Field(description="One entry per period of the range, oldest first.")
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
    buckets: list[ProfileBucket] = Field(description="One entry per hour or weekday, in order.")
    total: Measures | None = Field(description="All buckets together.")
    protection: Protection


class SeriesPoint(Measures, _StartKey):
    model_config = _examples({"start": "2026-11-02", **_MEASURES})


class TimeseriesOut(_PeriodHead):
    model_config = _examples({**_HEAD, "period": "day", "series": [], "protection": _PROTECTION})

    series: list[SeriesPoint] = Field(description="One entry per period of the range, oldest first.")
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
        {
            **_HEAD,
            "flows": [],
            "flows_hidden": 841,
            "from_totals": [],
            "to_totals": [],
            "protection": _PROTECTION,
        }
    )

    flows: list[Flow] = Field(
        description="The pairs whose trips stand clear of the noise (above their 95 % margin)."
    )
    flows_hidden: int = Field(
        description="How many pairs were measured but are not listed in `flows`: their trips do not stand "
        "clear of the noise (most of them had few trips or none). Pairs measured are (zones + 1)², "
        "`outside` included."
    )
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
    geometry: ZoneGeometry | None = Field(description="GeoJSON Polygon or MultiPolygon, WGS 84.")
    properties: ZoneMapProperties


class _FeatureCollectionKey(BaseModel):
    type: Literal["FeatureCollection"] = Field(description="GeoJSON: always `FeatureCollection`.")


class ZonesMapOut(_Head, _FeatureCollectionKey):
    model_config = _examples(
        {
            "type": "FeatureCollection",
            **_HEAD,
            "features": [],
            "zones_hidden": 2650,
            "protection": _PROTECTION,
        }
    )

    features: list[ZoneMapFeature] = Field(
        description="The zones whose trips stand clear of the noise (above their 95 % margin)."
    )
    zones_hidden: int = Field(
        description="How many zones of the set were measured but are not among `features`: their trips do "
        "not stand clear of the noise (on the grid, most of them had no trips at all)."
    )
    protection: Protection


class ZoneSetOut(BaseModel):
    model_config = _examples(_ZONE_SET)

    id: str = Field(description="The zone set's id (a UUID).")
    name: str = Field(description="The name statistics are asked with (`zone_set=`).")
    kind: Literal["grid", "polygons"] = Field(description="The built-in grid, or uploaded polygons.")
    cell_m: int | None = Field(description="Cell size of a grid, in metres (null for polygons).")
    zones: int | None = Field(description="Number of zones of an uploaded set (null for the grid).")
    created_at: InstantText = Field(description="When the set was created (RFC 3339, UTC).")


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
    geometry: ZoneGeometry = Field(description="GeoJSON Polygon or MultiPolygon, WGS 84.")
    properties: ZoneShapeProperties


class ZoneSetShapes(BaseModel):
    model_config = _examples({"type": "FeatureCollection", "zone_set": _ZONE_SET, "features": []})

    type: Literal["FeatureCollection"] = Field(description="GeoJSON: always `FeatureCollection`.")
    zone_set: ZoneSetOut
    features: list[ZoneShapeFeature] = Field(description="The zones, by code (none for the grid).")


class BudgetOut(BaseModel):
    model_config = _examples(
        {"lifetime_epsilon": 10.0, "release_epsilon": 0.5, "unit": "one person's data of one local month",
         "months": _BUDGET}
    )  # fmt: skip

    lifetime_epsilon: float = Field(description="The ε every month of data has, over all releases ever.")
    release_epsilon: float = Field(description="The ε a release spends when the operator names none.")
    unit: str = Field(description="What the guarantee protects.")
    months: list[MonthBudget] = Field(description="The months some release has counted, oldest first.")


class ReleaseParams(BaseModel):
    """What a release was asked: the range, the zones, the ε, and the endpoint's own parameters."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PARAMS]}, populate_by_name=True, extra="allow")

    zone_set: str = Field(description="The zone set's id (a UUID).")
    zone_set_name: str | None = Field(default=None, description="The zone set's name when asked.")
    from_: DateText = Field(alias="from", description="First local day.")
    to: DateText = Field(description="Last local day, included.")
    zone: str | None = Field(description="Only trips starting in this zone, if asked.")
    epsilon: float = Field(description="The ε spent on each month of data.")
    period: Literal["day", "week", "month"] | None = Field(
        default=None, description="The length of the periods (modal-share, co2-per-user, timeseries)."
    )
    by: Literal["hour", "weekday"] | None = Field(default=None, description="The buckets (profile).")


class ReleaseEntry(BaseModel):
    model_config = _examples(_ENTRY)

    id: str = Field(description="The release's id (a UUID).")
    created_at: InstantText = Field(description="When it was computed (RFC 3339, UTC).")
    asked_by: str = Field(description="The operator who asked.")
    endpoint: str = Field(description="What was asked: `modal-share`, `co2-per-user`, `profile`, ...")
    params: ReleaseParams = Field(description="The question's parameters, normalised.")
    epsilon: float = Field(description="The ε spent on each month of data it covers.")
    months: list[MonthText] = Field(description="Those months (YYYY-MM).")


class ReleaseList(BaseModel):
    model_config = _examples({"releases": [_ENTRY], "next_cursor": None})

    releases: list[ReleaseEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class PublicationZoneProperties(BaseModel):
    model_config = _examples(_PZ_PROPS)

    zone: str = Field(description="The zone's code.")
    people: int | None = Field(description="Distinct people counted (at least k).")
    trips: Number | None = Field(description="Trips, after the contribution caps, to 0.1.")
    passenger_km: Number | None = Field(description="Passenger-kilometres, to 0.1.")
    co2e_g: Number | None = Field(description="Grams of CO2e, to 0.1.")
    mode_share_trips: dict[str, float | None] = Field(
        description="Published modes' shares of the zone's trips."
    )
    modes_hidden: list[str] = Field(
        description="The modes whose cell of this zone is suppressed (fewer than k people, or to protect "
        "one): their share is unknown, not zero. A mode in neither list had no trips from the zone."
    )


class PublicationZoneFeature(BaseModel):
    model_config = _examples(_PZ_FEATURE)

    type: Literal["Feature"] = Field(description="GeoJSON: always `Feature`.")
    id: str = Field(description="The zone's code.")
    geometry: ZoneGeometry | None = Field(description="GeoJSON Polygon or MultiPolygon, WGS 84.")
    properties: PublicationZoneProperties


class PublicationMapOut(BaseModel):
    model_config = _examples(_PZ_MAP)

    type: Literal["FeatureCollection"] = Field(description="GeoJSON: always `FeatureCollection`.")
    zone_set: str = Field(description="The zone set's name.")
    month: MonthText = Field(description="The month published (YYYY-MM).")
    k: int = Field(description="No figure counts fewer people than this.")
    features: list[PublicationZoneFeature] = Field(description="The zones whose total was published.")
    zones_hidden: int = Field(
        description="How many zones had travellers but a suppressed total (fewer than k people, or to "
        "protect one): they are not drawn at all, so the map tells nothing of where they are."
    )
