"""Emission factor sets, and the CO2e of one leg.

A factor set is versioned data: each factor carries its mode, the components it adds up (use: fuel or
electricity, production and combustion; construction: making the vehicle; contrails: the radiative
forcing of a plane's condensation trails), its unit (per passenger-km, or per vehicle-km and then shared
by the occupants), its source, and for planes the great-circle distance band it applies to.

Two sets ship:
- `ademe-2026-07` (default): ADEME's Base Empreinte as published by impactCO2, data of 2026-07. By default
  use + construction (+ contrails for planes) count, as impactCO2's own site shows them.
- `desnz-2025`: the UK DESNZ (ex-DEFRA) 2025 conversion factors, direct (tank-to-wheel) emissions only.
  Modes it has no figure for (bikes, e-scooters, mopeds, high-speed rail) take the ADEME figure, and say so.

Which components count is a policy (`EmissionPolicy.components`), so "use only" or "without contrails"
is a setting, not a new set. A territory may also override a mode's factor from a date on, with its own
source line (`FactorOverride`): a bus fleet that is half electric is better known locally.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Unit = Literal["passenger-km", "vehicle-km"]
COMPONENTS: tuple[str, ...] = ("use", "construction", "contrails")

MODES: tuple[str, ...] = (
    "walk", "run", "bike", "ebike", "escooter", "moped", "motorcycle", "car", "ecar", "carpool",
    "bus", "coach", "tram", "metro", "train", "hsr", "plane", "boat", "unknown",
)  # fmt: skip
# Modes whose factor is per vehicle-km: a leg's share divides by the people in the vehicle.
VEHICLE_MODES = frozenset({"car", "ecar", "carpool"})

ADEME_SOURCE = "ADEME Base Empreinte via impactCO2 (src/data/categories/deplacement.ts, data of 2026-07)"
DESNZ_SOURCE = "UK DESNZ 2025 greenhouse gas conversion factors (direct emissions)"
DESNZ_FERRY_SOURCE = "UK DESNZ 2025 conversion factors, ferry foot passenger (direct emissions)"


@dataclass(frozen=True)
class EmissionFactor:
    """One mode's factor (optionally for a variant, such as a hybrid car), with its components."""

    mode: str
    unit: Unit
    components: Mapping[str, float]
    source: str
    slug: str = ""
    variant: str = ""
    # For planes: the factor applies to legs whose great-circle distance is within [min_km, max_km).
    min_km: float = 0.0
    max_km: float = math.inf

    def g_per_km(self, counted: Iterable[str] = COMPONENTS) -> float:
        """Grams CO2e per km (per passenger or per vehicle, by `unit`) for the counted components."""
        wanted = set(counted)
        return round(sum(v for k, v in self.components.items() if k in wanted), 4)

    @property
    def key(self) -> str:
        return "/".join(part for part in (self.mode, self.variant, self.slug) if part)


