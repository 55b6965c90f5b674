"""Coach CO2 import library: user-uploaded location history files and e-mission phone envelopes.

Pure Python, streaming, self-contained (no web framework, no database, no other app module).
Supported uploads: GPX 1.0/1.1, GeoJSON, Google Takeout ``Records.json``, Google Maps on-device
``Timeline.json``. Every parser is a generator over a binary file object yielding
``ImportBatch(points, activities)`` with at most ``batch_size`` items in each list, and raises
:class:`ImportFormatError` (a message naming what is wrong and where) on bad input -- parse the whole
file before committing anything if nothing partial may be left behind.

The e-mission / OpenPATH ``/usercache/put`` envelope is mapped by :func:`map_usercache`.
"""

from app.imports.emission import UsercacheBatch, map_usercache
from app.imports.geojson import parse_geojson
from app.imports.google import parse_google_records, parse_google_timeline
from app.imports.gpx import parse_gpx
from app.imports.parse import PARSERS, parse_file, sniff
from app.imports.types import (
    ACTIVITY_TYPES,
    FORMATS,
    ImportBatch,
    ImportedActivity,
    ImportedPoint,
    ImportFormatError,
    detect_format,
)

__all__ = [
    "ACTIVITY_TYPES",
    "FORMATS",
    "PARSERS",
    "ImportBatch",
    "ImportFormatError",
    "ImportedActivity",
    "ImportedPoint",
    "UsercacheBatch",
    "detect_format",
    "map_usercache",
    "parse_file",
    "parse_geojson",
    "parse_google_records",
    "parse_google_timeline",
    "parse_gpx",
    "sniff",
]
