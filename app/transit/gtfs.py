"""Reading a territory's public transport network from its GTFS feed.

A GTFS feed (https://gtfs.org/schedule/reference/) is a zip of CSV tables. Mode inference needs only
where vehicles stop and which lines serve each stop, so this reads four tables, streaming:

- ``routes.txt``: each line's ``route_type`` (bus, tram, metro, rail...);
- ``trips.txt``: which line each scheduled trip runs on;
- ``stop_times.txt``: which stops each trip serves (the largest table: read row by row, never whole);
- ``stops.txt``: where each stop is; a station (``location_type`` 1) takes the lines of its platforms.

Pure Python, no database and no web framework. Bad input raises :class:`GtfsError` naming the file,
row and column, never another exception.

Feeds come from outside, so reading is bounded in memory and time whatever the file holds:

- **Size**: the four tables together may take at most ``max_bytes`` once decompressed
  (:data:`MAX_FEED_BYTES`, 1 GiB, by default: a city's network takes tens of MB, and parsing 1 GiB
  takes about a minute). The sizes the zip declares are checked before anything is read, and the bytes
  really decompressed are counted while reading, since the declared sizes are only the archive's word.
- **Compression ratio**: a table over :data:`RATIO_FLOOR_BYTES` (8 MiB) may decompress to at most
  ``max_ratio`` (:data:`MAX_COMPRESSION_RATIO`, 200) times its compressed size. Real tables compress
  5 to 15 times; a zip bomb hundreds of times (deflate reaches about 1,000). The limit refuses a bomb
  before a byte of it is inflated, where the size limit alone would first spend a minute on it.
- **Rows**: a row may hold at most :data:`MAX_ROW_CHARS` (1 Mi) characters, and a field at most
  :func:`csv.field_size_limit` (131,072 by default), so a table without line breaks, or one whose
  quoted field never closes, cannot fill memory. Real rows are well under a kilobyte.
- **Text**: each table is read as UTF-8 (with or without a byte order mark); one that is not valid UTF-8
  (French feeds often come from Windows) is read again as Windows-1252, with Latin-1 for the five bytes
  that Windows-1252 leaves undefined, so every byte decodes. A NUL character in any value read is
  refused (PostgreSQL cannot store it, and stripping it would merge distinct ids).
- **Archive**: an encrypted table, an unsupported compression method, a bad checksum or a damaged
  stream is refused naming the table.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import lzma
import math
import operator
import re
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: kinds of service at a stop, as bits, from the lines that call there
BUS = 1
TRAM = 2
METRO = 4
TRAIN = 8
FERRY = 16
RAIL = TRAM | METRO | TRAIN

#: GTFS route types (basic and extended, https://gtfs.org/schedule/reference/#routestxt and Google's
#: extended route types) to the kinds above; other types (cable cars, funiculars...) are left out
_BASIC_TYPES = {0: TRAM, 1: METRO, 2: TRAIN, 3: BUS, 4: FERRY, 5: TRAM, 7: TRAM, 11: BUS, 12: METRO}


def route_kind(route_type: int) -> int:
    """The kind bit of a GTFS ``route_type`` (0 when it is none of ours)."""
    if route_type in _BASIC_TYPES:
        return _BASIC_TYPES[route_type]
    if 100 <= route_type < 200 or 300 <= route_type < 400:  # railway, suburban railway
        return TRAIN
    if 200 <= route_type < 300 or 700 <= route_type < 800:  # coach, bus
        return BUS
    if route_type == 800:  # trolleybus
        return BUS
    if 400 <= route_type < 500:  # urban railway, metro, underground
        return METRO
    if 900 <= route_type < 1000:  # tram
        return TRAM
    if 1000 <= route_type < 1100 or 1200 <= route_type < 1300:  # water transport, ferry
        return FERRY
    return 0


#: the name an operator gives a feed (its URL segment): 1 to 40 lower-case letters, digits and dashes
FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

#: the most bytes the four tables read may take once decompressed, together (``max_bytes``)
MAX_FEED_BYTES = 1024**3
#: the most times a table may expand on decompression (``max_ratio``), when it is over RATIO_FLOOR_BYTES
MAX_COMPRESSION_RATIO = 200.0
#: tables smaller than this once decompressed may compress any amount: they cost little to read
RATIO_FLOOR_BYTES = 8 * 1024**2
#: the longest row of a table, in characters (its line, or lines when a quoted field holds line breaks)
MAX_ROW_CHARS = 1024**2


class GtfsError(ValueError):
    """The file is not a usable GTFS feed; the message names the file, row and column."""


@dataclass(frozen=True)
class TransitStop:
    """A place where vehicles stop: its position, kinds of service and the lines calling there."""

    stop_id: str
    name: str
    lat: float
    lon: float
    kinds: int
    routes: tuple[str, ...]


@dataclass(frozen=True)
class GtfsNetwork:
    """The stops of a feed that at least one line of a known kind serves, and the number of lines."""

    stops: list[TransitStop]
    routes: int


#: the tables read, with the columns each must have
REQUIRED = {
    "stops.txt": ("stop_id", "stop_lat", "stop_lon"),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id"),
}

#: compression methods zipfile can inflate; others (deflate64 from Windows, AES...) it refuses
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
#: what zipfile and the decompressors raise on a damaged archive (bz2 raises OSError)
_DAMAGED = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)
#: Windows-1252's characters for the bytes 0x80-0x9F, read as Latin-1 first; the five bytes it leaves
#: undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) keep their Latin-1 meaning
_CP1252 = {
    byte: bytes([byte]).decode("cp1252")
    for byte in range(0x80, 0xA0)
    if byte not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


class _Counted(io.RawIOBase):
    """A table's bytes as they are decompressed, refused once past the feed's limits.

    The sizes in the zip's directory were checked before reading, but they are the archive's word:
    counting the bytes really produced holds whatever the headers say. Whether a NUL byte came by is
    noted here too, where it costs one search per block instead of one per value."""

    def __init__(self, member: IO[bytes], name: str, info: zipfile.ZipInfo, feed: _Feed) -> None:
        super().__init__()
        self._member, self._name, self._info, self._feed = member, name, info, feed
        self.count = 0
        self.nul = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._member.read(len(view))
        except ValueError as exc:  # zipfile, on an entry that points outside the archive
            raise zipfile.BadZipFile(str(exc)) from None
        view[: len(data)] = data
        self.count += len(data)
        self.nul = self.nul or b"\x00" in data
        self._feed.check_size(self._name, self._info, self.count)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._member.close()
        super().close()


class _Feed:
    """The archive, the member of each table, and the bytes decompressed so far against the limits."""

    def __init__(self, archive: zipfile.ZipFile, max_bytes: int, max_ratio: float) -> None:
        self.archive, self.max_bytes, self.max_ratio = archive, max_bytes, max_ratio
        self.members = {name: self._member(name) for name in REQUIRED}
        self.done = 0  # bytes decompressed from the tables read to their end
        self._check_declared()

    def _member(self, name: str) -> zipfile.ZipInfo:
        """The table's entry: the first file of that name, in any folder."""
        found = [i for i in self.archive.infolist() if i.filename.rstrip("/").rsplit("/", 1)[-1] == name]
        info = next((i for i in found if not i.is_dir()), None)
        if info is None:
            if found:
                raise GtfsError(f"{name}: is a folder in the feed, not a file")
            raise GtfsError(f"{name}: the feed has no such file (a GTFS feed needs {', '.join(REQUIRED)})")
        if info.flag_bits & 0x1:
            raise GtfsError(f"{name}: the file is encrypted (publish the feed without a password)")
        if info.compress_type not in _METHODS:
            raise GtfsError(
                f"{name}: the file is compressed with method {info.compress_type}, which cannot be read "
                "(zip the feed again with the usual deflate method)"
            )
        return info

    def _check_declared(self) -> None:
        """Refuse a feed whose declared sizes pass the limits before reading a byte of it."""
        total = sum(info.file_size for info in self.members.values())
        if total > self.max_bytes:
            raise GtfsError(
                f"the feed's tables take {total:,} bytes once decompressed, "
                f"over the limit of {self.max_bytes:,} bytes"
            )
        for name, info in self.members.items():
            self.check_ratio(name, info, info.file_size)

    def check_ratio(self, name: str, info: zipfile.ZipInfo, size: int) -> None:
        """Refuse a table that expands to ``size`` bytes if that is too many for its compressed size."""
        if size > RATIO_FLOOR_BYTES and size > self.max_ratio * max(info.compress_size, 1):
            raise GtfsError(
                f"{name}: expands {size / max(info.compress_size, 1):,.0f} times on decompression, over the "
                f"limit of {self.max_ratio:g} times for a file over {RATIO_FLOOR_BYTES:,} bytes (a zip bomb?)"
            )

    def check_size(self, name: str, info: zipfile.ZipInfo, count: int) -> None:
        """Refuse once the bytes decompressed pass a limit (``count`` from this table so far)."""
        if self.done + count > self.max_bytes:
            raise GtfsError(
                f"{name}: the feed's tables take more than {self.max_bytes:,} bytes once decompressed, "
                "over the limit"
            )
        self.check_ratio(name, info, count)

    @contextlib.contextmanager
    def text(self, name: str, cp1252: bool) -> Iterator[tuple[IO[str], _Counted]]:
        """A table's text, as UTF-8 or else as Latin-1 (for Windows-1252), and its byte counter.

        A pass read to its end counts towards the size limit; one abandoned for another does not."""
        info = self.members[name]
        try:
            member = self.archive.open(info)
        except (RuntimeError, NotImplementedError) as exc:  # encryption, compression not supported
            raise GtfsError(f"{name}: the file cannot be decompressed ({exc})") from None
        except (ValueError, *_DAMAGED) as exc:  # ValueError: an entry that points outside the archive
            raise GtfsError(f"{name}: the file cannot be read, the archive is damaged ({exc})") from None
        counted = _Counted(member, name, info, self)
        encoding = "latin-1" if cp1252 else "utf-8-sig"
        with io.TextIOWrapper(io.BufferedReader(counted, 64 * 1024), encoding=encoding, newline="") as text:
            yield text, counted
        self.done += counted.count


