"""Coaching: what a trip would have emitted otherwise, where the year is heading, which trips weigh most.

Everything here is arithmetic on trips already computed, explained in plain words in French or English.

Realistic alternatives depend on the distance. The limits below are the distances over which each mode is
commonly offered as a daily alternative in French mobility planning (walking up to about 3 km, a bike up
to about 8 km, an electric bike up to about 15-20 km); a coach never suggests walking 30 km.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Lang = Literal["fr", "en"]


@dataclass(frozen=True)
class AlternativeRule:
    mode: str
    min_km: float
    max_km: float
    speed_kmh: float  # door-to-door average, for a duration estimate
    occupants: int | None = None


# Door-to-door speeds: walking 4.5 km/h; a bike 15 km/h and an electric bike 20 km/h in town; an urban bus
# about 18 km/h with its stops; a regional train or coach about 60 km/h; a high-speed train about 200 km/h;
# a car about 40 km/h door to door over a day's mix of town and road.
ALTERNATIVES: tuple[AlternativeRule, ...] = (
    AlternativeRule("walk", 0.0, 3.0, 4.5),
    AlternativeRule("bike", 0.0, 8.0, 15.0),
    AlternativeRule("ebike", 1.0, 20.0, 20.0),
    AlternativeRule("bus", 1.0, 40.0, 18.0),
    AlternativeRule("tram", 1.0, 20.0, 18.0),
    AlternativeRule("train", 10.0, 400.0, 60.0),
    AlternativeRule("coach", 20.0, 1000.0, 60.0),
    AlternativeRule("hsr", 150.0, 1500.0, 200.0),
    AlternativeRule("carpool", 2.0, math.inf, 40.0, occupants=2),
    AlternativeRule("ecar", 2.0, math.inf, 40.0),
    AlternativeRule("car", 0.0, math.inf, 40.0, occupants=1),
)

# The 2050 target: about 2 t CO2e per person per year, all sectors (France's national low-carbon strategy,
# SNBC, as ADEME presents it). The share given to transport keeps today's share of the average footprint:
# 1.45 t for travel (ADEME, "Transports : qui émet le plus de gaz à effet de serre ?", figures of 2019) out of
# about 9 t in all (SDES, carbon footprint of 2019), that is 16 %.
TARGET_2050_KG = 2000.0
TRANSPORT_SHARE = 0.16
TRANSPORT_BUDGET_KG = TARGET_2050_KG * TRANSPORT_SHARE

MODE_NAMES: dict[Lang, dict[str, str]] = {
    "fr": {
        "walk": "à pied", "run": "en courant", "bike": "à vélo", "ebike": "à vélo électrique",
        "escooter": "en trottinette électrique", "moped": "en scooter", "motorcycle": "à moto",
        "car": "en voiture seul·e", "ecar": "en voiture électrique", "carpool": "en covoiturage à deux",
        "bus": "en bus", "coach": "en car", "tram": "en tram", "metro": "en métro", "train": "en train",
        "hsr": "en TGV", "plane": "en avion", "boat": "en bateau", "unknown": "par un mode inconnu",
    },
    "en": {
        "walk": "on foot", "run": "running", "bike": "by bike", "ebike": "by e-bike",
        "escooter": "by e-scooter", "moped": "by moped", "motorcycle": "by motorbike",
        "car": "driving alone", "ecar": "by electric car", "carpool": "carpooling with one other person",
        "bus": "by bus", "coach": "by coach", "tram": "by tram", "metro": "by metro", "train": "by train",
        "hsr": "by high-speed train", "plane": "by plane", "boat": "by boat", "unknown": "by an unknown mode",
    },
}  # fmt: skip


def grams(value_g: float, lang: Lang) -> str:
    """A mass of CO2e in words a person reads at a glance: grams under a kilo, then kilos, then tonnes."""
    if value_g < 1000:
        text = f"{value_g:.0f} g" if value_g >= 10 else f"{value_g:.1f} g"
    elif value_g < 1_000_000:
        text = f"{value_g / 1000:.1f} kg"
    else:
        text = f"{value_g / 1_000_000:.2f} t"
    return text.replace(".", ",") if lang == "fr" else text


def km(value_m: float, lang: Lang) -> str:
    text = f"{value_m / 1000:.1f} km"
    return text.replace(".", ",") if lang == "fr" else text


def minutes(value_s: float, lang: Lang) -> str:
    m = max(1, round(value_s / 60))
    if m < 60:
        return f"{m} min"
    h, rest = divmod(m, 60)
    return f"{h} h {rest:02d}" if lang == "fr" else f"{h} h {rest:02d} min"


@dataclass(frozen=True)
class Alternative:
    mode: str
    co2e_g: float
    saving_vs_car_g: float
    duration_s: float
    message: str


# (mode, distance_m, great_circle_m, occupants) -> grams CO2e: the caller's factors, overrides included.
EmissionFn = Callable[[str, float, float, int | None], float]


def alternatives(
    distance_m: float, great_circle_m: float, emission: EmissionFn, lang: Lang = "fr"
) -> list[Alternative]:
    """The realistic ways to make a trip of this length, least emitting first, with the saving each
    brings compared with driving alone."""
    distance_km = distance_m / 1000.0
    car_alone = emission("car", distance_m, great_circle_m, 1)
    found = []
    for rule in ALTERNATIVES:
        if not rule.min_km <= distance_km <= rule.max_km:
            continue
        co2e = emission(rule.mode, distance_m, great_circle_m, rule.occupants)
        duration = distance_km / rule.speed_kmh * 3600
        saving = car_alone - co2e
        name = MODE_NAMES[lang][rule.mode]
        if rule.mode == "car":
            message = (
                f"{name.capitalize()} : {grams(co2e, lang)} CO2e pour {km(distance_m, lang)}."
                if lang == "fr"
                else f"{name.capitalize()}: {grams(co2e, lang)} CO2e for {km(distance_m, lang)}."
            )
        elif lang == "fr":
            message = (
                f"{name.capitalize()}, ce trajet de {km(distance_m, lang)} émettrait "
                f"{grams(co2e, lang)} CO2e au lieu de {grams(car_alone, lang)} en voiture seul·e, "
                f"en {minutes(duration, lang)} environ."
            )
        else:
            message = (
                f"{name.capitalize()}, this {km(distance_m, lang)} trip would emit {grams(co2e, lang)} CO2e "
                f"instead of {grams(car_alone, lang)} driving alone, in about {minutes(duration, lang)}."
            )
        found.append(Alternative(rule.mode, round(co2e, 3), round(saving, 3), round(duration), message))
    return sorted(found, key=lambda a: (a.co2e_g, a.duration_s))


@dataclass(frozen=True)
class Trajectory:
    year: int
    co2e_kg: float
    days_counted: int
    days_in_year: int
    projected_kg: float
    budget_2050_kg: float
    ratio_to_budget: float
    message: str


def trajectory(
    year: int, co2e_g: float, days_counted: int, days_in_year: int, lang: Lang = "fr"
) -> Trajectory:
    """The year's transport emissions so far, projected over the whole year, against the 2050 budget."""
    days = max(1, days_counted)
    projected_kg = co2e_g / 1000.0 * days_in_year / days
    ratio = projected_kg / TRANSPORT_BUDGET_KG
    budget = f"{TRANSPORT_BUDGET_KG:.0f} kg"
    if lang == "fr":
        message = (
            f"En {year}, vos déplacements ont émis {grams(co2e_g, lang)} CO2e en {days} jours, "
            f"soit environ {projected_kg:.0f} kg sur l'année. Pour atteindre la neutralité carbone "
            f"en 2050, chacun devrait émettre environ 2 t par an en tout, dont {budget} pour se déplacer : "
            f"vous êtes à "
            f"{ratio * 100:.0f} % de ce budget."
        )
    else:
        message = (
            f"In {year}, your travel emitted {grams(co2e_g, lang)} CO2e in {days} days, about "
            f"{projected_kg:.0f} kg over the year. To reach carbon neutrality in 2050, each person should "
            f"emit about 2 t a year in all, {budget} of it for travel: you are at {ratio * 100:.0f} % "
            f"of that budget."
        )
    return Trajectory(
        year,
        round(co2e_g / 1000.0, 3),
        days,
        days_in_year,
        round(projected_kg, 1),
        TRANSPORT_BUDGET_KG,
        round(ratio, 3),
        message,
    )


