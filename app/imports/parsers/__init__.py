"""The history-file parsers: user-uploaded location history files, read as a stream.

Pure Python, streaming, self-contained (no web framework, no database, no other app module).
Supported uploads: GPX 1.0/1.1, GeoJSON, Google Takeout ``Records.json``, Google Maps on-device
``Timeline.json``. Every parser is a generator over a binary file object yielding
``ImportBatch(points, activities)`` with at most ``batch_size`` items in each list, and raises
:class:`ImportFormatError` (a message naming what is wrong and where) on bad input -- parse the whole
file before committing anything if nothing partial may be left behind.

The e-mission / OpenPATH ``/usercache/put`` envelope is mapped in :mod:`app.openpath.envelope`.
"""

from app.imports.parsers.geojson import parse_geojson
from app.imports.parsers.google import parse_google_records, parse_google_timeline
from app.imports.parsers.gpx import parse_gpx
from app.imports.parsers.sniffing import PARSERS, parse_file, sniff
from app.imports.parsers.types import (
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
    "detect_format",
    "parse_file",
    "parse_geojson",
    "parse_google_records",
    "parse_google_timeline",
    "parse_gpx",
    "sniff",
]