@dataclass(frozen=True)
class FactorSet:
    id: str
    name: str
    version: str
    year: int
    factors: tuple[EmissionFactor, ...]
    description: str = ""
    _index: dict[tuple[str, str], list[EmissionFactor]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for factor in self.factors:
            self._index.setdefault((factor.mode, factor.variant), []).append(factor)

    def factor(self, mode: str, great_circle_km: float = 0.0, variant: str = "") -> EmissionFactor | None:
        """The factor for a mode (and variant, falling back to the plain mode); planes by distance band."""
        candidates = self._index.get((mode, variant)) or self._index.get((mode, ""), [])
        for candidate in candidates:
            if candidate.min_km <= great_circle_km < candidate.max_km:
                return candidate
        return candidates[0] if candidates else None

    def modes(self) -> list[str]:
        return [m for m in MODES if (m, "") in self._index]


def _ademe(
    mode: str, slug: str, use: float, construction: float, unit: Unit = "passenger-km", variant: str = ""
) -> EmissionFactor:
    components = {"use": use, "construction": construction}
    return EmissionFactor(mode, unit, components, ADEME_SOURCE, slug, variant)


def _ademe_plane(
    slug: str, use: float, construction: float, contrails: float, lo: float, hi: float
) -> EmissionFactor:
    components = {"use": use, "construction": construction, "contrails": contrails}
    return EmissionFactor("plane", "passenger-km", components, ADEME_SOURCE, slug, "", lo, hi)


_ADEME_FACTORS: tuple[EmissionFactor, ...] = (
    _ademe("walk", "marche", 0.0, 0.0),
    _ademe("run", "marche", 0.0, 0.0),
    _ademe("bike", "velo", 0.0, 0.17),
    _ademe("ebike", "veloelectrique", 2.23, 8.72),
    _ademe("escooter", "trottinette", 2.0, 22.9),
    _ademe("moped", "scooter", 60.4, 15.9),
    _ademe("motorcycle", "moto", 140.0, 74.7),
    _ademe("car", "voiturethermique", 110.56, 31.70, "vehicle-km"),
    _ademe("car", "voiturehybride", 113.42, 33.16, "vehicle-km", variant="hybrid"),
    # impactCO2 has no plug-in hybrid figure: the hybrid one is the nearest it publishes.
    _ademe("car", "voiturehybride", 113.42, 33.16, "vehicle-km", variant="plugin_hybrid"),
    _ademe("ecar", "voitureelectrique", 12.09, 55.28, "vehicle-km"),
    # Carpool: a thermal car's figure shared by its occupants (impactCO2 divides by passengers + 1).
    _ademe("carpool", "voiturethermique", 110.56, 31.70, "vehicle-km"),
    _ademe("bus", "busthermique", 113.5, 8.92),
    _ademe("bus", "buselectrique", 9.5, 12.2, variant="electric"),
    _ademe("bus", "busgnv", 112.8, 8.9, variant="gnv"),
    _ademe("coach", "autocar", 33.14, 4.42),
    _ademe("tram", "tramway", 3.8, 0.48),
    _ademe("metro", "metro", 4.2, 0.24),
    _ademe("train", "ter", 22.9, 4.79),
    _ademe("train", "rer", 6.6, 3.18, variant="suburban"),
    _ademe("train", "intercites", 5.8, 3.18, variant="intercity"),
    _ademe("hsr", "tgv", 2.3, 0.63),
    # impactCO2 starts its plane bands at 300 km; shorter flights take the short-haul figure.
    _ademe_plane("avion-courtcourrier", 123.2, 0.372, 101.0, 0.0, 1000.0),
    _ademe_plane("avion-moyencourrier", 101.3, 0.361, 83.0, 1000.0, 2000.0),
    _ademe_plane("avion-moyenlongcourrier", 91.5, 0.294, 75.0, 2000.0, 5000.0),
    _ademe_plane("avion-longcourrier", 97.6, 0.294, 80.0, 5000.0, math.inf),
    # impactCO2 has no per-km ferry figure.
    EmissionFactor("boat", "passenger-km", {"use": 18.71}, DESNZ_FERRY_SOURCE, "ferry-foot-passenger"),
    EmissionFactor("unknown", "passenger-km", {}, "no factor: the mode is not known", "unknown"),
)

ADEME_2026 = FactorSet(
    id="ademe-2026-07",
    name="ADEME Base Empreinte (impactCO2)",
    version="2026-07",
    year=2026,
    factors=_ADEME_FACTORS,
    description="French reference figures; use + construction, and contrails for planes.",
)


def _desnz(mode: str, kg_per_km: float, unit: Unit = "passenger-km", variant: str = "") -> EmissionFactor:
    return EmissionFactor(mode, unit, {"use": round(kg_per_km * 1000, 4)}, DESNZ_SOURCE, "", variant)


def _borrowed(mode: str) -> EmissionFactor:
    """An ADEME factor standing in where DESNZ publishes none."""
    original = ADEME_2026.factor(mode)
    assert original is not None
    note = f"{ADEME_SOURCE} (DESNZ 2025 has no figure for this mode)"
    return EmissionFactor(mode, original.unit, original.components, note, original.slug)


DESNZ_2025 = FactorSet(
    id="desnz-2025",
    name="UK DESNZ 2025 conversion factors",
    version="2025",
    year=2025,
    factors=(
        EmissionFactor("walk", "passenger-km", {}, DESNZ_SOURCE, "walk"),
        EmissionFactor("run", "passenger-km", {}, DESNZ_SOURCE, "run"),
        _borrowed("bike"),
        _borrowed("ebike"),
        _borrowed("escooter"),
        _borrowed("moped"),
        _desnz("motorcycle", 0.11367, "vehicle-km"),
        _desnz("car", 0.16725, "vehicle-km"),
        _desnz("car", 0.16272, "vehicle-km", "petrol"),
        _desnz("car", 0.17304, "vehicle-km", "diesel"),
        _desnz("car", 0.12825, "vehicle-km", "hybrid"),
        _desnz("car", 0.10461, "vehicle-km", "plugin_hybrid"),
        _desnz("ecar", 0.04047, "vehicle-km"),
        _desnz("carpool", 0.16725, "vehicle-km"),
        _desnz("bus", 0.10385),
        _desnz("coach", 0.02776),
        _desnz("tram", 0.02860),
        _desnz("metro", 0.02780),
        _desnz("train", 0.03546),
        _borrowed("hsr"),
        # DESNZ's bands are domestic, short-haul and long-haul flights; here by great-circle distance, with
        # 500 km and 3,700 km as the edges (a domestic UK flight is under 500 km, short-haul up to 3,700 km).
        EmissionFactor("plane", "passenger-km", {"use": 229.28}, DESNZ_SOURCE, "domestic", "", 0.0, 500.0),
        EmissionFactor(
            "plane", "passenger-km", {"use": 125.76}, DESNZ_SOURCE, "short-haul", "", 500.0, 3700.0
        ),
        EmissionFactor(
            "plane", "passenger-km", {"use": 117.04}, DESNZ_SOURCE, "long-haul", "", 3700.0, math.inf
        ),
        EmissionFactor("boat", "passenger-km", {"use": 18.71}, DESNZ_FERRY_SOURCE, "ferry-foot-passenger"),
        EmissionFactor("unknown", "passenger-km", {}, "no factor: the mode is not known", "unknown"),
    ),
    description="UK figures, direct emissions only (with radiative forcing for flights); for comparison.",
)

FACTOR_SETS: dict[str, FactorSet] = {s.id: s for s in (ADEME_2026, DESNZ_2025)}
DEFAULT_FACTOR_SET = ADEME_2026


@dataclass(frozen=True)
class EmissionPolicy:
    """Which set is in force and which components count. Default: ADEME, every component."""

    factor_set: FactorSet = DEFAULT_FACTOR_SET
    components: frozenset[str] = frozenset(COMPONENTS)
    # A carpool without a stated number of people counts two: the driver and one passenger.
    carpool_default_occupants: int = 2

    @property
    def label(self) -> str:
        counted = "+".join(c for c in COMPONENTS if c in self.components)
        return f"{self.factor_set.id}:{counted}"


DEFAULT_POLICY = EmissionPolicy()


@dataclass(frozen=True)
class FactorOverride:
    """A territory's own factor for a mode (and optional variant), in force from a time on."""

    id: str
    mode: str
    g_per_km: float
    unit: Unit
    source: str
    valid_from_ms: int
    variant: str = ""


@dataclass(frozen=True)
class ResolvedFactor:
    """The factor actually applied to a leg, with everything needed to reproduce the figure."""

    mode: str
    g_per_km: float
    unit: Unit
    source: str
    factor_set: str
    key: str
    components: Mapping[str, float]


def resolve_factor(
    mode: str,
    great_circle_km: float = 0.0,
    *,
    variant: str = "",
    policy: EmissionPolicy = DEFAULT_POLICY,
    overrides: Sequence[FactorOverride] = (),
    at_ms: int | None = None,
) -> ResolvedFactor | None:
    """The factor in force for a mode: the latest override valid at `at_ms`, else the policy's set."""
    applicable = [
        o
        for o in overrides
        if o.mode == mode and o.variant in ("", variant) and (at_ms is None or o.valid_from_ms <= at_ms)
    ]
    if applicable:
        chosen = max(applicable, key=lambda o: (o.variant == variant, o.valid_from_ms))
        return ResolvedFactor(
            mode, chosen.g_per_km, chosen.unit, chosen.source, "territory", f"override:{chosen.id}", {}
        )
    factor = policy.factor_set.factor(mode, great_circle_km, variant)
    if factor is None:
        return None
    counted = {k: v for k, v in factor.components.items() if k in policy.components}
    return ResolvedFactor(
        mode,
        factor.g_per_km(policy.components),
        factor.unit,
        factor.source,
        f"{policy.factor_set.id}:{'+'.join(c for c in COMPONENTS if c in policy.components)}",
        factor.key,
        counted,
    )


@dataclass(frozen=True)
class LegEmission:
    co2e_g: float
    factor: ResolvedFactor | None
    occupants: int


def leg_emission(
    mode: str,
    distance_m: float,
    *,
    great_circle_m: float | None = None,
    occupants: int | None = None,
    variant: str = "",
    policy: EmissionPolicy = DEFAULT_POLICY,
    overrides: Sequence[FactorOverride] = (),
    at_ms: int | None = None,
) -> LegEmission:
    """The CO2e of one person's leg, in grams.

    `distance_m` is the distance travelled; `great_circle_m` (start to end) picks the plane band and
    defaults to `distance_m`. Per-vehicle factors are divided by `occupants`: 1 for a car unless said
    otherwise, the policy's default (2) for a carpool.
    """
    great_circle_km = (distance_m if great_circle_m is None else great_circle_m) / 1000.0
    factor = resolve_factor(
        mode, great_circle_km, variant=variant, policy=policy, overrides=overrides, at_ms=at_ms
    )
    if factor is None:
        return LegEmission(0.0, None, 1)
    people = 1
    if factor.unit == "vehicle-km":
        default = policy.carpool_default_occupants if mode == "carpool" else 1
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