def _lines(text: IO[str], name: str, row: list[int]) -> Iterator[str]:
    """The lines of a table for the csv reader, refusing a row too long to hold in memory.

    ``row[0]`` counts the characters of the row being read; the caller sets it to 0 after each row. A
    row may span lines (a quoted field can hold line breaks), so a limit on lines alone would not do."""
    for number in itertools.count(1):
        line = text.readline(MAX_ROW_CHARS + 1)
        if not line:
            return
        row[0] += len(line)
        if row[0] > MAX_ROW_CHARS:
            raise GtfsError(f"{name}: row {number}: the row is longer than {MAX_ROW_CHARS:,} characters")
        yield line


def _header(name: str, reader: Iterator[list[str]], columns: Sequence[str], cp1252: bool) -> list[int]:
    """The position of each of ``columns`` in a table's header (one past its end for an absent one)."""
    header = [h.strip() for h in next((r for r in reader if r), [])]  # past any blank lines
    if not header:
        raise GtfsError(f"{name}: the file is empty (it needs a header row naming its columns)")
    if cp1252:
        header[0] = header[0].removeprefix("\xef\xbb\xbf")  # a UTF-8 byte order mark, read as Latin-1
    if any("\x00" in h for h in header):
        raise GtfsError(f"{name}: row 1: a column name contains a NUL character (is the file UTF-16?)")
    missing = [c for c in REQUIRED[name] if c not in header]
    if missing:
        raise GtfsError(f"{name}: column {missing[0]} is missing")
    return [header.index(c) if c in header else len(header) for c in columns]


