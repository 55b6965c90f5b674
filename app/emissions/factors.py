"""Emission factors and the CO2e of one leg.

The default set is ADEME's Base Empreinte as published by its impactCO2 service (data of 2026-07), with the
use and construction components counted (as impactCO2's own site shows them) and, for planes, the
radiative forcing of contrails. Values are grams of CO2e per passenger-km, except cars, which are per
vehicle-km and are divided by the number of occupants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Unit = Literal["passenger-km", "vehicle-km"]

MODES: tuple[str, ...] = (
    "walk", "run", "bike", "ebike", "escooter", "moped", "motorcycle", "car", "ecar", "carpool",
    "bus", "coach", "tram", "metro", "train", "hsr", "plane", "boat", "unknown",
)  # fmt: skip

ADEME_SOURCE = "ADEME Base Empreinte via impactCO2 (src/data/categories/deplacement.ts, 2026-07-01)"
DESNZ_FERRY_SOURCE = "UK DESNZ 2025 conversion factors, ferry foot passenger (direct emissions)"


@dataclass(frozen=True)
class EmissionFactor:
    """One mode's factor, with the components it adds up and where it comes from."""

    mode: str
    unit: Unit
    components: dict[str, float]
    source: str
    slug: str = ""
    # For planes: the factor applies to legs whose great-circle distance is within [min_km, max_km).
    min_km: float = 0.0
    max_km: float = float("inf")

    @property
    def g_per_km(self) -> float:
        return round(sum(self.components.values()), 4)


@dataclass(frozen=True)
class FactorSet:
    name: str
    version: str
    year: int
    factors: tuple[EmissionFactor, ...]
    default_carpool_occupants: int = 2
    _by_mode: dict[str, list[EmissionFactor]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for factor in self.factors:
            self._by_mode.setdefault(factor.mode, []).append(factor)

    def factor(self, mode: str, great_circle_km: float = 0.0) -> EmissionFactor | None:
        """The factor for a mode; for planes, the band that holds the great-circle distance."""
        candidates = self._by_mode.get(mode, [])
        for candidate in candidates:
            if candidate.min_km <= great_circle_km < candidate.max_km:
                return candidate
        return candidates[0] if candidates else None


def _ademe(
    mode: str, slug: str, use: float, construction: float, unit: Unit = "passenger-km"
) -> EmissionFactor:
    return EmissionFactor(mode, unit, {"use": use, "construction": construction}, ADEME_SOURCE, slug)


def _plane(
    slug: str, use: float, construction: float, contrails: float, lo: float, hi: float
) -> EmissionFactor:
    components = {"use": use, "construction": construction, "contrails": contrails}
    return EmissionFactor("plane", "passenger-km", components, ADEME_SOURCE, slug, lo, hi)


DEFAULT_FACTOR_SET = FactorSet(
    name="ademe-impactco2",
    version="2026-07",
    year=2026,
    factors=(
        _ademe("walk", "marche", 0.0, 0.0),
        _ademe("run", "marche", 0.0, 0.0),
        _ademe("bike", "velo", 0.0, 0.17),
        _ademe("ebike", "veloelectrique", 2.23, 8.72),
        _ademe("escooter", "trottinette", 2.0, 22.9),
        _ademe("moped", "scooter", 60.4, 15.9),
        _ademe("motorcycle", "moto", 140.0, 74.7),
        _ademe("car", "voiturethermique", 110.56, 31.70, "vehicle-km"),
        _ademe("ecar", "voitureelectrique", 12.09, 55.28, "vehicle-km"),
        # Carpool: a thermal car's figure shared by its occupants (impactCO2 divides by passengers + 1).
        _ademe("carpool", "voiturethermique", 110.56, 31.70, "vehicle-km"),
        _ademe("bus", "busthermique", 113.5, 8.92),
        _ademe("coach", "autocar", 33.14, 4.42),
        _ademe("tram", "tramway", 3.8, 0.48),
        _ademe("metro", "metro", 4.2, 0.24),
        _ademe("train", "ter", 22.9, 4.79),
        _ademe("hsr", "tgv", 2.3, 0.63),
        # impactCO2 starts its plane bands at 300 km; shorter flights take the short-haul figure.
        _plane("avion-courtcourrier", 123.2, 0.372, 101.0, 0.0, 1000.0),
        _plane("avion-moyencourrier", 101.3, 0.361, 83.0, 1000.0, 2000.0),
        _plane("avion-moyenlongcourrier", 91.5, 0.294, 75.0, 2000.0, 5000.0),
        _plane("avion-longcourrier", 97.6, 0.294, 80.0, 5000.0, float("inf")),
        # impactCO2 has no per-km ferry figure.
        EmissionFactor("boat", "passenger-km", {"use": 18.71}, DESNZ_FERRY_SOURCE, "ferry-foot-passenger"),
        EmissionFactor("unknown", "passenger-km", {}, "no factor: the mode is not known"),
    ),
)


@dataclass(frozen=True)
class LegEmission:
    co2e_g: float
    factor: EmissionFactor | None
    occupants: int


def leg_emission(
    mode: str,
    distance_m: float,
    *,
    great_circle_m: float | None = None,
    occupants: int | None = None,
    factor_set: FactorSet = DEFAULT_FACTOR_SET,
) -> LegEmission:
    """The CO2e of one person's leg, in grams.

    `distance_m` is the distance travelled; `great_circle_m` (start to end) picks the plane band and
    defaults to `distance_m`. Per-vehicle factors are divided by `occupants`: 1 for a car unless said
    otherwise, the set's default (2) for a carpool.
    """
    great_circle_km = (distance_m if great_circle_m is None else great_circle_m) / 1000.0
    factor = factor_set.factor(mode, great_circle_km)
    if factor is None:
        return LegEmission(0.0, None, 1)
    people = 1
    if factor.unit == "vehicle-km":
        default = factor_set.default_carpool_occupants if mode == "carpool" else 1
        people = max(1, occupants if occupants is not None else default)
    co2e_g = factor.g_per_km * max(distance_m, 0.0) / 1000.0 / people
    return LegEmission(round(co2e_g, 3), factor, people)


EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres: what plane distance bands are defined on."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
