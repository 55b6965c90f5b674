"""Plain data that goes in and out of the mobility pipeline.

Arrays in, small frozen dataclasses out: the worker turns rows from the store into
``PointArrays`` / ``ActivityArrays`` and persists the ``Trip`` / ``Leg`` / ``Stay`` results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]
#: one reason for a leg's mode, machine-readable: ``{"rule": "line_stops", "line": "3", "stops_served": 7}``
Reason = dict[str, str | int | float]

#: Mode ids of the v1 API (see API.md).
MODES: tuple[str, ...] = (
    "walk",
    "run",
    "bike",
    "ebike",
    "escooter",
    "moped",
    "motorcycle",
    "car",
    "ecar",
    "carpool",
    "bus",
    "coach",
    "tram",
    "metro",
    "train",
    "hsr",
    "plane",
    "boat",
    "unknown",
)


@dataclass(frozen=True)
class PointArrays:
    """One user's location updates, sorted by ``ts_s`` ascending with unique timestamps.

    Attributes:
        ts_s: epoch seconds (UTC), float64.
        lat, lon: WGS 84 degrees.
        accuracy_m: horizontal accuracy reported by the phone, NaN when unknown.
        speed_mps: phone-reported speed, NaN when unknown.
        altitude_m: altitude, NaN when unknown.
    """

    ts_s: FloatArray
    lat: FloatArray
    lon: FloatArray
    accuracy_m: FloatArray
    speed_mps: FloatArray
    altitude_m: FloatArray

    @staticmethod
    def from_arrays(
        ts_s: npt.ArrayLike,
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        accuracy_m: npt.ArrayLike | None = None,
        speed_mps: npt.ArrayLike | None = None,
        altitude_m: npt.ArrayLike | None = None,
    ) -> PointArrays:
        """Build from array-likes; missing optional columns become all-NaN."""
        ts = np.asarray(ts_s, dtype=np.float64)

        def col(a: npt.ArrayLike | None) -> FloatArray:
            if a is None:
                return np.full(ts.shape, np.nan)
            return np.asarray(a, dtype=np.float64)

        return PointArrays(ts, col(lat), col(lon), col(accuracy_m), col(speed_mps), col(altitude_m))

    def __len__(self) -> int:
        return int(self.ts_s.shape[0])

    def take(self, idx: IntArray | BoolArray) -> PointArrays:
        """The subset of points selected by an index or mask array."""
        return PointArrays(
            self.ts_s[idx],
            self.lat[idx],
            self.lon[idx],
            self.accuracy_m[idx],
            self.speed_mps[idx],
            self.altitude_m[idx],
        )


@dataclass(frozen=True)
class ActivityArrays:
    """The phone's motion-activity hints, sorted by ``ts_s``.

    Attributes:
        ts_s: epoch seconds (UTC), float64.
        kind: str objects among stationary, walking, running, cycling, automotive, unknown.
        confidence: 0..100, NaN when unknown.
    """

    ts_s: FloatArray
    kind: ObjArray
    confidence: FloatArray

    def __len__(self) -> int:
        return int(self.ts_s.shape[0])


@dataclass(frozen=True)
class Leg:
    """One single-mode part of a trip.

    ``reasons`` say why this mode (rules and their figures, :class:`app.mobility.modes.ModeGuess`);
    ``features`` are the motion features the person's confirmations are compared on
    (:func:`app.mobility.personal.leg_features`).
    """

    start_ts_s: float
    end_ts_s: float
    mode: str
    mode_source: str
    confidence: float
    distance_m: float
    coordinates: list[tuple[float, float]]
    point_count: int
    reasons: tuple[Reason, ...] = ()
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Trip:
    """Movement between two stays; ``closed`` is False while it may still grow.

    ``read_from_ts_s`` is where a run must start reading points to build this trip again whole: its
    first fix, or the last fix before it when it set off after a silent gap (that fix tells how far the
    person had gone unseen, which moves ``start_ts_s`` back). None means ``start_ts_s``.
    """

    start_ts_s: float
    end_ts_s: float
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    distance_m: float
    closed: bool
    legs: list[Leg]
    read_from_ts_s: float | None = None

    @property
    def read_from(self) -> float:
        """Where to start reading to rebuild this trip whole (see the class)."""
        return self.start_ts_s if self.read_from_ts_s is None else min(self.read_from_ts_s, self.start_ts_s)


@dataclass(frozen=True)
class Stay:
    """A place where the user dwelt."""

    start_ts_s: float
    end_ts_s: float
    lat: float
    lon: float


@dataclass(frozen=True)
class PipelineResult:
    """What one run of :func:`app.mobility.process` found.

    ``resume_from_ts_s`` is where the next incremental run must restart reading points: the start
    of the first open trip (or of the open tail of moving points), or the start of the evidence of
    the last stay when it may still be extending; None when nothing needs re-reading (``now_s``
    None). When that evidence begins inside the last trip (the dwell window holds the arrival), or
    the last trip was closed by the time-out only, the restart is that trip's start, so the next
    run rebuilds it whole: a closed trip may then come back, to replace the stored one it overlaps.
    After a silent gap the restart is the last fix before the gap (the trip's start depends on it).
    """

    stays: list[Stay]
    trips: list[Trip]
    resume_from_ts_s: float | None
