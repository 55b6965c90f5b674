"""Resource limits of the JSON imports: nesting, string, number, key and item sizes.

ijson has no limits of its own: 40 KB nested 20,000 deep cost it 1 GB, 400 KB 18 GB. Every JSON parse of
an import now reads through :class:`app.imports.parsers.jsonguard.JsonGuard`; these tests check that the
three JSON formats and format sniffing refuse hostile files at once and in bounded memory, that normal
files parse exactly as before, and that the guard's vectorised count agrees with ``json.loads`` and with a
byte-by-byte reference scan whatever the chunk boundaries (escapes, strings and numbers cut anywhere).
"""

from __future__ import annotations

import io
import json
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.imports.parsers import (
    ImportBatch,
    ImportFormatError,
    detect_format,
    parse_file,
    parse_geojson,
    parse_google_records,
    parse_google_timeline,
)

Parser = Callable[..., Iterator[ImportBatch]]

# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


class Chunked:
    """A non-seekable binary stream handing out at most ``size`` bytes per read (the boundaries to test)."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.pos = data, size, 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = len(self.data)
        chunk = self.data[self.pos : self.pos + min(n, self.size)]
        self.pos += len(chunk)
        return chunk

    def seekable(self) -> bool:
        return False


def drain(parser: Parser, data: bytes | Any) -> tuple[list[Any], list[Any]]:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    points: list[Any] = []
    activities: list[Any] = []
    for batch in parser(stream):
        points.extend(batch.points)
        activities.extend(batch.activities)
    return points, activities


def deep_documents(depth: int) -> dict[str, tuple[Parser, bytes]]:
    """For each JSON format, a document whose first item opens ``depth`` arrays (closed properly)."""
    opened, closed = b"[" * depth, b"]" * depth
    return {
        "geojson": (parse_geojson, b'{"type":"FeatureCollection","features":' + opened + closed + b"}"),
        "records": (parse_google_records, b'{"locations":[{"a":' + opened + closed + b"}]}"),
        "timeline": (parse_google_timeline, b'{"semanticSegments":[{"a":' + opened + closed + b"}]}"),
        "sniffing": (parse_file, b'{"locations":[{"a":' + opened + closed + b"}]}"),
    }


FORMATS = ["geojson", "records", "timeline", "sniffing"]

# --------------------------------------------------------------------------------------------------
# Hostile files: refused at once, in bounded memory
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_20000_deep_nesting_is_refused_quickly(name: str) -> None:
    parser, data = deep_documents(20_000)[name]
    assert len(data) > 40_000
    started = time.perf_counter()
    with pytest.raises(ImportFormatError, match=r"nests JSON deeper than 64 levels \(at byte \d+\)"):
        drain(parser, data)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("name", FORMATS)
def test_400_kb_deep_nesting_has_bounded_memory(name: str) -> None:
    parser, data = deep_documents(200_000)[name]
    assert len(data) > 400_000
    tracemalloc.start()
    try:
        with pytest.raises(ImportFormatError, match="nests JSON deeper than 64 levels"):
            drain(parser, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"peak traced memory {peak / 2**20:.1f} MB"


def test_deep_head_is_refused_by_detect_format() -> None:
    head = (b'{"type":"FeatureCollection","features":' + b"[" * 100_000)[: 64 * 1024]
    at = reference_scan(head, item_depth=3).depth_reached[65] + 3
    started = time.perf_counter()
    with pytest.raises(
        ImportFormatError, match=rf"^the file nests JSON deeper than 64 levels \(at byte {at}\)$"
    ):
        detect_format(b"\xef\xbb\xbf" + head)  # the byte-order mark counts in the position
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("name", FORMATS)
def test_error_names_the_exact_byte(name: str) -> None:
    parser, data = deep_documents(100)[name]
    at = reference_scan(data, item_depth=3).depth_reached[65]
    with pytest.raises(ImportFormatError, match=rf"deeper than 64 levels \(at byte {at}\)$"):
        drain(parser, data)
    with pytest.raises(ImportFormatError, match=rf"deeper than 64 levels \(at byte {at + 3}\)$"):
        drain(parser, Chunked(b"\xef\xbb\xbf" + data, 7))  # the byte-order mark counts


def test_depth_64_passes_and_65_is_refused() -> None:
    def feature_with(depth: int) -> bytes:
        # collection (1) > features (2) > feature (3) > properties (4) > "deep" arrays
        inner = b"[" * (depth - 4) + b"]" * (depth - 4)
        return (
            b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"time":1714557600,'
            b'"deep":' + inner + b'},"geometry":{"type":"Point","coordinates":[-1.1,46.1]}}]}'
        )

    points, _ = drain(parse_geojson, feature_with(64))
    assert len(points) == 1
    with pytest.raises(ImportFormatError, match="GeoJSON: the file nests JSON deeper than 64 levels"):
        drain(parse_geojson, feature_with(65))


def test_huge_string_is_refused() -> None:
    big = b"x" * (2 * 2**20)
    data = (
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"' + big + b'"}}]}'
    )
    start = data.index(b'"x')
    with pytest.raises(
        ImportFormatError, match=rf"JSON string longer than 1 MiB \(starting at byte {start}\)"
    ):
        drain(parse_geojson, data)
    # a string of exactly 1 MiB (escapes counted as written) is fine
    ok = b'{"semanticSegments":[{"note":"' + b"\\n" * 2**19 + b'"}]}'
    assert drain(parse_google_timeline, ok) == ([], [])


def test_400_digit_number_is_refused() -> None:
    data = b'{"locations":[{"latitudeE7":' + b"9" * 400 + b',"longitudeE7":1,"timestampMs":"1"}]}'
    with pytest.raises(ImportFormatError, match=r"JSON number longer than 100 characters \(at byte 28\)"):
        drain(parse_google_records, data)
    timeline = b'{"rawSignals":[{"position":{"accuracyMeters":0.' + b"1" * 400 + b"}}]}"
    with pytest.raises(ImportFormatError, match="Google Timeline: the file has a JSON number longer"):
        drain(parse_google_timeline, timeline)


def test_records_long_key_and_huge_record_are_refused() -> None:
    key = b"k" * 200
    with pytest.raises(
        ImportFormatError, match=r"JSON object key longer than 128 bytes \(starting at byte 15\)"
    ):
        drain(parse_google_records, b'{"locations":[{"' + key + b'":1}]}')
    many = b",".join([b'{"a":[1,2,3]}'] * 100_000)  # one record of 1.3 MB (real ones: a few hundred bytes)
    data = b'{"locations":[{"timestampMs":"1","latitudeE7":1,"longitudeE7":1,"extra":[' + many + b"]}]}"
    with pytest.raises(
        ImportFormatError, match=r"location record .* longer than 1 MiB \(starting at byte 14\)"
    ):
        drain(parse_google_records, data)


def test_huge_single_feature_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.imports.parsers import _common

    monkeypatch.setattr(_common, "MAX_ITEM_VALUES", 1000)
    line = {
        "type": "Feature",
        "properties": {"coordTimes": [1714557600 + i for i in range(300)]},
        "geometry": {"type": "LineString", "coordinates": [[-1.1, 46.1]] * 300},
    }
    data = json.dumps({"type": "FeatureCollection", "features": [line]}).encode()
    with pytest.raises(ImportFormatError, match=r"GeoJSON: feature 0 is too large .* 1,000 JSON values"):
        drain(parse_geojson, data)
    line["geometry"]["coordinates"] = [[-1.1, 46.1]] * 200  # type: ignore[index]
    line["properties"]["coordTimes"] = line["properties"]["coordTimes"][:200]  # type: ignore[index]
    points, _ = drain(parse_geojson, json.dumps({"type": "FeatureCollection", "features": [line]}).encode())
    assert len(points) == 200  # 1 + 201 + 400 + 201 + ... values: under the limit

    monkeypatch.setattr(_common, "MAX_ITEM_CHARS", 1000)
    segment = {"startTime": "2024-05-01T10:00:00Z", "note": "n" * 2000}
    with pytest.raises(ImportFormatError, match=r"semanticSegments\[0\] is too large .* 1,000 characters"):
        drain(parse_google_timeline, json.dumps({"semanticSegments": [segment]}).encode())


def test_the_default_item_limit_admits_a_long_line() -> None:
    n = 200_000  # 55 hours at one fix a second, in one LineString feature
    line = {
        "type": "Feature",
        "properties": {"coordTimes": [1714557600 + i for i in range(n)]},
        "geometry": {"type": "LineString", "coordinates": [[-1.1 + i * 1e-6, 46.1] for i in range(n)]},
    }
    points, _ = drain(parse_geojson, json.dumps({"type": "FeatureCollection", "features": [line]}).encode())
    assert len(points) == n and points[-1].ts_s == 1714557600 + n - 1


# --------------------------------------------------------------------------------------------------
# Normal files: parsed as before
# --------------------------------------------------------------------------------------------------


def _normal_geojson() -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    for i in range(300):
        props: dict[str, Any] = {
            "time": f"2024-05-01T10:{i // 60:02d}:{i % 60:02d}Z",
            "name": f'caf\u00e9 "{i}" [{{}}] \\ \n',
            "nested": {"a": [[1, [2, [3]]], {"b": None}], "c": True},
            "accuracy": i % 30,
        }
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-1.1 + i / 1e4, 46.1]},
                "properties": props,
            }
        )
    features.append(
        {
            "type": "Feature",
            "properties": {"coordTimes": [1714560000 + j for j in range(50)]},
            "geometry": {
                "type": "LineString",
                "coordinates": [[2.3 + j / 1e4, 48.8, 35.5] for j in range(50)],
            },
        }
    )
    features.append(
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 1]]]]},
        }
    )
    return {"type": "FeatureCollection", "name": "t\\est", "features": features}


def _normal_records() -> dict[str, Any]:
    locations = []
    for i in range(300):
        rec: dict[str, Any] = {
            "latitudeE7": 461591000 + i,
            "longitudeE7": -11520000 - i,
            "accuracy": 12,
            "timestampMs": str(1714557600000 + i * 1000),
            "source": 'W\\IFI "x"',
        }
        if i % 3 == 0:
            rec["activity"] = [
                {
                    "timestampMs": str(1714557600000 + i * 1000),
                    "activity": [{"type": "ON_FOOT", "confidence": 60}],
                }
            ]
        locations.append(rec)
    return {"locations": locations}


def _normal_timeline() -> dict[str, Any]:
    segments = [
        {
            "startTime": "2024-05-01T10:00:00.000+02:00",
            "endTime": "2024-05-01T11:00:00.000+02:00",
            "timelinePath": [
                {"point": "46.1591\u00b0, -1.1520\u00b0", "time": f"2024-05-01T10:{j:02d}:00.000+02:00"}
                for j in range(20)
            ],
            "activity": {"topCandidate": {"type": "IN_PASSENGER_VEHICLE", "probability": 0.9}},
        }
        for _ in range(30)
    ]
    signals = [
        {
            "position": {
                "LatLng": "46.1\u00b0, -1.1\u00b0",
                "accuracyMeters": 5,
                "timestamp": "2024-05-01T12:00:00Z",
            }
        }
        for _ in range(30)
    ]
    return {"semanticSegments": segments, "rawSignals": signals, "userLocationProfile": {"x": [{"y": "]"}]}}


def _expected(name: str, doc: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """What the parser's own item functions make of the json.loads values: the non-streaming answer."""
    from app.imports.parsers import geojson, google
    from app.imports.parsers._common import Batcher

    if name == "geojson":
        pts = [p for i, f in enumerate(doc["features"]) for p in geojson._feature_points(f, f"feature {i}")]
        return pts, []
    if name == "records":
        pts, acts = [], []
        for i, rec in enumerate(doc["locations"]):
            point = google._record_point(rec, f"location {i}")
            if point is not None:
                pts.append(point)
            acts.extend(google._record_activities(rec, f"location {i}"))
        return pts, acts
    batcher = Batcher(10**9)
    for i, seg in enumerate(doc["semanticSegments"]):
        google._segment(seg, f"semanticSegments[{i}]", batcher)
    for i, sig in enumerate(doc["rawSignals"]):
        google._raw_signal(sig, f"rawSignals[{i}]", batcher)
    return batcher.points, batcher.activities


