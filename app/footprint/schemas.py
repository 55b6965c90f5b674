"""The person's profile, summaries and coaching."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import InputInstant, InputText, InstantText, MonthText, OutputTime
from app.trips.schemas import AlternativeOut, LatLon, ModeId


class ProfileIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"car_fuel": "electric", "car_occupancy": 1, "bike_kind": "electric"}]
        },
    )

    car_fuel: Literal["petrol", "diesel", "hybrid", "plugin_hybrid", "electric"] | None = Field(
        default=None, description="The fuel of the car the person usually drives."
    )
    car_occupancy: int | None = Field(
        default=None, ge=1, le=9, strict=True, description="People usually in that car, the person included."
    )
    bike_kind: Literal["classic", "electric", "escooter"] | None = Field(
        default=None, description="What the person rides when a leg looks like a bike."
    )


class ProfileOut(ProfileIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"car_fuel": "electric", "car_occupancy": 1, "bike_kind": "electric", "legs_recomputed": 312}
            ]
        }
    )

    legs_recomputed: int | None = Field(default=None, description="On a change: legs whose CO2e was redone.")


class TotalsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"trips": 12, "distance_m": 48210.5, "co2e_g": 3120.4}]}
    )

    trips: int
    distance_m: float
    co2e_g: float


class ModeTotalsOut(TotalsOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"mode": "car", "trips": 5, "distance_m": 30100.0, "co2e_g": 4281.7}]}
    )

    mode: str


class PurposeTotalsOut(TotalsOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"purpose": "commute", "trips": 8, "distance_m": 32000.0, "co2e_g": 912.0}]
        }
    )

    purpose: str = Field(description="A trip purpose, or `unlabelled`.")


class PeriodOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-11-01T00:00:00+01:00",
                    "end": "2026-12-01T00:00:00+01:00",
                    "total": {"trips": 12, "distance_m": 48210.5, "co2e_g": 3120.4},
                    "by_mode": [{"mode": "car", "trips": 5, "distance_m": 30100.0, "co2e_g": 3120.4}],
                    "by_purpose": [
                        {"purpose": "commute", "trips": 8, "distance_m": 32000.0, "co2e_g": 912.0}
                    ],
                    "previous": {"trips": 10, "distance_m": 41000.0, "co2e_g": 3500.0},
                    "co2e_change_pct": -10.8,
                }
            ]
        }
    )

    start: InstantText = Field(description="The period's first local midnight.")
    end: InstantText = Field(description="The next period's first local midnight (excluded).")
    total: TotalsOut
    by_mode: list[ModeTotalsOut]
    by_purpose: list[PurposeTotalsOut]
    previous: TotalsOut = Field(description="The period before, for comparison.")
    co2e_change_pct: float | None = Field(
        description="Change of CO2e against the period before; null from zero."
    )


class SummaryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": "month",
                    "timezone": "Europe/Paris",
                    "from": "2026-01-01T00:00:00+01:00",
                    "to": "2026-12-01T00:00:00+01:00",
                    "periods": [PeriodOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                    "total": {"trips": 12, "distance_m": 48210.5, "co2e_g": 3120.4},
                    "by_mode": [{"mode": "car", "trips": 5, "distance_m": 30100.0, "co2e_g": 3120.4}],
                    "by_purpose": [
                        {"purpose": "commute", "trips": 8, "distance_m": 32000.0, "co2e_g": 912.0}
                    ],
                }
            ]
        },
        populate_by_name=True,
    )

    period: Literal["day", "week", "month", "year"]
    timezone: str
    from_: InstantText = Field(alias="from")
    to: InstantText
    periods: list[PeriodOut]
    total: TotalsOut
    by_mode: list[ModeTotalsOut]
    by_purpose: list[PurposeTotalsOut]


class MonthCo2(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"month": "2026-01", "co2e_kg": 70.1}]})

    month: MonthText = Field(description="A local month (YYYY-MM).")
    co2e_kg: float = Field(description="The month's travel emissions, kg CO2e.")


class TrajectoryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "year": 2026,
                    "co2e_kg": 812.4,
                    "days_counted": 332,
                    "days_in_year": 365,
                    "projected_kg": 893.2,
                    "budget_2050_kg": 320.0,
                    "ratio_to_budget": 2.791,
                    "message": "In 2026, your travel emitted 812.4 kg CO2e in 332 days, ...",
                    "basis": "2 t CO2e per person per year in 2050, all sectors (SNBC); "
                    "transport's share 16 % ...",
                    "months": [{"month": "2026-01", "co2e_kg": 70.1}],
                }
            ]
        }
    )

    year: int
    co2e_kg: float
    days_counted: int = Field(
        description="Days from the first trip of the year (or 1 January) to today or year end."
    )
    days_in_year: int
    projected_kg: float = Field(description="The year's emissions at the same rhythm.")
    budget_2050_kg: float = Field(
        description="The person's yearly travel budget compatible with the 2050 target."
    )
    ratio_to_budget: float
    message: str
    basis: str = Field(description="Where the budget comes from.")
    months: list[MonthCo2] = Field(description="The twelve local months of the year.")


class RecurringOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "count": 14,
                    "co2e_g": 8365.2,
                    "distance_m": 4200.0,
                    "start": {"lat": 46.1591, "lon": -1.152},
                    "end": {"lat": 46.1464, "lon": -1.1706},
                    "trip_ids": ["2c7d9a8e-1b3f-4e5d-8c7b-6a5f4e3d2c1b"],
                    "best_alternative": None,
                    "yearly_saving_g": 0.0,
                    "message": "This 4.2 km trip, made 14 times, emitted 8.4 kg CO2e.",
                }
            ]
        }
    )

    count: int
    co2e_g: float
    distance_m: float
    start: LatLon
    end: LatLon
    trip_ids: list[uuid.UUID]
    best_alternative: AlternativeOut | None
    yearly_saving_g: float = Field(
        description="What the best alternative would save over a year at this rhythm."
    )
    message: str


class RecurringList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"days": 90, "recurring": []}]},
    )

    days: int
    recurring: list[RecurringOut]


class ModeFactorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "car",
                    "g_per_km": 142.26,
                    "unit": "vehicle-km",
                    "components": {"use": 110.56, "construction": 31.7},
                    "source": "ADEME Base Empreinte via impactCO2 "
                    "(src/data/categories/deplacement.ts, data of 2026-07)",
                    "factor_set": "ademe-2026-07:use+construction+contrails",
                    "key": "car/voiturethermique",
                    "min_km": None,
                    "max_km": None,
                }
            ]
        }
    )

    mode: ModeId
    g_per_km: float = Field(description="Grams CO2e per km, per passenger or per vehicle (`unit`).")
    unit: Literal["passenger-km", "vehicle-km"]
    components: dict[str, float]
    source: str
    factor_set: str
    key: str
    min_km: float | None = Field(default=None, description="Planes: great-circle distance band.")
    max_km: float | None = None


class ModesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "factor_set": "ademe-2026-07",
                    "components": ["use", "construction", "contrails"],
                    "modes": [ModeFactorOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                }
            ]
        }
    )

    factor_set: str
    components: list[str]
    modes: list[ModeFactorOut]


class TerritoryFactorIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mode": "bus",
                    "g_per_km": 71.5,
                    "unit": "passenger-km",
                    "source": "Yélo network 2026 fleet: 40 % electric, 60 % natural gas buses; operator data",
                    "valid_from": "2026-01-01T00:00:00+01:00",
                }
            ]
        },
    )

    mode: InputText = Field(description="A mode id (see GET /v1/modes).")
    variant: InputText = Field(default="", max_length=16, description="Optional: e.g. `electric` for buses.")
    g_per_km: float = Field(ge=0, le=2000, allow_inf_nan=False, description="Grams CO2e per km.")
    unit: Literal["passenger-km", "vehicle-km"] = "passenger-km"
    source: InputText = Field(min_length=3, max_length=300, description="Where the figure comes from.")
    valid_from: InputInstant = Field(
        description="RFC 3339 with an offset, within the years 1 to 9999 in UTC: legs from this time on "
        "use the factor."
    )


class TerritoryFactorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c2d3e-4b5a-4978-8c6d-5e4f3a2b1c0d",
                    "mode": "bus",
                    "variant": "",
                    "g_per_km": 71.5,
                    "unit": "passenger-km",
                    "source": "Yélo network 2026 fleet: 40 % electric, 60 % natural gas buses; operator data",
                    "valid_from": "2025-12-31T23:00:00.000Z",
                    "created_at": "2026-11-28T09:00:00.000Z",
                }
            ]
        }
    )

    id: uuid.UUID
    mode: str
    variant: str
    g_per_km: float
    unit: str
    source: str
    valid_from: InstantText
    created_at: OutputTime


class TerritoryFactorList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"factors": []}]})

    factors: list[TerritoryFactorOut]
