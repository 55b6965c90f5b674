"""Reading a GTFS feed: stops with the kinds of service and lines calling there, and clear errors."""

from __future__ import annotations

import io
import re
import struct
import zipfile

import pytest

from app.transit import BUS, METRO, TRAIN, TRAM, GtfsError, gtfs, read_gtfs, route_kind
from tests.support.gtfs import feed_zip, line_feed, table


def test_a_line_gives_its_stops_their_kind_and_line() -> None:
    network = read_gtfs(
        io.BytesIO(line_feed([("a", 46.15, -1.15), ("b", 46.16, -1.14)], extra_stops=[("x", 46.2, -1.1)]))
    )
    assert network.routes == 1
    assert [(s.stop_id, s.kinds, s.routes) for s in network.stops] == [
        ("a", BUS, ("L1",)),
        ("b", BUS, ("L1",)),
    ]
    assert network.stops[0].lat == 46.15 and network.stops[0].name == "Stop a"


def test_stations_take_their_platforms_lines_and_several_kinds_add_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = {
        "stops.txt": table(
            ["stop_id", "stop_name", "stop_lat", "stop_lon", "location_type", "parent_station"],
            [
                ("ST", "Gare", 46.153, -1.145, 1, ""),
                ("P1", "Gare quai 1", 46.1531, -1.1451, 0, "ST"),
                ("P2", "Gare quai 2", 46.1532, -1.1452, 0, "ST"),
                ("B", "Gare bus", 46.1535, -1.1449, 0, ""),
                ("N", "Entrance", "", "", 2, "ST"),
            ],
        ),
        "routes.txt": table(["route_id", "route_type"], [("TER", 2), ("BUS1", 3), ("T", 900), ("M", 401), ("CAB", 6)]),
        "trips.txt": table(["route_id", "service_id", "trip_id"], [("TER", "S", "t1"), ("BUS1", "S", "t2"), ("CAB", "S", "t3")]),
        "stop_times.txt": table(["trip_id", "stop_id", "stop_sequence"], [("t1", "P1", 1), ("t1", "P2", 2), ("t2", "B", 1), ("t2", "P1", 2), ("t3", "B", 3)]),
    }  # fmt: skip
    path = tmp_path / "feed.zip"
    path.write_bytes(feed_zip(files, folder="gtfs/"))  # tables inside a folder are found too
    stops = {s.stop_id: s for s in read_gtfs(path).stops}
    assert set(stops) == {"ST", "P1", "P2", "B"}  # the entrance has no position; nothing calls at it
    assert stops["ST"].routes == ("BUS1", "TER") and stops["ST"].kinds == BUS | TRAIN
    assert stops["P2"].kinds == TRAIN
    assert stops["B"].routes == ("BUS1",)  # the cable car is none of our kinds
    assert (route_kind(0), route_kind(1), route_kind(109), route_kind(715), route_kind(900)) == (
        TRAM,
        METRO,
        TRAIN,
        BUS,
        TRAM,
    )