@pytest.mark.parametrize(
    ("name", "parser", "make"),
    [
        ("geojson", parse_geojson, _normal_geojson),
        ("records", parse_google_records, _normal_records),
        ("timeline", parse_google_timeline, _normal_timeline),
    ],
)
@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_normal_files_parse_identically(
    name: str, parser: Parser, make: Callable[[], Any], chunk: int
) -> None:
    doc = make()
    expected = _expected(name, json.loads(json.dumps(doc)))
    assert expected[0]
    for data in (
        json.dumps(doc).encode(),
        b"\xef\xbb\xbf" + json.dumps(doc, indent=1, ensure_ascii=False).encode(),
    ):
        assert drain(parser, Chunked(data, chunk)) == expected
        assert drain(parse_file, Chunked(data, chunk)) == expected


# --------------------------------------------------------------------------------------------------
# The guard itself: against json.loads and a byte-by-byte reference, across chunk boundaries
# --------------------------------------------------------------------------------------------------

NUMBER_CHARS = b"-./0123456789"


@dataclass
class Scan:
    """Every instance of each measured thing, in document order, as (start byte, length)."""

    depth_reached: dict[int, int] = field(default_factory=dict)  # depth -> byte of the first opener
    strings: list[tuple[int, int]] = field(default_factory=list)
    keys: list[tuple[int, int]] = field(default_factory=list)
    numbers: list[tuple[int, int]] = field(default_factory=list)
    items: list[tuple[int, int]] = field(default_factory=list)

    def first_over(self, what: str, limit: int) -> int | None:
        if what == "depth":
            return self.depth_reached.get(limit + 1)
        return next((start for start, length in getattr(self, what) if length > limit), None)


