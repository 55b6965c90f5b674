"""Building small GTFS feeds for tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    return "\r\n".join(lines) + "\r\n"


def feed_zip(files: dict[str, str], folder: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(folder + name, text.encode("utf-8"))
    return out.getvalue()


def line_feed(
    stops: Sequence[tuple[str, float, float]],
    *,
    route_id: str = "L1",
    route_type: int = 3,
    extra_stops: Sequence[tuple[str, float, float]] = (),
) -> bytes:
    """A feed with one line serving ``stops`` in order (one trip), plus unserved ``extra_stops``."""
    return feed_zip(
        {
            "agency.txt": table(["agency_id", "agency_name", "agency_url", "agency_timezone"],
                                [["A", "Transit", "https://example.org", "Europe/Paris"]]),
            "stops.txt": table(["stop_id", "stop_name", "stop_lat", "stop_lon"],
                               [(sid, f"Stop {sid}", lat, lon) for sid, lat, lon in [*stops, *extra_stops]]),
            "routes.txt": table(["route_id", "route_short_name", "route_type"], [[route_id, route_id, route_type]]),
            "trips.txt": table(["route_id", "service_id", "trip_id"], [[route_id, "S", "T1"]]),
            "stop_times.txt": table(
                ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"],
                [("T1", f"08:{i:02d}:00", f"08:{i:02d}:30", sid, i + 1) for i, (sid, _, _) in enumerate(stops)],
            ),
        }
    )  # fmt: skip