@dataclass(frozen=True)
class TripEnds:
    """What the recurring-trip and purpose rules need of a trip."""

    id: str
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    distance_m: float
    co2e_g: float
    start_ts_s: float


def _haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: float, lon2: float) -> np.ndarray:
    p1, p2 = np.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * 6_371_008.8 * np.arcsin(np.minimum(1.0, np.sqrt(h))))


# Two trips are "the same trip" when both their origins and their destinations lie within this distance:
# a few hundred metres absorbs where the phone fixed the start and end, and which door or car park was used.
SAME_PLACE_M = 300.0


def same_places(trip: TripEnds, others: Sequence[TripEnds], radius_m: float = SAME_PLACE_M) -> list[int]:
    """Indices of the trips of `others` that share this trip's origin and destination."""
    if not others:
        return []
    lat0 = np.array([o.start_lat for o in others])
    lon0 = np.array([o.start_lon for o in others])
    lat1 = np.array([o.end_lat for o in others])
    lon1 = np.array([o.end_lon for o in others])
    near = (_haversine_m(lat0, lon0, trip.start_lat, trip.start_lon) <= radius_m) & (
        _haversine_m(lat1, lon1, trip.end_lat, trip.end_lon) <= radius_m
    )
    return [int(i) for i in np.flatnonzero(near)]