def reference_scan(doc: bytes, item_depth: int) -> Scan:
    """The obvious byte-by-byte JSON lexer the guard must agree with (on well-formed JSON)."""
    scan = Scan()
    depth = 0
    i = 0
    item_starts: list[int] = []
    while i < len(doc):
        c = doc[i]
        if c == 0x22:
            start, i = i, i + 1
            while doc[i] != 0x22:
                i += 2 if doc[i] == 0x5C else 1
            scan.strings.append((start, i - start - 1))
            j = i + 1
            while j < len(doc) and doc[j] in b" \t\r\n":
                j += 1
            if j < len(doc) and doc[j] == 0x3A:
                scan.keys.append((start, i - start - 1))
        elif c in NUMBER_CHARS:
            start = i
            while i + 1 < len(doc) and doc[i + 1] in NUMBER_CHARS:
                i += 1
            scan.numbers.append((start, i - start + 1))
        elif c in b"[{":
            depth += 1
            scan.depth_reached.setdefault(depth, i)
            if depth == item_depth:
                item_starts.append(i)
        elif c in b"]}":
            if depth == item_depth:
                start = item_starts.pop()
                scan.items.append((start, i - start + 1))
            depth -= 1
        i += 1
    return scan


class Members(list):  # type: ignore[type-arg]
    """A JSON object as json.loads' object_pairs_hook gives it: every (key, value), duplicates kept."""