def _rows(feed: _Feed, name: str, columns: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """The rows of a table, streaming: each row's number (the header is row 1) and the stripped
    ``columns`` of it ("" where the row has none).

    The table is read as UTF-8; at the first byte that is not, it is read again from the start as
    Windows-1252, skipping the rows already given. The two encodings agree on every byte that splits
    rows and fields, so the rows line up, and each row is given once."""
    given = 0
    for cp1252 in (False, True):
        try:
            with feed.text(name, cp1252) as (text, counted):
                row = [0]
                reader = csv.reader(_lines(text, name, row))
                try:
                    index = _header(name, reader, columns, cp1252)
                    row[0] = 0
                    pick = operator.itemgetter(*index, 0)  # always a tuple, even for one column
                    width = max(index) + 1
                    skip = given
                    for fields in reader:
                        row[0] = 0
                        if not fields:
                            continue  # a blank line
                        if skip:
                            skip -= 1
                            continue
                        if len(fields) < width:
                            fields += [""] * (width - len(fields))
                        values = list(map(str.strip, pick(fields)[:-1]))
                        if cp1252:
                            values = [v.translate(_CP1252) for v in values]
                        if counted.nul:
                            _refuse_nul(name, reader.line_num, columns, values)
                        yield reader.line_num, values
                        given += 1
                except csv.Error as exc:
                    raise GtfsError(f"{name}: row {reader.line_num}: {exc}") from None
            return
        except UnicodeDecodeError:
            if cp1252:
                raise  # cannot happen (Latin-1 decodes every byte), but must not end the table silently
            # not UTF-8: read it again as Windows-1252
        except _DAMAGED as exc:
            raise GtfsError(f"{name}: the file cannot be read, the archive is damaged ({exc})") from None


def _refuse_nul(name: str, number: int, columns: Sequence[str], values: Sequence[str]) -> None:
    """Refuse a row holding a NUL character in a value read: PostgreSQL cannot store one in text, and
    dropping it would make two distinct ids one."""
    for column, value in zip(columns, values, strict=True):
        if "\x00" in value:
            raise GtfsError(f"{name}: row {number}: column {column} contains a NUL character")


def _float(name: str, number: int, column: str, value: str, lo: float, hi: float) -> float:
    try:
        out = float(value)
    except ValueError:
        raise GtfsError(f"{name}: row {number}: column {column} is not a number") from None
    if not (lo <= out <= hi) or math.isnan(out):
        raise GtfsError(f"{name}: row {number}: column {column} is outside [{lo}, {hi}]")
    return out


def read_gtfs(
    source: str | Path | IO[bytes],
    *,
    max_bytes: int = MAX_FEED_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> GtfsNetwork:
    """The stops of a GTFS zip with the kinds of service and lines calling at each.

    ``max_bytes`` and ``max_ratio`` bound the work a feed may cause (see the module's docstring).

    Raises:
        GtfsError: not a zip, a table or column missing, a bad number, a limit passed, a damaged or
            encrypted table; the message says where.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise GtfsError(f"the file is not a zip archive that can be read ({exc})") from None
    with archive:
        feed = _Feed(archive, max_bytes, max_ratio)
        kind_of_route: dict[str, int] = {}
        for number, (route_id, route_type) in _rows(feed, "routes.txt", ("route_id", "route_type")):
            try:
                kind = route_kind(int(route_type))
            except ValueError:
                raise GtfsError(f"routes.txt: row {number}: column route_type is not an integer") from None
            if kind:
                kind_of_route[route_id] = kind
        route_of_trip: dict[str, str] = {}
        for _, (route_id, trip_id) in _rows(feed, "trips.txt", ("route_id", "trip_id")):
            if route_id in kind_of_route:
                route_of_trip[trip_id] = route_id
        routes_at: dict[str, set[str]] = defaultdict(set)
        for _, (trip_id, stop_id) in _rows(feed, "stop_times.txt", ("trip_id", "stop_id")):
            served = route_of_trip.get(trip_id)
            if served is not None:
                routes_at[stop_id].add(served)
        places: dict[str, tuple[str, float, float, str]] = {}
        columns = ("stop_id", "stop_name", "stop_lat", "stop_lon", "parent_station")
        for number, (stop_id, name, lat_text, lon_text, parent) in _rows(feed, "stops.txt", columns):
            if not lat_text and not lon_text:
                continue  # generic nodes and boarding areas may have no position
            lat = _float("stops.txt", number, "stop_lat", lat_text, -90.0, 90.0)
            lon = _float("stops.txt", number, "stop_lon", lon_text, -180.0, 180.0)
            places[stop_id] = (name, lat, lon, parent)
    # a station serves the lines of its platforms
    for stop_id, (_, _, _, parent) in places.items():
        if parent and parent in places and stop_id in routes_at:
            routes_at[parent] |= routes_at[stop_id]
    stops = []
    for stop_id, (name, lat, lon, _) in places.items():
        lines = routes_at.get(stop_id)
        if not lines:
            continue
        kinds = 0
        for route in lines:
            kinds |= kind_of_route[route]
        stops.append(TransitStop(stop_id, name, lat, lon, kinds, tuple(sorted(lines))))
    if not stops:
        raise GtfsError("stops.txt: no stop is served by a bus, tram, metro, train or ferry line")
    return GtfsNetwork(stops, len({r for s in stops for r in s.routes}))