@dataclass(frozen=True)
class RecurringTrip:
    trip_ids: list[str]
    count: int
    co2e_g: float
    distance_m: float  # typical (median) distance
    example: TripEnds
    best: Alternative | None
    yearly_saving_g: float
    message: str


def recurring(
    trips: Sequence[TripEnds],
    emission: EmissionFn,
    *,
    days_covered: float,
    min_count: int = 3,
    limit: int = 5,
    lang: Lang = "fr",
) -> list[RecurringTrip]:
    """The trips made again and again (same origin and destination) that weigh most, with what the best
    realistic alternative would save over a year at the same rhythm."""
    groups: list[list[int]] = []
    representatives: list[TripEnds] = []
    for i, trip in enumerate(trips):
        matches = same_places(trip, representatives)
        if matches:
            groups[matches[0]].append(i)
        else:
            groups.append([i])
            representatives.append(trip)
    result = []
    for members in groups:
        if len(members) < min_count:
            continue
        chosen = [trips[i] for i in members]
        total = sum(t.co2e_g for t in chosen)
        if total <= 0:
            continue
        distance = float(np.median([t.distance_m for t in chosen]))
        example = chosen[0]
        great_circle = float(
            _haversine_m(np.array([example.start_lat]), np.array([example.start_lon]), example.end_lat,
                         example.end_lon)[0]
        )  # fmt: skip
        options = alternatives(distance, great_circle, emission, lang)
        per_trip = total / len(chosen)
        better = [a for a in options if a.co2e_g < per_trip and a.mode != "car"]
        best = better[0] if better else None
        per_year = len(chosen) * 365.0 / max(1.0, days_covered)
        saving = (per_trip - best.co2e_g) * per_year if best else 0.0
        if lang == "fr":
            message = (
                f"Ce trajet de {km(distance, lang)}, fait {len(chosen)} fois, "
                f"a émis {grams(total, lang)} CO2e."
                + (
                    f" Le faire {MODE_NAMES[lang][best.mode]} économiserait environ "
                    f"{grams(saving, lang)} par an."
                    if best
                    else ""
                )
            )
        else:
            message = (
                f"This {km(distance, lang)} trip, made {len(chosen)} times, "
                f"emitted {grams(total, lang)} CO2e."
                + (
                    f" Going {MODE_NAMES[lang][best.mode]} would save about {grams(saving, lang)} a year."
                    if best
                    else ""
                )
            )
        result.append(
            RecurringTrip(
                [t.id for t in chosen],
                len(chosen),
                round(total, 3),
                distance,
                example,
                best,
                round(saving, 1),
                message,
            )
        )
    result.sort(key=lambda r: r.co2e_g, reverse=True)
    return result[:limit]