def json_depth(doc: bytes) -> int:
    """The nesting depth of ``doc`` according to json.loads (1 for ``[]`` or ``{}``)."""

    def depth(value: Any) -> int:
        if isinstance(value, Members):
            return 1 + max((depth(v) for _, v in value), default=0)
        if isinstance(value, list):
            return 1 + max((depth(v) for v in value), default=0)
        return 0

    return depth(json.loads(doc, object_pairs_hook=Members))


@dataclass
class Generated:
    doc: bytes
    max_string: int = 0  # raw bytes between the quotes, as the generator wrote them
    max_key: int = 0
    max_number: int = 0


ALPHABET = [*'aZ 09"\\[]{}:,/-.eE+', "\u00e9", "\u20ac", "\U0001f600", "\n", "\t", "\x01", "\\\\", '\\"']


class Generator:
    """Seeded random JSON with every awkward byte: quotes, backslashes and brackets inside strings,
    escapes of every kind, long and exotic number tokens, whitespace everywhere."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.out = Generated(b"")

    def ws(self) -> str:
        return self.rng.choice(["", "", "", " ", "\n  ", "\t", "\r\n"])

    def string(self) -> str:
        rng = self.rng
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.choice([0, 1, 3, 8, 20, 60])))
        written = json.dumps(text, ensure_ascii=rng.random() < 0.5)
        if rng.random() < 0.3:
            written = written.replace("/", "\\/")
        return written

    def number(self) -> str:
        rng = self.rng
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([1, 2, 5, 17, 40, 90])))
        token = rng.choice(["", "-"]) + (digits.lstrip("0") or "0")
        if rng.random() < 0.4:
            token += "." + "".join(rng.choice("0123456789") for _ in range(rng.choice([1, 6, 30])))
        if rng.random() < 0.3:
            token += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randrange(1, 400))
        runs = [len(run) for run in token.replace("e", " ").replace("E", " ").replace("+", " ").split()]
        self.out.max_number = max(self.out.max_number, *runs)
        return token

    def value(self, depth: int) -> str:
        rng = self.rng
        kind = rng.random()
        if depth > 0 and kind < 0.3:
            items = [self.value(depth - 1) for _ in range(rng.randrange(0, 4))]
            return "[" + self.ws() + ",".join(self.ws() + v + self.ws() for v in items) + "]"
        if depth > 0 and kind < 0.6:
            members = []
            for _ in range(rng.randrange(0, 4)):
                key = self.string()
                self.out.max_key = max(self.out.max_key, len(key.encode()) - 2)
                self.out.max_string = max(self.out.max_string, len(key.encode()) - 2)
                members.append(
                    self.ws() + key + self.ws() + ":" + self.ws() + self.value(depth - 1) + self.ws()
                )
            return "{" + ",".join(members) + "}"
        if kind < 0.8:
            written = self.string()
            self.out.max_string = max(self.out.max_string, len(written.encode()) - 2)
            return written
        if kind < 0.95:
            return self.number()
        return rng.choice(["true", "false", "null"])

    def document(self) -> Generated:
        depth = self.rng.choice([1, 2, 4, 8, 14])
        body = ""
        while not body.startswith(("[", "{")):  # a container at the top, as in every import
            self.out = Generated(b"")
            body = self.value(depth)
        self.out.doc = (self.ws() + body + self.ws()).encode()
        return self.out


DOCUMENTS = [Generator(seed).document() for seed in range(300)]
CHUNKS = [1, 2, 3, 5, 8, 13, 64, 1000, 65536]


class Pieces:
    """A stream handing out the given pieces, one per read (empty ones skipped: b"" means the end)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = [p for p in pieces if p]

    def read(self, n: int = -1) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