def test_a_byte_order_mark_and_spaces_in_headers_are_accepted() -> None:
    files = {
        "stops.txt": "\ufeffstop_id, stop_lat, stop_lon\r\na,46.1,-1.1\r\n",
        "routes.txt": table(["route_id", "route_type"], [("R", 3)]),
        "trips.txt": table(["route_id", "trip_id"], [("R", "t")]),
        "stop_times.txt": table(["trip_id", "stop_id"], [("t", "a")]),
    }
    (stop,) = read_gtfs(io.BytesIO(feed_zip(files))).stops
    assert stop.stop_id == "a" and stop.kinds == BUS


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.pop("stop_times.txt"), "stop_times.txt: the feed has no such file"),
        (lambda f: f.update({"stops.txt": table(["stop_id", "stop_lat"], [("a", 46.1)])}), "stops.txt: column stop_lon is missing"),
        (lambda f: f.update({"stops.txt": table(["stop_id", "stop_lat", "stop_lon"], [("a", 46.1, -1.1), ("b", 95, -1.1)])}), "stops.txt: row 3: column stop_lat is outside [-90.0, 90.0]"),
        (lambda f: f.update({"stops.txt": table(["stop_id", "stop_lat", "stop_lon"], [("a", "north", -1.1)])}), "stops.txt: row 2: column stop_lat is not a number"),
        (lambda f: f.update({"routes.txt": table(["route_id", "route_type"], [("R", "bus")])}), "routes.txt: row 2: column route_type is not an integer"),
        (lambda f: f.update({"routes.txt": table(["route_id", "route_type"], [("R", 6)])}), "no stop is served by a bus, tram, metro, train or ferry line"),
    ],
)  # fmt: skip
def test_a_bad_feed_is_refused_naming_the_file_row_and_column(mutate, message) -> None:  # type: ignore[no-untyped-def]
    files = {
        "stops.txt": table(["stop_id", "stop_lat", "stop_lon"], [("a", 46.1, -1.1)]),
        "routes.txt": table(["route_id", "route_type"], [("R", 3)]),
        "trips.txt": table(["route_id", "trip_id"], [("R", "t")]),
        "stop_times.txt": table(["trip_id", "stop_id"], [("t", "a")]),
    }
    mutate(files)
    with pytest.raises(GtfsError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        read_gtfs(io.BytesIO(feed_zip(files)))


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(GtfsError, match="not a zip archive"):
        read_gtfs(io.BytesIO(b"stop_id,stop_lat\n"))


# Hostile and damaged feeds: each is refused with a GtfsError saying where, quickly and in little memory.

_FEED = {
    "stops.txt": table(["stop_id", "stop_name", "stop_lat", "stop_lon"], [("a", "Gare", 46.1, -1.1)]),
    "routes.txt": table(["route_id", "route_type"], [("R", 3)]),
    "trips.txt": table(["route_id", "trip_id"], [("R", "t")]),
    "stop_times.txt": table(["trip_id", "stop_id"], [("t", "a")]),
}


def _zip(files: dict[str, str | bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``files``, text encoded as UTF-8 and bytes as they are."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, content in files.items():
            archive.writestr(name, content.encode() if isinstance(content, str) else content)
    return out.getvalue()


def _headers(data: bytes, member: str) -> tuple[int, int]:
    """Where a member's local header and its central directory entry start in a zip."""
    name = member.encode()
    local = next(
        m.start() for m in re.finditer(b"PK\x03\x04", data) if data[m.start() + 30 :].startswith(name)
    )
    central = next(
        m.start() for m in re.finditer(b"PK\x01\x02", data) if data[m.start() + 46 :].startswith(name)
    )
    return local, central


def _bomb(size: int) -> bytes:
    """A feed whose stop_times.txt is ``size`` bytes of one line repeated: deflate shrinks it ~400 times."""
    line = b"t,a,08:00:00,08:00:00,1\r\n"
    block = line * (1024 * 1024 // len(line))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in ("stops.txt", "routes.txt", "trips.txt"):
            archive.writestr(name, _FEED[name])
        with archive.open("stop_times.txt", "w") as member:
            member.write(b"trip_id,stop_id,arrival_time,departure_time,stop_sequence\r\n")
            for _ in range(size // len(block)):
                member.write(block)
    return out.getvalue()


def test_a_zip_bomb_is_refused_with_the_default_limits_before_it_is_inflated() -> None:
    bomb = _bomb(200 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024  # 200 MiB from about 500 KB
    with pytest.raises(
        GtfsError,
        match=r"stop_times\.txt: expands [\d,]+ times on decompression, over the limit of 200 times",
    ):
        read_gtfs(io.BytesIO(bomb))


def test_a_feed_over_the_size_limit_is_refused_before_and_while_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files: dict[str, str | bytes] = {
        **_FEED,
        "stop_times.txt": table(["trip_id", "stop_id"], [("t", "a")] * 100_000),
    }
    data = _zip(files)
    assert read_gtfs(io.BytesIO(data)).stops[0].stop_id == "a"  # 500 KB is well within the default limit
    # the sizes the zip declares are checked before reading
    with pytest.raises(
        GtfsError,
        match=r"the feed's tables take 500,\d+ bytes once decompressed, over the limit of 100,000 bytes",
    ):
        read_gtfs(io.BytesIO(data), max_bytes=100_000)
    # a directory that under-declares a table's size: zipfile stops at the declared size, and the checksum fails
    lying = bytearray(data)
    _, central = _headers(data, "stop_times.txt")
    struct.pack_into("<I", lying, central + 24, 1000)
    with pytest.raises(
        GtfsError, match=r"stop_times\.txt: the file cannot be read, the archive is damaged \(Bad CRC-32"
    ):
        read_gtfs(io.BytesIO(bytes(lying)), max_bytes=100_000)
    # and were the declared sizes believed, the bytes really decompressed are counted and stop the reading
    monkeypatch.setattr(gtfs._Feed, "_check_declared", lambda self: None)
    with pytest.raises(
        GtfsError, match=r"stop_times\.txt: the feed's tables take more than 100,000 bytes once decompressed"
    ):
        read_gtfs(io.BytesIO(data), max_bytes=100_000)
    with pytest.raises(
        GtfsError, match=r"stop_times\.txt: expands [\d,]+ times on decompression, over the limit of 200"
    ):
        read_gtfs(io.BytesIO(_bomb(16 * 1024 * 1024)))  # the ratio too, once past the 8 MiB floor


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("cp1252", "Gare de La Rochelle \u2013 Hôtel"),  # an en dash: 0x96 in cp1252
        ("latin-1", "Gare de La Rochelle · Hôtel"),  # Latin-1 has no en dash
    ],
)
def test_a_feed_in_windows_1252_or_latin_1_is_read(encoding: str, name: str) -> None:
    # 20,000 ASCII rows first, so the first byte that is not UTF-8 comes after rows already given
    rows = [(f"s{i}", f"Stop {i}", 46.1, -1.1) for i in range(20_000)]
    rows += [("Hôtel-1", name, 46.15, -1.15), ("z", "Zénith @", 46.2, -1.2)]
    raw = table(["stop_id", "stop_name", "stop_lat", "stop_lon"], rows).encode(encoding)
    files: dict[str, str | bytes] = {
        **_FEED,
        "stops.txt": raw.replace(b"@", b"\x81"),  # a byte cp1252 leaves undefined: read as Latin-1
        "stop_times.txt": table(
            ["trip_id", "stop_id"], [("t", s) for s in ("s0", "s19999", "Hôtel-1", "z")]
        ).encode(encoding),
    }
    stops = {s.stop_id: s.name for s in read_gtfs(io.BytesIO(_zip(files))).stops}
    assert stops == {"s0": "Stop 0", "s19999": "Stop 19999", "Hôtel-1": name, "z": "Zénith \x81"}


def test_a_table_whose_checksum_fails_is_refused_naming_it() -> None:
    data = _zip(dict(_FEED), zipfile.ZIP_STORED)
    assert data.count(b"a,Gare,46.1,-1.1") == 1
    # still a good table, but not the one whose checksum the zip holds
    corrupt = data.replace(b"a,Gare,46.1,-1.1", b"a,Gare,46.2,-1.1")
    with pytest.raises(
        GtfsError, match=r"stops\.txt: the file cannot be read, the archive is damaged \(Bad CRC-32"
    ):
        read_gtfs(io.BytesIO(corrupt))


def test_an_encrypted_table_is_refused_naming_it() -> None:
    data = bytearray(_zip(dict(_FEED)))
    local, central = _headers(data, "trips.txt")
    data[local + 6] |= 0x1  # the general purpose flags: bit 0 says encrypted
    data[central + 8] |= 0x1
    with pytest.raises(GtfsError, match=r"trips\.txt: the file is encrypted"):
        read_gtfs(io.BytesIO(bytes(data)))


@pytest.mark.parametrize(
    ("table_name", "content", "message"),
    [
        ("stops.txt", "stop_id,stop_name,stop_lat,stop_lon\r\na,Gare,46.1,-1.1\r\nb," + "x" * 131_073 + ",46.1,-1.1\r\n", r"stops\.txt: row 3: field larger than field limit"),
        ("stop_times.txt", "trip_id,stop_id," + "x" * 131_073 + "\r\nt,a,\r\n", r"stop_times\.txt: row 1: field larger than field limit"),
        ("stop_times.txt", "trip_id,stop_id\r\nt,a" + ",x" * 600_000 + "\r\n", r"stop_times\.txt: row 2: the row is longer than 1,048,576 characters"),
        ("stop_times.txt", "trip_id,stop_id\r\nt,a," + '"x\r\n",' * 300_000 + "\r\n", r"stop_times\.txt: row \d+: the row is longer than 1,048,576"),
    ],
)  # fmt: skip
def test_a_field_or_row_too_large_is_refused_naming_the_file_and_row(
    table_name: str, content: str, message: str
) -> None:
    with pytest.raises(GtfsError, match=message):
        read_gtfs(io.BytesIO(_zip({**_FEED, table_name: content})))


@pytest.mark.parametrize(
    ("table_name", "content", "message"),
    [
        ("stops.txt", "stop_id,stop_name,stop_lat,stop_lon\r\na\x00b,Gare,46.1,-1.1\r\n", r"stops\.txt: row 2: column stop_id contains a NUL character"),
        ("stops.txt", "stop_id,stop_name,stop_lat,stop_lon\r\na,Ga\x00re,46.1,-1.1\r\n", r"stops\.txt: row 2: column stop_name contains a NUL character"),
        ("routes.txt", "route_id,route_type\r\nR\x00,3\r\n", r"routes\.txt: row 2: column route_id contains a NUL character"),
        ("stop_times.txt", "trip_id,stop_id\r\nt,a\r\nt\x00,a\r\n", r"stop_times\.txt: row 3: column trip_id contains a NUL character"),
        ("stops.txt", "stop_id,stop_name,stop_lat,stop_lon,stop_desc\r\na,Gare,46.1,-1.1,x\x00y\r\n", None),  # a column not read
    ],
)  # fmt: skip
def test_a_nul_character_in_a_value_read_is_refused(
    table_name: str, content: str, message: str | None
) -> None:
    data = _zip({**_FEED, table_name: content})
    if message is None:
        assert read_gtfs(io.BytesIO(data)).stops[0].stop_id == "a"
        return
    with pytest.raises(GtfsError, match=message):
        read_gtfs(io.BytesIO(data))


def _patched(member: str, local_at: int | None, central_at: int, fmt: str, value: int) -> bytes:
    """The small feed's zip with one field of a member's central entry (and local header) overwritten."""
    data = bytearray(_zip(dict(_FEED)))
    local, central = _headers(data, member)
    if local_at is not None:
        struct.pack_into(fmt, data, local + local_at, value)
    struct.pack_into(fmt, data, central + central_at, value)
    return bytes(data)


def _inflate_garbage(files: dict[str, str | bytes], member: str) -> bytes:
    """A zip whose member's deflate stream starts with a block of the reserved type (zlib refuses it)."""
    data = bytearray(_zip(files))
    local, _ = _headers(data, member)
    name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
    data[local + 30 + name_length + extra_length] = 0xFF
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_zip({}), r"\.txt: the feed has no such file"),
        (_zip({k: v for k, v in _FEED.items() if k != "trips.txt"}), r"trips\.txt: the feed has no such file"),
        (b"stop_id,stop_lat\n", "not a zip archive"),
        (b"", "not a zip archive"),
        (_zip(dict(_FEED))[:300], "not a zip archive"),  # cut short
        (_zip({**{k: v for k, v in _FEED.items() if k != "stops.txt"}, "gtfs/stops.txt/": b""}), r"stops\.txt: is a folder in the feed, not a file"),
        (_inflate_garbage(dict(_FEED), "routes.txt"), r"routes\.txt: the file cannot be read, the archive is damaged"),
        (_patched("trips.txt", 8, 10, "<H", 9), r"trips\.txt: the file is compressed with method 9, which cannot be read"),  # deflate64
        (_patched("trips.txt", None, 42, "<I", 0xFFFFFF00), r"trips\.txt: the file cannot be read, the archive is damaged"),  # past the end
        (_zip({**_FEED, "stops.txt": ""}), r"stops\.txt: the file is empty"),
    ],
)  # fmt: skip
def test_an_archive_that_is_empty_incomplete_or_damaged_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(GtfsError, match=message):
        read_gtfs(io.BytesIO(data))
