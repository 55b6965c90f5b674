"""Coach CO2 mobility library: GPS points in, stays, trips, legs and transport modes out.

Pure Python on numpy, shapely and pyproj; no web framework, no database.
"""

from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.pipeline import process
from app.mobility.types import ActivityArrays, Leg, PipelineResult, PointArrays, Stay, Trip

__all__ = [
    "DEFAULT_PARAMS",
    "ActivityArrays",
    "Leg",
    "PipelineParams",
    "PipelineResult",
    "PointArrays",
    "Stay",
    "Trip",
    "process",
]