def guard_read_all(data: bytes, chunk: int, pieces: list[bytes] | None = None, **limits: Any) -> Any:
    from app.imports.parsers.jsonguard import JsonGuard

    source = Pieces(pieces) if pieces is not None else Chunked(data, chunk)
    guard = JsonGuard(source, "T", **limits)
    out = bytearray()
    while piece := guard.read(65536):
        out += piece
    assert bytes(out) == data and guard.tell() == len(data)  # passed through unchanged
    return guard


def test_generated_documents_are_varied() -> None:
    docs = [g.doc for g in DOCUMENTS]
    assert all(json.loads(d) is not None or d.strip() == b"null" for d in docs)
    assert sum(b'\\"' in d for d in docs) > 100 and sum(b"\\\\" in d for d in docs) > 100
    assert max(json_depth(d) for d in docs) >= 10
    assert max(g.max_number for g in DOCUMENTS) > 60


@pytest.mark.parametrize("part", range(3))
def test_guard_depth_matches_json_loads(part: int) -> None:
    for i, gen in enumerate(DOCUMENTS[part::3]):
        depth = json_depth(gen.doc)
        scan = reference_scan(gen.doc, item_depth=2)
        assert max(scan.depth_reached) == depth
        # the generator's own measures agree with the reference lexer
        assert max((n for _, n in scan.strings), default=0) == gen.max_string
        assert max((n for _, n in scan.keys), default=0) == gen.max_key
        assert max((n for _, n in scan.numbers), default=0) == gen.max_number
        chunk = CHUNKS[(i * 5 + part) % len(CHUNKS)]
        limits = {
            "max_depth": depth,
            "max_string": max(gen.max_string, 1),
            "max_number": max(gen.max_number, 1),
            "max_key": max(gen.max_key, 1),
            "item_depth": 2,
            "max_item": max((n for _, n in scan.items), default=1),
        }
        guard = guard_read_all(gen.doc, chunk, **limits)  # every limit met exactly: no error
        assert guard.max_depth_seen == depth


GENEROUS = {"max_depth": 10**6, "max_string": 10**6, "max_number": 10**6, "max_key": 10**6, "max_item": 10**6}
LIMITS = {
    "depth": ("max_depth", r"nests JSON deeper than {limit} levels \(at byte {at}\)"),
    "strings": ("max_string", r"has a JSON string longer than .* \(starting at byte {at}\)"),
    "keys": ("max_key", r"has a JSON object key longer than {limit} bytes \(starting at byte {at}\)"),
    "numbers": ("max_number", r"has a JSON number longer than {limit} characters \(at byte {at}\)"),
    "items": ("max_item", r"has a JSON value longer than .* \(starting at byte {at}\)"),
}


