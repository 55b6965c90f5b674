"""Emissions: sourced factor sets and the CO2e of a leg. Pure data and arithmetic."""

from app.emissions.factors import (
    DEFAULT_FACTOR_SET,
    MODES,
    EmissionFactor,
    FactorSet,
    LegEmission,
    great_circle_m,
    leg_emission,
)

__all__ = [
    "DEFAULT_FACTOR_SET",
    "MODES",
    "EmissionFactor",
    "FactorSet",
    "LegEmission",
    "great_circle_m",
    "leg_emission",
]
