"""Emissions: sourced factor sets, the CO2e of a leg, and coaching. Pure data and arithmetic."""

from app.emissions.factors import (
    COMPONENTS,
    DEFAULT_FACTOR_SET,
    DEFAULT_POLICY,
    FACTOR_SETS,
    MODES,
    VEHICLE_MODES,
    EmissionFactor,
    EmissionPolicy,
    FactorOverride,
    FactorSet,
    LegEmission,
    ResolvedFactor,
    great_circle_m,
    leg_emission,
    resolve_factor,
)
from app.emissions.profile import FactorChoice, Profile, apply_profile

__all__ = [
    "COMPONENTS",
    "DEFAULT_FACTOR_SET",
    "DEFAULT_POLICY",
    "FACTOR_SETS",
    "MODES",
    "VEHICLE_MODES",
    "EmissionFactor",
    "EmissionPolicy",
    "FactorChoice",
    "FactorOverride",
    "FactorSet",
    "LegEmission",
    "Profile",
    "ResolvedFactor",
    "apply_profile",
    "great_circle_m",
    "leg_emission",
    "resolve_factor",
]