@pytest.mark.parametrize("what", list(LIMITS))
def test_guard_refuses_one_below_the_maximum_at_the_reference_byte(what: str) -> None:
    option, message = LIMITS[what]
    checked = 0
    for i, gen in enumerate(DOCUMENTS):
        scan = reference_scan(gen.doc, item_depth=2)
        measure = {
            "depth": max(scan.depth_reached),
            "strings": gen.max_string,
            "keys": gen.max_key,
            "numbers": gen.max_number,
            "items": max((n for _, n in scan.items), default=0),
        }[what]
        limit = measure - 1
        if limit < 1:
            continue
        at = scan.first_over(what, limit)
        assert at is not None
        limits: dict[str, Any] = {**GENEROUS, "item_depth": 2, option: limit}
        chunk = CHUNKS[(i * 7 + len(what)) % len(CHUNKS)]
        with pytest.raises(ImportFormatError, match="^T: the file " + message.format(limit=limit, at=at)):
            guard_read_all(gen.doc, chunk, **limits)
        checked += 1
    assert checked > 100


TRICKY = [
    b'{"a\\"[{":["\\\\",{"\\\\\\"]}":[]}],"b":"\\u005b\\/"}',
    b'["\\\\\\\\","\\"","]",[["{"]],"x\\\\"]',
    b'{"k" : [-12.5e+3, 0.000, "9999"], "\\\\": {"": [[[]]]}}',
    b'  [ {"\xc3\xa9\xe2\x82\xac" :"\\"\\\\\\"" } , 123456789012345678901234567890 ]  ',
    b'{"'
    + b"k" * 30
    + b'" \n :["'
    + b"v" * 40
    + b'" ,{"'
    + b"x\\\\" * 20
    + b'"\t:{"'
    + b"y" * 50
    + b'":0}}]}',
]


@pytest.mark.parametrize("doc", TRICKY)
def test_guard_every_chunk_size_and_split(doc: bytes) -> None:
    json.loads(doc)
    scan = reference_scan(doc, item_depth=2)
    depth = max(scan.depth_reached)
    longest = max(n for _, n in scan.strings)
    for size in range(1, len(doc) + 1):
        assert guard_read_all(doc, size).max_depth_seen == depth
        with pytest.raises(ImportFormatError, match=rf"\(at byte {scan.first_over('depth', depth - 1)}\)"):
            guard_read_all(doc, size, max_depth=depth - 1)
        key = max((n for _, n in scan.keys), default=0)
        for limit in {n for n in (key - 1, key // 2) if n >= 1}:  # below some values too: no keys
            with pytest.raises(
                ImportFormatError, match=rf"\(starting at byte {scan.first_over('keys', limit)}\)"
            ):
                guard_read_all(doc, size, max_key=limit)
        if longest > 1:
            with pytest.raises(
                ImportFormatError, match=rf"\(starting at byte {scan.first_over('strings', longest - 1)}\)"
            ):
                guard_read_all(doc, size, max_string=longest - 1)
    for cut in range(len(doc) + 1):  # two reads, cut anywhere
        guard = guard_read_all(doc, 0, pieces=[doc[:cut], doc[cut:]])
        assert guard.max_depth_seen == depth


def test_guard_escape_across_boundaries_keeps_brackets_inside_strings() -> None:
    # "\\" then "]" closing: the backslash run parity decides whether the quote closes the string
    for run in range(0, 9):
        text = "[" + json.dumps("x" + "\\" * run + "]") + "]"
        doc = text.encode()
        for size in (1, 2, 3):
            assert guard_read_all(doc, size, max_depth=1).max_depth_seen == 1
    quoted = b'["' + b'\\"' * 5000 + b'"]'  # a cut string of escaped quotes: no quadratic rescan
    started = time.perf_counter()
    assert guard_read_all(quoted, 4096).max_depth_seen == 1
    assert time.perf_counter() - started < 1.0


def test_guard_limits_are_validated() -> None:
    from app.imports.parsers.jsonguard import JsonGuard

    for bad in ({"max_depth": 0}, {"max_string": 0}, {"max_key": 0}, {"item_depth": 0}):
        with pytest.raises(ValueError, match="at least 1"):
            JsonGuard(io.BytesIO(b""), **bad)
