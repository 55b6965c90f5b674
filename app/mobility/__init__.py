"""Coach CO2 mobility library: GPS points in, stays, trips, legs and transport modes out.

Pure Python on numpy, shapely and pyproj; no web framework, no database. One call does it all::

    result = process(points, activities, now_s=time.time())

The stages, each in its own module and each documenting its thresholds and sources:

- :mod:`app.mobility.clean` drops imprecise (>= 200 m, e-mission), duplicated and impossible fixes;
- :mod:`app.mobility.stays` finds stays (Li et al. 2008, in e-mission's 5 min / 100 m form, robust
  to duty-cycled phones) and the trips between them;
- :mod:`app.mobility.legs` splits trips where the mode changes (Zheng et al. 2008 walk-based
  change points, or the phone's activity hints when they cover the trip);
- :mod:`app.mobility.motion` and :mod:`app.mobility.modes` infer each leg's mode from speed,
  acceleration, stops, turns and gaps, and from the hints when present;
- :mod:`app.mobility.pipeline` puts it together (geometry simplified with shapely, geodesic
  distances, open / closed trips and where an incremental run must restart);
- :mod:`app.mobility.simulate` makes traces with known truth for tests and benchmarks.

Every threshold is a field of :class:`PipelineParams` or a named constant next to its reason.
"""

from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.pipeline import process
from app.mobility.transit import TransitStops
from app.mobility.types import ActivityArrays, Leg, PipelineResult, PointArrays, Stay, Trip

__all__ = [
    "DEFAULT_PARAMS",
    "ActivityArrays",
    "Leg",
    "PipelineParams",
    "PipelineResult",
    "PointArrays",
    "Stay",
    "TransitStops",
    "Trip",
    "process",
]
